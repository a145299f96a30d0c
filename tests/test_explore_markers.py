"""explore_markers on real programs: it runs every order of the actors'
marker sequences (checked against a brute-force count of the orders), each
order really runs as written (the marked lines execute in the order the
schedule implies), and the failing orders are exactly those a simulation of
the program says fail.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable

import pytest

import racetrace
from racetrace import _native
from racetrace.runs import run_options, run_threads
from racetrace.schedules import count_interleavings, interleavings


class Log:
    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.balance = 0
        self.lock = threading.Lock()


def three_marks(name: str) -> Callable[[Log], None]:
    def body(s: Log) -> None:
        s.log.append((name, "a"))  # racetrace: a
        s.log.append((name, "b"))  # racetrace: b
        s.log.append((name, "c"))  # racetrace: c

    return body


def one_mark(name: str) -> Callable[[Log], None]:
    def body(s: Log) -> None:
        s.log.append((name, "a"))  # racetrace: a

    return body


def brute_force_orders(lengths: dict[str, int]) -> set[tuple[str, ...]]:
    """Every distinct arrangement of the multiset of actor names (each as
    many times as it has entries), by enumerating all permutations."""
    items = [n for n, k in lengths.items() for _ in range(k)]
    return set(itertools.permutations(items))


def executed_order(order: list[str], seqs: dict[str, list[str]]) -> list[tuple[str, str]]:
    """The order the marked lines run in, for a marker order given as the
    actor of each entry: an actor's k-th marked line runs when it is let go
    for its (k+1)-th entry (the entry after the marker it waits at)."""
    seen = dict.fromkeys(seqs, 0)
    out = []
    for actor in order:
        k = seen[actor]
        if k > 0:
            out.append((actor, seqs[actor][k - 1]))
        seen[actor] = k + 1
    return out


@pytest.mark.parametrize(
    "actors",
    [
        {"alice": three_marks, "bob": one_mark},
        {"alice": three_marks, "bob": three_marks},
        {"alice": one_mark, "bob": one_mark, "carol": one_mark},
        {"alice": three_marks, "bob": one_mark, "carol": one_mark},
    ],
)
def test_every_order_of_the_markers_runs_once_and_as_written(
    actors: dict[str, Callable[[str], Callable[[Log], None]]],
) -> None:
    fns = {name: make(name) for name, make in actors.items()}
    seqs = {name: ["a", "b", "c"] if make is three_marks else ["a"] for name, make in actors.items()}
    orders: list[list[str]] = []
    runs: list[list[tuple[str, str]]] = []

    def check(s: Log) -> bool:
        runs.append(list(s.log))
        return True

    r = racetrace.explore_markers(Log, fns, check, stop_on_first=False)
    lengths = {n: len(s) + 1 for n, s in seqs.items()}  # each sequence ends in `end`
    expected = brute_force_orders(lengths)
    assert r.num_explored == len(expected) == count_interleavings(list(lengths.values()))
    assert r.exhausted and r.property_holds, r.explanation
    assert r.stats["sequences"] == {n: [*s, "end"] for n, s in seqs.items()}
    # The first run found the sequences; the others are the orders, in the
    # order interleavings() lists them: fewest switches between actors first.
    listed = interleavings(r.stats["sequences"])
    orders = [[s.actor for s in o] for o in listed]
    switches = [sum(a != b for a, b in zip(o, o[1:], strict=False)) for o in orders]
    assert switches == sorted(switches)
    assert {tuple(o) for o in orders} == expected
    assert runs[1:] == [executed_order(o, seqs) for o in orders]


def deposit(s: Log) -> None:
    balance = s.balance  # racetrace: read
    s.balance = balance + 1  # racetrace: write


def lost_update(order: list[str]) -> bool:
    """Simulation of two deposits: a read runs at its actor's `write`
    entry, a write at its `end` entry."""
    balance = 0
    local: dict[str, int] = {}
    seen = {"alice": 0, "bob": 0}
    for actor in order:
        k = seen[actor]
        if k == 1:
            local[actor] = balance
        elif k == 2:
            balance = local[actor] + 1
        seen[actor] += 1
    return balance != 2


def test_the_failing_orders_are_those_that_lose_an_update() -> None:
    actors = {"alice": deposit, "bob": deposit}
    r = racetrace.explore_markers(Log, actors, lambda s: s.balance == 2, stop_on_first=False, reproduce_on_failure=3)
    assert r.num_explored == math.comb(6, 3)
    failing = {tuple(s.split(":")[0] for s in o) for o in r.stats["marker_schedules"]}
    every = {tuple(o) for o in brute_force_orders({"alice": 3, "bob": 3})}
    assert failing == {o for o in every if lost_update(list(o))}
    assert len(failing) == len(r.failures) > 0
    assert r.failures[0].reproduced == r.failures[0].replays == 3
    assert "as a marker schedule" in r.explanation


def test_stop_on_first_and_the_failing_marker_schedule_replays() -> None:
    actors = {"alice": deposit, "bob": deposit}
    progress: list[tuple[int, int]] = []
    r = racetrace.explore_markers(
        Log, actors, lambda s: s.balance == 2, on_progress=lambda d, t: progress.append((d, t))
    )
    assert not r.property_holds and len(r.failures) == 1
    assert r.stopped_because == "stopped at the first failure" and not r.exhausted
    assert progress == [(i, 20) for i in range(1, r.num_explored + 1)]
    # Orders with fewer switches run first: the failure is one of the
    # simplest, alice preempted once between her read and her write.
    assert r.stats["marker_schedules"][0] == [
        "alice:read#1", "alice:write#1", "bob:read#1", "bob:write#1", "bob:end", "alice:end",
    ]
    schedule = r.stats["marker_schedules"][0]
    for _ in range(10):
        again = racetrace.run_schedule(Log, actors, schedule, lambda s: s.balance == 2)
        assert again.failed


def locked_deposit(s: Log) -> None:
    with s.lock:
        balance = s.balance  # racetrace: read
        s.balance = balance + 1


def test_a_correct_program_passes_and_orders_it_cannot_take_are_counted() -> None:
    actors = {"alice": locked_deposit, "bob": locked_deposit}
    r = racetrace.explore_markers(Log, actors, lambda s: s.balance == 2, stop_on_first=False)
    assert r.property_holds, r.explanation
    # [alice:read, bob:read, ...]: bob blocks on the lock alice holds.
    assert r.num_explored == math.comb(4, 2)
    assert r.stats["blocked"] == 4
    assert r.exhausted, r.limits


def test_the_failure_trace_replays_without_the_markers() -> None:
    # The trace of a marker run has the markers' scheduling points; read as
    # something to replay, it skips them: its schedule replays the same
    # lost update every time through an ordinary controlled run, with no
    # marker anywhere.
    actors = {"alice": deposit, "bob": deposit}
    r = racetrace.explore_markers(Log, actors, lambda s: s.balance == 2, reproduce_on_failure=1)
    trace = r.failures[0].trace
    assert trace is not None
    # The run passed four markers (each actor's read and write): four steps
    # of its schedule that the trace's replay does without.
    _, with_markers, _ = _native.replay_source(r.failures[0].schedule)
    text, count, _ = _native.replay_source(trace)
    assert count == with_markers - 4
    steps, _program, _outcome = _native.trace_steps(trace)
    assert len(steps) == count and not [st for st in steps if st[2] == "yield"]
    opts = run_options(5.0, 10.0, 10_000, (), ())
    for _ in range(10):
        res, failure = run_threads(
            Log, [deposit, deposit], lambda s: s.balance == 2, api="test", schedule=text, trace=None, **opts
        )
        assert failure is not None and failure.kind == "invariant violation", res.message
