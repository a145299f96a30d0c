"""Shrinking failing schedules of real programs: what explore_interleavings
finds with uniform random choices (long schedules, many switches) comes back
with the fewest preemptions the bug needs, within a fixed candidate budget,
and the shrunk schedule fails every time it is replayed."""

from __future__ import annotations

import racetrace


class State:
    pass


def _fresh() -> State:
    s = State()
    s.v = 0
    s.pad = 0
    s.seen = []
    return s


def _pad(s: State, n: int) -> None:
    for _ in range(n):
        s.pad


def assert_reproduces(f) -> None:
    """The shrunk schedule fails the same way on (at least 99 of) 100
    replays. A single replay that does not has been seen once in thousands
    of replays on a loaded machine, cause not yet found: the failure's
    ``replay_mismatches`` says how such a replay ended, so a second miss
    fails with the evidence."""
    assert f.replays == 100
    assert f.reproduced >= 99, f.replay_mismatches


# --- A lost update: needs 1 preemption ---------------------------------------


def _incrementer(s: State) -> None:
    _pad(s, 100)
    x = s.v
    _pad(s, 10)
    s.v = x + 1
    _pad(s, 100)


def test_random_lost_update_shrinks_to_one_preemption_within_100_candidates() -> None:
    r = racetrace.explore_interleavings(
        _fresh,
        [_incrementer, _incrementer],
        lambda s: s.v == 2,
        strategy="random",
        seed=11,
        max_attempts=200,
        reproduce_on_failure=100,
    )
    assert not r.property_holds, r.stopped_because
    sh = r.stats["shrink"]
    # What random found: hundreds of steps, dozens of switches.
    assert sh["original_switches"] >= 24, sh
    assert len(racetrace_steps(sh["executed"])) >= 400
    assert sh["preemptions"] == 1, sh
    assert sh["candidates_run"] <= 100, sh
    f = r.failures[0]
    assert f.schedule == sh["schedule"]
    assert_reproduces(f)


# --- A bug needing 3 preemptions ---------------------------------------------
#
# thread-2 reads v three times and fails only if it saw 0, 1, 2 in that
# order: r1 < w1 < r2 < w2 < r3 with thread-1's two writes, so the run has to
# switch thread-2 -> thread-1 -> thread-2 -> thread-1 away from a thread that
# could go on, three times (the last switch back comes when thread-1 is done).


def _writer(s: State) -> None:
    _pad(s, 60)
    s.v = 1
    _pad(s, 60)
    s.v = 2


def _observer(s: State) -> None:
    _pad(s, 25)
    a = s.v
    _pad(s, 60)
    b = s.v
    _pad(s, 60)
    c = s.v
    assert (a, b, c) != (0, 1, 2), "saw every step of the writer"


def test_a_bug_needing_three_preemptions_shrinks_to_three() -> None:
    r = racetrace.explore_interleavings(
        _fresh,
        [_writer, _observer],
        lambda s: True,
        strategy="random",
        seed=5,
        max_attempts=200,
        reproduce_on_failure=100,
    )
    assert not r.property_holds, r.stopped_because
    sh = r.stats["shrink"]
    assert sh["original_switches"] >= 24, sh
    assert sh["preemptions"] == 3, sh
    assert sh["candidates_run"] <= 100, sh
    assert_reproduces(r.failures[0])


def racetrace_steps(text: str) -> list[int]:
    """Expands an ``rts1:`` schedule text (``a*n`` runs)."""
    out: list[int] = []
    for part in text.split(":", 1)[1].split(","):
        if part:
            a, _, n = part.partition("*")
            out += [int(a)] * int(n or 1)
    return out


def test_explore_dpor_shrinks_before_it_explains() -> None:
    r = racetrace.explore_dpor(_fresh, [_incrementer, _incrementer], lambda s: s.v == 2, reproduce_on_failure=5)
    assert not r.property_holds
    sh = r.stats["shrink"]
    assert sh["preemptions"] == 1 and sh["candidates_run"] <= 100, sh
    assert r.failures[0].schedule == sh["schedule"]
    assert r.failures[0].reproduced == 5


def test_shrinking_a_schedule_that_does_not_fail_says_so() -> None:
    import pytest

    from racetrace import _native

    def passes(candidate: str) -> tuple:
        return ("pass", "", "", "", [], 0)

    with pytest.raises(ValueError, match="nothing to shrink"):
        _native.shrink_schedule("rts1:0*3,1", passes)
