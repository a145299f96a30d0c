"""explore_interleavings (PCT and uniform random) on real Python programs
under real control, and shrinking what they find."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import racetrace


class State:
    pass


def _fresh() -> State:
    s = State()
    s.v = 0
    s.pad = 0
    return s


# --- A depth-2 bug among ~1,000 scheduling points ---------------------------
#
# thread-1 reads v, then does PAD visible reads, then writes v + 1; thread-2
# does PAD reads, then increments v. The update is lost only when all of
# thread-2's increment falls inside thread-1's window: two ordering
# constraints (a depth-2 bug). PCT hits it when thread-1 has the higher
# priority and its one change point falls in the window.

PAD = 480


def _slow_reader(s: State) -> None:
    x = s.v
    for _ in range(PAD):
        s.pad
    s.v = x + 1


def _late_incrementer(s: State) -> None:
    for _ in range(PAD):
        s.pad
    s.v += 1


def _both_counted(s: State) -> bool:
    return s.v == 2


@pytest.mark.parametrize("seed", range(10))
def test_pct_finds_a_depth_2_bug_among_1000_scheduling_points(seed: int) -> None:
    r = racetrace.explore_interleavings(
        _fresh,
        [_slow_reader, _late_incrementer],
        _both_counted,
        strategy="pct",
        depth=2,
        seed=seed,
        max_attempts=1000,
        shrink=False,
        reproduce_on_failure=1,
    )
    assert not r.property_holds, r.stopped_because
    assert r.stats["longest_run"] >= 950
    assert r.num_explored <= 1000
    assert f"seed={seed}" in r.explanation


# --- Determinism ------------------------------------------------------------


def _safe_a(s: State) -> None:
    for _ in range(20):
        s.pad
    s.v = 1


def _safe_b(s: State) -> None:
    for _ in range(20):
        s.pad


@pytest.mark.parametrize("strategy", ["pct", "random"])
def test_the_same_seed_gives_the_same_schedules(strategy: str) -> None:
    def digest(seed: int) -> str:
        r = racetrace.explore_interleavings(
            _fresh, [_safe_a, _safe_b], lambda s: s.v == 1, strategy=strategy, seed=seed, max_attempts=15
        )
        assert r.property_holds and r.num_explored == 15
        assert r.stats["seed"] == seed
        return r.stats["schedules_digest"]

    assert digest(3) == digest(3)
    assert digest(3) != digest(4)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="strategy"):
        racetrace.explore_interleavings(_fresh, [_safe_a], lambda s: True, strategy="dfs")
    with pytest.raises(ValueError, match="depth"):
        racetrace.explore_interleavings(_fresh, [_safe_a], lambda s: True, depth=0)
    with pytest.raises(TypeError, match="threads"):
        racetrace.explore_interleavings(_fresh, _safe_a, lambda s: True)


# --- Errors name the explorer that found the failure ------------------------

EXPLORERS = {"explore_dpor": racetrace.explore_dpor, "explore_interleavings": racetrace.explore_interleavings}


def _setup_once() -> Callable[[], State]:
    """A setup for the first execution only: later ones (replays, shrink
    candidates) raise."""
    calls = []

    def setup() -> State:
        calls.append(None)
        if len(calls) > 1:
            raise KeyError("setup again")
        return _fresh()

    return setup


@pytest.mark.parametrize("api", EXPLORERS)
def test_a_bad_invariant_is_named_by_its_explorer(api: str) -> None:
    with pytest.raises(TypeError, match=f"^{api}: invariant must return a bool, it returned int"):
        EXPLORERS[api](_fresh, [_safe_b], lambda s: s.v)


@pytest.mark.parametrize("api", EXPLORERS)
def test_the_replays_of_a_failure_run_as_the_explorer_that_found_it(api: str) -> None:
    r = EXPLORERS[api](_setup_once(), [_safe_b], lambda s: False, shrink=False, reproduce_on_failure=1)
    [f] = r.failures
    assert f.trace is None and f.replays == 1 and f.reproduced == 0
    assert f.replay_mismatches == [f"the traced replay raised SetupError: {api}: setup raised KeyError: 'setup again'"]


@pytest.mark.parametrize("api", EXPLORERS)
def test_a_failure_is_shrunk_as_the_explorer_that_found_it(api: str) -> None:
    with pytest.raises(racetrace.explore.SetupError, match=f"^{api}: setup raised KeyError"):
        EXPLORERS[api](_setup_once(), [_safe_a, _safe_b], lambda s: False, shrink=True)


@pytest.mark.parametrize("api", EXPLORERS)
def test_on_progress_must_be_callable(api: str) -> None:
    with pytest.raises(TypeError, match=f"^{api}: on_progress must be callable, not int$"):
        EXPLORERS[api](_fresh, [_safe_b], lambda s: True, on_progress=42)
