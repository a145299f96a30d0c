"""``timeout_per_run`` is a wall-clock limit on each execution, enforced by
the control loop whatever the actors do: two threads that keep taking steps
and never block (which ``deadlock_timeout`` cannot catch: steps keep
happening) are stopped within the limit, with a message that says so and
where each actor was; a normal run is not affected."""

from __future__ import annotations

import time

import pytest

import racetrace


class Flag:
    def __init__(self) -> None:
        self.stop = False
        self.n = 0


def spin(s: Flag) -> None:
    while not s.stop:
        s.n += 1


def finish(s: Flag) -> None:
    s.n += 1


def spin_once(s: Flag) -> None:
    s.stop = True


def test_a_run_that_never_ends_is_stopped_at_timeout_per_run() -> None:
    started = time.monotonic()
    # (Random exploration: ending a DPOR execution of ~10^5 steps costs
    # seconds of race analysis, which is not what is measured here.)
    res = racetrace.explore_interleavings(
        Flag,
        [spin, spin],
        lambda s: True,
        max_attempts=1,
        seed=1,
        timeout_per_run=0.3,
        max_steps=10**9,
        deadlock_timeout=30.0,
        reproduce_on_failure=0,
        shrink=False,
    )
    elapsed = time.monotonic() - started
    assert res.failures, res.explanation
    failure = res.failures[0]
    assert failure.kind == "timeout"
    assert "took more than 0.300 s (timeout_per_run)" in failure.message
    assert "T1 (thread-1) at " in failure.message
    # The one run stopped at the limit (it would spin for ever otherwise).
    assert res.num_explored == 1
    assert elapsed < 10, elapsed


def test_a_normal_run_is_not_stopped() -> None:
    res = racetrace.explore_dpor(Flag, [finish, spin_once], lambda s: s.n == 1, timeout_per_run=5.0)
    assert not res.failures and res.exhausted


@pytest.mark.parametrize("bad", [0, -1.0, float("inf")])
def test_timeout_per_run_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="timeout_per_run must be a positive number"):
        racetrace.explore_dpor(Flag, [finish], lambda s: True, timeout_per_run=bad)
