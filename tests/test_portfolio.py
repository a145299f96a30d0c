"""explore_interleavings' default strategy, the portfolio (uniform random,
PCT at depths 1 to 3 counting shared-state steps, iterative preemption
bounding), on bugs that need three preemptions; the same results with
worker processes, and shards that together run every attempt once.

Worker processes import the test by name: the programs are module-level.
"""

from __future__ import annotations

import pytest

import racetrace
from racetrace.portfolio import LANES, lane_of, pb_slot

# --------------------------------------------------------------------------
# Three bugs that need three preemptions (explore_dpor with
# preemption_bound=2 does not find them, with 3 it does).


class PingPong:
    def __init__(self) -> None:
        self.a = 0
        self.b = 0
        self.hit = False


def ping(s: PingPong) -> None:
    s.a = 1
    if s.b == 1:
        s.a = 2
        if s.b == 2:
            s.hit = True


def pong(s: PingPong) -> None:
    if s.a == 1:
        s.b = 1
        if s.a == 2:
            s.b = 2


def not_hit(s: PingPong | Relay) -> bool:
    return not s.hit


class Pair:
    def __init__(self) -> None:
        self.lo = 0
        self.hi = 0
        self.seen = [0, 0, 0, 0]


def pair_writer(p: Pair) -> None:
    p.lo = 1
    p.hi = 1
    p.lo = 2
    p.hi = 2


def pair_reader(p: Pair) -> None:
    a = p.lo
    b = p.hi
    c = p.lo
    d = p.hi
    p.seen = [a, b, c, d]


def never_torn_twice(p: Pair) -> bool:
    # lo ahead of hi at two different versions
    return p.seen != [1, 0, 2, 1]


class Relay:
    def __init__(self) -> None:
        self.q: list[int] = []
        self.hit = False


def relay_a(s: Relay) -> None:
    s.q.append(1)
    if len(s.q) == 2:
        s.q.append(3)
        if len(s.q) == 4:
            s.hit = True


def relay_b(s: Relay) -> None:
    if len(s.q) == 1:
        s.q.append(2)
        if len(s.q) == 3:
            s.q.append(4)


BUGS = {
    "ping-pong": (PingPong, [ping, pong], not_hit),
    "torn-twice": (Pair, [pair_writer, pair_reader], never_torn_twice),
    "relay": (Relay, [relay_a, relay_b], not_hit),
}


def _quick(**kw):
    return {"shrink": False, "reproduce_on_failure": 1, "progress": False, **kw}


@pytest.mark.parametrize("name", sorted(BUGS))
def test_each_bug_needs_three_preemptions(name: str) -> None:
    setup, threads, invariant = BUGS[name]
    for bound in (0, 1, 2):
        r = racetrace.explore_dpor(setup, threads, invariant, preemption_bound=bound, **_quick())
        assert r.property_holds, (bound, r.explanation)
    r = racetrace.explore_dpor(setup, threads, invariant, preemption_bound=3, **_quick())
    assert not r.property_holds


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", sorted(BUGS))
def test_the_default_strategy_finds_depth_3_bugs_within_500_attempts(name: str, seed: int) -> None:
    setup, threads, invariant = BUGS[name]
    r = racetrace.explore_interleavings(setup, threads, invariant, max_attempts=500, seed=seed, **_quick())
    assert not r.property_holds, r.explanation
    assert r.num_explored <= 500
    assert r.stats["strategy"] == "portfolio"
    found_by = r.stats["found_by"]
    assert found_by in ("random", "pct1", "pct2", "pct3", "pb0", "pb1", "pb2", "pb3")
    # The explanation says which strategy found it, at which attempt.
    assert f"at attempt {r.num_explored}" in r.explanation
    assert "attempt; the same seed finds it again" in r.explanation


def test_the_same_seed_gives_the_same_attempts() -> None:
    setup, threads, invariant = BUGS["torn-twice"]
    runs = [
        racetrace.explore_interleavings(setup, threads, invariant, max_attempts=500, seed=3, **_quick())
        for _ in range(2)
    ]
    assert runs[0].num_explored == runs[1].num_explored
    assert runs[0].stats["schedules_digest"] == runs[1].stats["schedules_digest"]
    assert runs[0].failures[0].schedule == runs[1].failures[0].schedule


def test_preemption_bounding_alone_enumerates_by_bound() -> None:
    setup, threads, invariant = BUGS["ping-pong"]
    # Bounds 0, 1, 2 hold 1 + 3 + 4 executions here; bound 3 finds it.
    r = racetrace.explore_interleavings(setup, threads, invariant, strategy="pb", seed=0, **_quick())
    assert not r.property_holds
    assert r.stats["found_by"] == "pb3"
    assert r.num_explored <= 12
    assert "preemption bounding (CHESS), at most 3 preemption(s)" in r.explanation


def test_strategy_selects_one() -> None:
    setup, threads, invariant = BUGS["ping-pong"]
    r = racetrace.explore_interleavings(setup, threads, invariant, strategy="random", seed=2, **_quick())
    assert r.stats["found_by"] == "random"
    with pytest.raises(ValueError, match="portfolio, pct, random, pb"):
        racetrace.explore_interleavings(setup, threads, invariant, strategy="chess")


def test_lanes_cycle_and_pb_slots() -> None:
    lanes = [lane_of("portfolio", 3, a) for a in range(16)]
    assert lanes[:8] == list(LANES) and lanes[8:] == list(LANES)
    assert [lane_of("portfolio", 2, a) for a in range(8)].count("pct2") == 2
    pb = [a for a in range(16) if lanes[a] == "pb"]
    assert [pb_slot("portfolio", a) for a in pb] == list(range(len(pb)))


# --------------------------------------------------------------------------
# Workers and shards


@pytest.mark.parametrize("name", ["ping-pong", "torn-twice"])
def test_workers_find_the_same_failure_at_the_same_attempt(name: str) -> None:
    setup, threads, invariant = BUGS[name]
    one = racetrace.explore_interleavings(setup, threads, invariant, max_attempts=500, seed=1, **_quick())
    two = racetrace.explore_interleavings(setup, threads, invariant, max_attempts=500, seed=1, workers=2, **_quick())
    assert two.stats["workers"] == 2
    assert (two.num_explored, two.stats["found_by"]) == (one.num_explored, one.stats["found_by"])
    assert two.failures[0].kind == one.failures[0].kind
    assert two.stats["schedules_digest"] == one.stats["schedules_digest"]
    assert two.explanation.splitlines()[0] == one.explanation.splitlines()[0]


class Counter:
    def __init__(self) -> None:
        self.n = 0


def locked_incr(c: Counter) -> None:
    c.n += 0  # reads and writes, never loses anything


def holds(c: Counter) -> bool:
    return c.n == 0


def test_workers_without_failure_run_every_attempt_like_one_process() -> None:
    one = racetrace.explore_interleavings(Counter, [locked_incr] * 3, holds, max_attempts=60, seed=9, **_quick())
    two = racetrace.explore_interleavings(
        Counter, [locked_incr] * 3, holds, max_attempts=60, seed=9, workers=2, **_quick()
    )
    assert one.property_holds and two.property_holds
    assert one.num_explored == two.num_explored == 60
    assert one.stats["schedules_digest"] == two.stats["schedules_digest"]


def test_shards_run_every_attempt_once() -> None:
    whole = racetrace.explore_interleavings(Counter, [locked_incr] * 3, holds, max_attempts=50, seed=4, **_quick())
    parts = [
        racetrace.explore_interleavings(
            Counter, [locked_incr] * 3, holds, max_attempts=50, seed=4, shard=(i, 3), **_quick()
        )
        for i in range(3)
    ]
    assert [p.num_explored for p in parts] == [17, 17, 16]
    assert sum(p.num_explored for p in parts) == whole.num_explored == 50


def test_a_shard_finds_the_failure_of_its_attempts() -> None:
    setup, threads, invariant = BUGS["ping-pong"]
    whole = racetrace.explore_interleavings(setup, threads, invariant, max_attempts=500, seed=0, **_quick())
    attempt = whole.num_explored - 1  # numbered from 0
    n = 4
    mine = racetrace.explore_interleavings(
        setup, threads, invariant, max_attempts=500, seed=0, shard=(attempt % n, n), **_quick()
    )
    assert not mine.property_holds
    assert mine.stats["found_by"] == whole.stats["found_by"]
    assert mine.failures[0].schedule == whole.failures[0].schedule
