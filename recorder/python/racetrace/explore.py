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
from collections.abc import Callable, Iterable, Sequence

from racetrace import _native
from racetrace.control import DEFAULT_DEADLOCK_TIMEOUT
from racetrace.explain_failure import explain
from racetrace.results import DEADLOCK, EXCEPTION, INVARIANT, ExploreResult, Failure
from racetrace.runs import (
    Limits,
    S,
    SetupError,
    check_callable,
    check_test,
    reproduce,
    run_options,
    run_threads,
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
    """
    fns: Sequence[Callable[[S], object]] = check_test("explore_dpor", setup, threads, invariant)
    if preemption_bound is not None and preemption_bound < 0:
        raise ValueError("explore_dpor: preemption_bound must be >= 0 or None")
    if on_progress is not None:
        check_callable("explore_dpor", "on_progress", on_progress)

    started = time.monotonic()
    dpor = _native.DporExplorer(preemption_bound, explore_timeouts)
    failures: list[Failure] = []
    explored = 0
    stopped: str | None = None
    common = run_options(deadlock_timeout, timeout_per_run, max_steps, include, exclude)
    limits = Limits(max_steps, explore_timeouts)
    while True:
        if max_executions is not None and explored >= max_executions:
            stopped = f"max_executions ({max_executions}) reached"
            break
        if total_timeout is not None and time.monotonic() - started > total_timeout:
            stopped = f"total_timeout ({total_timeout} s) reached"
            break
        if not dpor.begin():
            break
        try:
            res, failure = run_threads(
                setup, fns, invariant, api="explore_dpor", schedule=None, strategy=dpor, trace=None, **common
            )
        except KeyboardInterrupt:
            dpor.end()
            stopped = "interrupted (KeyboardInterrupt)"
            break
        finally:
            dpor.end()
        if res.status == "abandoned":
            continue
        explored += 1
        limits.add(res, explored)
        if failure is not None:
            failure.execution = explored
            # Each execution DPOR runs is a class of its own: every failing
            # one is a failing class.
            failures.append(failure)
            if stop_on_first:
                stopped = "stopped at the first failure"
                break
        if on_progress is not None:
            try:
                on_progress(explored, max(explored, int(dpor.stats()["estimated_total"])))
            except Exception as e:  # noqa: BLE001 - the caller asked to stop
                stopped = f"on_progress raised {type(e).__name__}: {e}"
                break
    stats = dict(dpor.stats())
    if preemption_bound is not None and stopped is None:
        stopped = f"preemption_bound={preemption_bound} (classes needing more preemptions are skipped)"
    # Shrunk, replayed and traced: the first few (the rest keep their
    # schedule as explored).
    for f in failures[:_REPRODUCED_FAILURES]:
        if shrink:
            # Fewest preemptions first: the schedule explained and replayed
            # is the smallest that fails the same way (stats: the first's).
            figures = shrink_failure(f, setup, fns, invariant, common, api="explore_dpor")
            stats.setdefault("shrink", figures)
        reproduce(f, setup, fns, invariant, reproduce_on_failure, common, api="explore_dpor")
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
