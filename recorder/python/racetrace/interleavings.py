"""Randomized exploration: ``racetrace.explore_interleavings``.

When the space of interleavings is too large to enumerate (``explore_dpor``),
sample it: each attempt is one controlled execution whose choices come from
a seeded strategy. The default, ``portfolio``, mixes strategies that find
different bugs (uniform random, PCT at depths 1 to 3, iterative preemption
bounding: see ``racetrace.portfolio``); ``strategy=`` selects one.

Attempt ``i`` of an exploration with seed ``s`` depends on ``(s, i)`` only,
so the same seed replays the same attempts in the same order, in one
process, in worker processes (``workers=N``) or in shards (``shard=(i,
n)``). The result has the shape of ``explore_dpor``'s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from racetrace import sharding
from racetrace.attempts_parallel import AttemptsOutcome, count, run_parallel
from racetrace.control import DEFAULT_DEADLOCK_TIMEOUT
from racetrace.dpor_run import Note
from racetrace.explain_failure import explain
from racetrace.parallel import portable_or_warn, resolve_workers
from racetrace.portfolio import STRATEGIES, Attempts, describe, digest
from racetrace.progress import ProgressLine, wanted
from racetrace.results import CRASH, ExploreResult
from racetrace.runs import Limits, RunOptions, S, check_callable, check_test, reproduce, run_options
from racetrace.shrinking import shrink_failure


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
    strategy: str = "portfolio",
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
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    progress: bool | None = None,
) -> ExploreResult:
    """Runs ``threads`` (each called with ``setup()``'s fresh state) under up
    to ``max_attempts`` sampled interleavings, checking ``invariant(state)``
    after each, and stops at the first failure.

    ``strategy``: ``"portfolio"`` (the default: uniform random, PCT at
    depths 1 to ``depth`` and iterative preemption bounding 0 to 3, in
    turn), ``"pct"`` (with ``depth``: the number of ordering constraints
    the bugs it aims at need), ``"random"`` or ``"pb"`` (preemption
    bounding alone). The explanation and ``stats["found_by"]`` say which
    strategy found the failure. ``seed`` makes the exploration
    reproducible (a random one is drawn, and reported in ``stats["seed"]``
    and the explanation, when None). A failing schedule is shrunk to the
    fewest preemptions before it is explained (``shrink``).
    ``on_progress(attempts, max_attempts)`` is called after each attempt;
    if it raises, exploration stops with a partial result.

    ``workers=N`` runs attempts in N worker processes (0: one per core;
    ``setup``, ``threads`` and ``invariant`` must be importable, else the
    attempts run here, with a warning): the result is the same as in one
    process (the lowest failing attempt is the one reported).
    ``shard=(i, n)`` (or ``RACETRACE_SHARD=i/n``) runs only the attempts
    whose number is ``i`` modulo ``n``. ``progress`` shows a progress line
    on stderr (None: when stderr is a terminal).

    ``explore_timeouts``: now and then (one choice in 8 where one could) a
    blocked timed wait times out although another actor could go on, as
    under load; else timeouts expire only when no actor can go on.
    ``max_steps`` ends an execution that runs longer (a poll loop),
    reported in ``limits``.
    """
    api = "explore_interleavings"
    fns: Sequence[Callable[[S], object]] = check_test(api, setup, threads, invariant)
    _check(strategy, depth, max_attempts)
    if on_progress is not None:
        check_callable(api, "on_progress", on_progress)
    shard = sharding.resolve(api, shard)
    n = resolve_workers(api, workers)
    if n > 1 and not portable_or_warn(api, n, {"setup": setup, "threads": fns, "invariant": invariant}):
        n = 1
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little") >> 1
    common = run_options(deadlock_timeout, timeout_per_run, max_steps, include, exclude, explore_timeouts)
    limits = Limits(max_steps, explore_timeouts)
    started = time.monotonic()
    owned = [a for a in range(max_attempts) if shard is None or a % shard[1] == shard[0]]
    line = ProgressLine(api, exact_total=True) if wanted(progress) else None

    def report(done: int) -> None:
        if line is not None:
            line(done, len(owned))
        if on_progress is not None:
            on_progress(done, len(owned))

    watch = report if line is not None or on_progress is not None else None
    out = AttemptsOutcome()
    try:
        if n > 1:
            out = run_parallel(
                setup, fns, invariant, common, owned=owned, workers=n, seed=seed, strategy=strategy,
                depth=depth, total_timeout=total_timeout, progress=watch,
            )
        else:
            out = _run_here(setup, fns, invariant, common, owned, seed, strategy, depth, total_timeout, watch)
    finally:
        if line is not None:
            line.close()
    attempts, failures, longest, schedules = count(out, limits)
    stopped = out.stopped
    if failures:
        stopped = "stopped at the first failure"
    elif stopped is None:
        stopped = f"max_attempts ({max_attempts}) reached: sampling never shows every interleaving"
    stats: dict[str, Any] = {
        "seed": seed,
        "strategy": strategy,
        "depth": depth,
        "attempts": attempts,
        "longest_run": longest,
        "schedules_digest": digest(schedules),
    }
    if n > 1:
        stats["workers"] = n
    if shard is not None and shard[1] > 1:
        stats["shard"] = shard
    found_by = None
    for f in failures:
        found_by = out.done[[a for a, d in out.done.items() if d[4] is f][0]][0]
        stats["found_by"] = found_by
        if f.kind == CRASH:
            continue  # replaying it would end this process
        if shrink:
            stats["shrink"] = shrink_failure(
                f, setup, fns, invariant, common, api=api, max_candidates=max_shrink_candidates
            )
        reproduce(f, setup, fns, invariant, reproduce_on_failure, common, api=api)
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
    if failures and found_by is not None:
        result.explanation += (
            f"\nFound by explore_interleavings(strategy={strategy!r}, depth={depth}, seed={seed}) at attempt"
            f" {failures[0].execution}, a {describe(found_by)} attempt; the same seed finds it again.\n"
        )
    return result


def _run_here(
    setup: Callable[[], S],
    fns: Sequence[Callable[[S], object]],
    invariant: Callable[[S], bool],
    common: RunOptions,
    owned: list[int],
    seed: int,
    strategy: str,
    depth: int,
    total_timeout: float | None,
    progress: Callable[[int], None] | None,
) -> AttemptsOutcome:
    """The attempts ``owned``, in this process, up to the first failure."""
    out = AttemptsOutcome()
    runner = Attempts(setup, fns, invariant, common, seed=seed, strategy=strategy, depth=depth)
    started = time.monotonic()
    for attempt in owned:
        if total_timeout is not None and time.monotonic() - started > total_timeout:
            out.stopped = f"total_timeout ({total_timeout} s) reached"
            break
        try:
            res, failure, lane = runner.run(attempt)
        except KeyboardInterrupt:
            out.stopped = "interrupted (KeyboardInterrupt)"
            break
        out.done[attempt] = (lane, res.steps, res.schedule, Note.of(res), failure)
        if failure is not None:
            break
        if progress is not None:
            try:
                progress(len(out.done))
            except Exception as e:  # noqa: BLE001 - the caller asked to stop
                out.stopped = f"on_progress raised {type(e).__name__}: {e}"
                break
    return out
