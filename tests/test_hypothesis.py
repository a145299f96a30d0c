"""racetrace.hypothesis: Hypothesis finds a lost update through drawn
schedules, and because a drawn schedule replays deterministically its
shrinking is reliable: the same smallest schedule in every search."""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, example, given, settings  # noqa: E402

import racetrace  # noqa: E402
from racetrace.hypothesis import (  # noqa: E402
    decode_choices,
    encode_choices,
    marker_schedules,
    run,
    schedules,
)


class Account:
    def __init__(self) -> None:
        self.balance = 0


def deposit(acct: Account) -> None:
    balance = acct.balance  # racetrace: hread
    acct.balance = balance + 1  # racetrace: hwrite


def both(acct: Account) -> bool:
    return acct.balance == 2


ACTORS = {"alice": deposit, "bob": deposit}
SETTINGS = settings(
    max_examples=300, database=None, deadline=None, suppress_health_check=list(HealthCheck), print_blob=False
)


def smallest_failing() -> str:
    return hypothesis.find(schedules(ACTORS), lambda s: run(Account, ACTORS, both, s).failed, settings=SETTINGS)


def test_schedules_find_the_lost_update_and_shrink_it_the_same_way_every_time() -> None:
    found = {smallest_failing() for _ in range(20)}
    assert len(found) == 1, found
    (text,) = found
    r = run(Account, ACTORS, both, text)
    assert r.failed and r.failure is not None and r.failure.kind == "invariant violation"
    # One preemption: alice is preempted after her read; bob reads and writes.
    assert r.run.preemptions == 1, r.explanation
    assert text in r.explanation
    # Any one choice fewer passes: nothing smaller fails.
    choices = decode_choices(text)
    for i, c in enumerate(choices):
        if c:
            smaller = choices[:i] + [0] + choices[i + 1 :]
            assert run(Account, ACTORS, both, encode_choices(smaller)).property_holds, (text, i)
    for _ in range(10):
        assert run(Account, ACTORS, both, text).failed


def test_choice_text_round_trips_and_bad_text_is_refused() -> None:
    assert encode_choices([0, 0, 1, 1, 1, 0, 2, 0, 0]) == "choices:0*2,1*3,0,2"
    assert decode_choices("choices:0*2,1*3,0,2") == [0, 0, 1, 1, 1, 0, 2]
    assert encode_choices([]) == "choices:" and decode_choices("choices:") == []
    with pytest.raises(ValueError, match="malformed item 'x'"):
        decode_choices("choices:1,x")


def test_a_reported_schedule_reproduces_with_example() -> None:
    text = smallest_failing()
    outcomes: list[bool] = []

    @settings(max_examples=1, database=None, deadline=None, phases=[hypothesis.Phase.explicit])
    @example(schedule=text)
    @given(schedule=schedules(ACTORS))
    def check(schedule: str) -> None:
        outcomes.append(run(Account, ACTORS, both, schedule).failed)

    check()
    assert outcomes == [True]


def test_the_failing_example_is_reported_with_its_replay_call() -> None:
    @settings(SETTINGS, max_examples=200)
    @given(schedule=schedules(ACTORS))
    def check(schedule: str) -> None:
        r = run(Account, ACTORS, both, schedule)
        assert r.property_holds

    with pytest.raises(AssertionError) as e:
        check()
    # Hypothesis reports the shrunk example and the notes of its last run
    # on the exception.
    notes = "\n".join(getattr(e.value, "__notes__", []))
    assert "schedule='choices:0*5,1'" in notes, notes
    assert "replay: racetrace.hypothesis.run(setup, actors, invariant, 'choices:0*5,1')" in notes, notes


def test_marker_schedules_find_both_reads_first() -> None:
    found = hypothesis.find(
        marker_schedules(Account, ACTORS),
        lambda order: run(Account, ACTORS, both, order).failed,
        settings=SETTINGS,
    )
    # Shrunk towards alice first: she reads, then bob reads.
    assert found == ["alice:hread#1", "alice:hwrite#1", "bob:hread#1", "bob:hwrite#1", "alice:end", "bob:end"]
    assert racetrace.run_schedule(Account, ACTORS, found, both).failed
