"""Systematic exploration: ``racetrace.explore_dpor``.

Runs a small concurrent test under control once per *meaningfully
different* interleaving (one per Mazurkiewicz trace: orders that differ
only by swapping independent operations count once), as the analyzer's
optimal-DPOR engine decides: each controlled run is one execution, and the
engine, kept in the native extension across runs, learns from each
execution which schedule prefixes to try next. Nothing goes through a file
between executions.

A failing execution (the invariant is false or raises, an actor raises, or
the actors deadlock) is replayed from its schedule a few times to say how
reliably it reproduces, and once more with a trace written, for the
explanation and for ``racetrace explain``/``racetrace script``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Sequence

from racetrace import _native, sharding
from racetrace.control import DEFAULT_DEADLOCK_TIMEOUT
from racetrace.dpor_parallel import Outcome, explore_parallel
from racetrace.dpor_run import Stop, explore_here, split_depth, stats_of
from racetrace.explain_failure import explain
from racetrace.parallel import portable_or_warn, resolve_workers
from racetrace.progress import ProgressLine, wanted
from racetrace.results import CRASH, DEADLOCK, EXCEPTION, INVARIANT, ExploreResult, Failure
from racetrace.run_result import RunResult
from racetrace.runs import (
    Limits,
    RunOptions,
    S,
    SetupError,
    check_callable,
    check_test,
    is_async,
    reproduce,
    run_options,
)
from racetrace.shrinking import shrink_failure

__all__ = ["explore_dpor", "ExploreResult", "Failure", "SetupError", "DEADLOCK", "EXCEPTION", "INVARIANT"]

#: How many failures of one exploration are replayed and traced.
_REPRODUCED_FAILURES = 5


def explore_dpor(
    setup: Callable[[], S],
    threads: Sequence[Callable[[S], object]],
    invariant: Callable[[S], bool],
    *,
    max_executions: int | None = None,
    preemption_bound: int | None = None,
    stop_on_first: bool = True,
    deadlock_timeout: float = DEFAULT_DEADLOCK_TIMEOUT,
    timeout_per_run: float | None = 10.0,
    total_timeout: float | None = None,
    on_progress: Callable[[int, int], object] | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    reproduce_on_failure: int = 10,
    max_steps: int = 100_000,
    shrink: bool = True,
    explore_timeouts: bool = True,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    progress: bool | None = None,
) -> ExploreResult:
    """Runs ``threads`` (each called with ``setup()``'s fresh state) under
    every meaningfully different interleaving and checks ``invariant(state)``
    after each execution.

    ``max_executions``/``total_timeout`` bound the exploration (the result
    then says it is partial); ``preemption_bound`` limits context switches
    away from a runnable thread (also partial). ``stop_on_first=False``
    collects every failing execution. ``on_progress(explored, estimate)``
    is called after each execution; if it raises, exploration stops with a
    partial result. ``timeout_per_run`` bounds the wall-clock time of one
    execution (a run that takes longer is reported as a failure of kind
    ``timeout``). ``shrink``: a failing schedule is first shrunk to the
    fewest preemptions that still fail the same way.

    Synchronization has its real semantics: a semaphore counts, a try
    (``lock.acquire(blocking=False)``) succeeds or fails by the order
    explored, and a timed wait (``acquire(timeout=...)``, ``Event.wait``,
    ``Condition.wait``, ``Queue.get``/``put``, ``Thread.join``,
    ``Barrier.wait`` with a timeout) may time out whenever it is blocked,
    an alternative explored like any other order (never by real time);
    ``explore_timeouts=False`` lets timeouts expire only when no actor can
    go on (fewer executions; the result then says timeouts were not
    explored if one could have). ``max_steps`` ends an execution that runs
    longer (a poll loop): the result is then not exhausted and says so, as
    it does for a wait the scheduler could not see (``deadlock_timeout``).

    ``workers=N`` runs executions in N worker processes (0: one per core);
    ``setup``, ``threads`` and ``invariant`` must then be importable
    (module-level: a lambda or a closure is explored in this process, with
    a warning). The subtrees of the exploration are handed out so that
    every class is still explored exactly once: ``num_explored``,
    ``exhausted`` and the failing classes are those of one process; which
    failure is found first may differ (the one reported is the first a
    worker reported). ``shard=(i, n)`` (or ``RACETRACE_SHARD=i/n`` in the
    environment) explores only shard ``i`` of ``n``, a deterministic part
    of the tree: the ``n`` shards together explore every class once.
    ``progress`` shows a progress line on stderr (None: when stderr is a
    terminal).
    """
    fns: Sequence[Callable[[S], object]] = check_test("explore_dpor", setup, threads, invariant)
    if preemption_bound is not None and preemption_bound < 0:
        raise ValueError("explore_dpor: preemption_bound must be >= 0 or None")
    if on_progress is not None:
        check_callable("explore_dpor", "on_progress", on_progress)

    shard = sharding.resolve("explore_dpor", shard)
    n = resolve_workers("explore_dpor", workers)
    if n > 1 and not portable_or_warn("explore_dpor", n, {"setup": setup, "threads": fns, "invariant": invariant}):
        n = 1
    if (n > 1 or shard is not None) and any(is_async(fn) for fn in fns):
        # The split into subtrees does not know atomic steps yet: its
        # subtrees went through orders a task program cannot take.
        warnings.warn(
            "explore_dpor: asyncio tasks are explored whole, in this process (worker processes and "
            "shards do not split explorations of tasks yet)",
            RuntimeWarning,
            stacklevel=2,
        )
        n, shard = 1, None
    started = time.monotonic()
    common = run_options(deadlock_timeout, timeout_per_run, max_steps, include, exclude)
    limits = Limits(max_steps, explore_timeouts)
    line = ProgressLine("explore_dpor") if wanted(progress) else None

    def report(done: int, estimate: int) -> None:
        if line is not None:
            line(done, estimate)
        if on_progress is not None:
            on_progress(done, estimate)

    out = Outcome()
    try:
        if n > 1:
            out = explore_parallel(
                setup,
                fns,
                invariant,
                common,
                limits,
                workers=n,
                shard=shard,
                preemption_bound=preemption_bound,
                explore_timeouts=explore_timeouts,
                stop_on_first=stop_on_first,
                max_executions=max_executions,
                total_timeout=total_timeout,
                progress=report if line is not None or on_progress is not None else None,
            )
        else:
            out = _explore_here(
                setup, fns, invariant, common, limits, shard, preemption_bound, explore_timeouts,
                stop_on_first, max_executions, total_timeout, started,
                report if line is not None or on_progress is not None else None,
            )
    finally:
        if line is not None:
            line.close(out.explored)
    failures, explored, stopped, stats = out.failures, out.explored, out.stopped, out.stats
    if shard is not None and shard[1] > 1:
        stats["shard"] = shard
    if (n > 1 or shard is not None) and (stats.get("diverged", 0) or stats.get("infeasible", 0)):
        # Split explorations go through orders a single one may not; a
        # program that then runs differently under the same schedule
        # prefix makes the split unreliable.
        limits.unseen.append(
            f"the program ran differently under the same schedule prefix ({stats.get('diverged', 0)} replayed"
            f" step(s) diverged, {stats.get('infeasible', 0)} infeasible): some classes may have been missed"
            " or explored twice"
        )

    if preemption_bound is not None and stopped is None:
        stopped = f"preemption_bound={preemption_bound} (classes needing more preemptions are skipped)"
    # Shrunk, replayed and traced: the first few (the rest keep their
    # schedule as explored).
    for f in failures[:_REPRODUCED_FAILURES]:
        if f.kind == CRASH:
            continue  # replaying it would end this process
        if shrink:
            # Fewest preemptions first: the schedule explained and replayed
            # is the smallest that fails the same way (stats: the first's).
            figures = shrink_failure(f, setup, fns, invariant, common, api="explore_dpor")
            stats.setdefault("shrink", figures)
        reproduce(f, setup, fns, invariant, reproduce_on_failure, common, api="explore_dpor")
    if shard is not None and shard[1] > 1 and stopped is None:
        # Complete for this shard: the whole needs the other shards too.
        stopped = f"{sharding.describe(shard)}: the other shards explore the rest"
    result = ExploreResult(
        property_holds=not failures,
        num_explored=explored,
        exhausted=stopped is None and not limits.lines(),
        failures=failures,
        stopped_because=stopped,
        elapsed=time.monotonic() - started,
        stats=stats,
        limits=limits.lines(),
    )
    result.explanation = explain(result)
    return result


def _explore_here(
    setup: Callable[[], S],
    fns: Sequence[Callable[[S], object]],
    invariant: Callable[[S], bool],
    common: RunOptions,
    limits: Limits,
    shard: sharding.Shard | None,
    preemption_bound: int | None,
    explore_timeouts: bool,
    stop_on_first: bool,
    max_executions: int | None,
    total_timeout: float | None,
    started: float,
    progress: Callable[[int, int], object] | None,
) -> Outcome:
    """The exploration (or the shard of it) in this process."""
    split = shard is not None and shard[1] > 1
    dpor = _native.DporExplorer(
        preemption_bound, explore_timeouts, split=split_depth(shard[1], 1) if shard is not None and split else None
    )
    out = Outcome()

    def counted(res: RunResult, failure: Failure | None) -> None:
        out.explored += 1
        limits.add(res, out.explored)
        if failure is not None:
            failure.execution = out.explored
            # Each execution DPOR runs is a class of its own: every failing
            # one is a failing class.
            out.failures.append(failure)
            if stop_on_first:
                raise Stop("stopped at the first failure")
        if progress is not None:
            try:
                progress(out.explored, max(out.explored, int(dpor.stats()["estimate"])))
            except Exception as e:  # noqa: BLE001 - the caller asked to stop
                raise Stop(f"on_progress raised {type(e).__name__}: {e}") from e

    def between() -> None:
        if max_executions is not None and out.explored >= max_executions:
            raise Stop(f"max_executions ({max_executions}) reached")
        if total_timeout is not None and time.monotonic() - started > total_timeout:
            raise Stop(f"total_timeout ({total_timeout} s) reached")

    def restart() -> None:
        out.explored = 0
        out.failures.clear()
        limits.clear()

    claim = (lambda key, leaf: sharding.owns(shard, key)) if split else None
    out.stopped = explore_here(
        setup, fns, invariant, common, dpor, claim=claim, counted=counted, between=between, restart=restart
    )
    out.stats = stats_of(dpor)
    return out
