"""Randomized exploration: ``racetrace.explore_interleavings``.

When the space of interleavings is too large to enumerate (``explore_dpor``),
sample it: each attempt is one controlled execution whose choices come from
a seeded strategy, either PCT (random actor priorities with ``depth - 1``
priority change points, which finds any bug needing ``depth`` ordering
constraints with a probability that does not shrink with the number of
interleavings) or uniform random choices at every scheduling point.

Attempt ``i`` of an exploration with seed ``s`` uses a seed derived from
``(s, i)`` only, so the same seed replays the same attempts in the same
order. The result has the shape of ``explore_dpor``'s.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from racetrace.control import DEFAULT_DEADLOCK_TIMEOUT
from racetrace.explain_failure import explain
from racetrace.results import ExploreResult, Failure
from racetrace.runs import Limits, S, check_callable, check_test, reproduce, run_options, run_threads
from racetrace.shrinking import shrink_failure

STRATEGIES = ("pct", "random")
#: PCT's step estimate before any run has been seen.
_FIRST_K = 100
_MASK = (1 << 64) - 1


def _attempt_seed(seed: int, attempt: int) -> int:
    """splitmix64 of (seed, attempt): independent-looking seeds per attempt
    that depend on nothing else."""
    z = (seed + (attempt + 1) * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _check(strategy: str, depth: int, max_attempts: int) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"explore_interleavings: strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    if depth < 1:
        raise ValueError("explore_interleavings: depth must be >= 1")
    if max_attempts < 1:
        raise ValueError("explore_interleavings: max_attempts must be >= 1")


def explore_interleavings(
    setup: Callable[[], S],
    threads: Sequence[Callable[[S], object]],
    invariant: Callable[[S], bool],
    *,
    max_attempts: int = 200,
    seed: int | None = None,
    strategy: str = "pct",
    depth: int = 3,
    deadlock_timeout: float = DEFAULT_DEADLOCK_TIMEOUT,
    timeout_per_run: float | None = 10.0,
    total_timeout: float | None = None,
    on_progress: Callable[[int, int], object] | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    shrink: bool = True,
    max_shrink_candidates: int = 100,
    reproduce_on_failure: int = 10,
    max_steps: int = 100_000,
    explore_timeouts: bool = True,
) -> ExploreResult:
    """Runs ``threads`` (each called with ``setup()``'s fresh state) under up
    to ``max_attempts`` sampled interleavings, checking ``invariant(state)``
    after each, and stops at the first failure.

    ``strategy``: ``"pct"`` (with ``depth``: the number of ordering
    constraints the bugs it aims at need) or ``"random"``. ``seed`` makes the
    exploration reproducible (a random one is drawn, and reported in
    ``stats["seed"]`` and the explanation, when None). A failing schedule is
    shrunk to the fewest preemptions before it is explained (``shrink``).
    ``on_progress(attempts, max_attempts)`` is called after each attempt; if
    it raises, exploration stops with a partial result.

    ``explore_timeouts``: now and then (one choice in 8 where one could) a
    blocked timed wait times out although another actor could go on, as
    under load; else timeouts expire only when no actor can go on.
    ``max_steps`` ends an execution that runs longer (a poll loop),
    reported in ``limits``.
    """
    fns: Sequence[Callable[[S], object]] = check_test("explore_interleavings", setup, threads, invariant)
    _check(strategy, depth, max_attempts)
    if on_progress is not None:
        check_callable("explore_interleavings", "on_progress", on_progress)
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little") >> 1
    common = run_options(deadlock_timeout, timeout_per_run, max_steps, include, exclude, explore_timeouts)
    limits = Limits(max_steps, explore_timeouts)
    started = time.monotonic()
    failures: list[Failure] = []
    attempts = 0
    longest = 0
    digest = hashlib.sha256()
    stopped: str | None = None
    while attempts < max_attempts:
        if total_timeout is not None and time.monotonic() - started > total_timeout:
            stopped = f"total_timeout ({total_timeout} s) reached"
            break
        s = _attempt_seed(seed, attempts)
        pct = (s, depth, longest or _FIRST_K) if strategy == "pct" else None
        try:
            res, failure = run_threads(
                setup,
                fns,
                invariant,
                api="explore_interleavings",
                schedule=None,
                trace=None,
                seed=s if pct is None else None,
                pct=pct,
                **common,
            )
        except KeyboardInterrupt:
            stopped = "interrupted (KeyboardInterrupt)"
            break
        attempts += 1
        limits.add(res, attempts)
        longest = max(longest, res.steps)
        digest.update(res.schedule.encode() + b"\n")
        if failure is not None:
            failure.execution = attempts
            failures.append(failure)
            stopped = "stopped at the first failure"
            break
        if on_progress is not None:
            try:
                on_progress(attempts, max_attempts)
            except Exception as e:  # noqa: BLE001 - the caller asked to stop
                stopped = f"on_progress raised {type(e).__name__}: {e}"
                break
    if stopped is None:
        stopped = f"max_attempts ({max_attempts}) reached: sampling never shows every interleaving"
    stats: dict[str, Any] = {
        "seed": seed,
        "strategy": strategy,
        "depth": depth,
        "attempts": attempts,
        "longest_run": longest,
        "schedules_digest": digest.hexdigest(),
    }
    for f in failures:
        if shrink:
            stats["shrink"] = shrink_failure(
                f, setup, fns, invariant, common, api="explore_interleavings", max_candidates=max_shrink_candidates
            )
        reproduce(f, setup, fns, invariant, reproduce_on_failure, common, api="explore_interleavings")
    result = ExploreResult(
        property_holds=not failures,
        num_explored=attempts,
        exhausted=False,
        failures=failures,
        stopped_because=stopped,
        elapsed=time.monotonic() - started,
        stats=stats,
        limits=limits.lines(),
    )
    result.explanation = explain(result)
    if failures:
        result.explanation += (
            f"\nFound by explore_interleavings(strategy={strategy!r}, depth={depth}, seed={seed})"
            f" at attempt {failures[0].execution}; the same seed finds it again.\n"
        )
    return result
