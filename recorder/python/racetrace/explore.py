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

import os
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from racetrace import _native
from racetrace import control as _control
from racetrace.explain_failure import explain

#: How many failures of one exploration are replayed and traced.
_REPRODUCED_FAILURES = 5

#: Failure kinds.
INVARIANT = "invariant violation"
EXCEPTION = "exception in an actor"
DEADLOCK = "deadlock"


@dataclass
class Failure:
    """One failing execution."""

    #: ``invariant violation``, ``exception in an actor`` or ``deadlock``.
    kind: str
    #: What went wrong, in words (exception with traceback, deadlock report).
    message: str
    #: The schedule that fails (an ``rts1:`` string for ``racetrace.replay``).
    schedule: str
    #: A trace of the failing execution (for ``racetrace explain``/``script``).
    trace: str | None = None
    #: Times it failed the same way when replayed, out of ``replays``.
    reproduced: int = 0
    replays: int = 0
    #: How each replay that did not fail the same way ended (run status and
    #: the first line of its message), so a non-reproducing failure says why.
    replay_mismatches: list[str] = field(default_factory=list)
    #: Which execution of the exploration found it (from 1).
    execution: int = 0


@dataclass
class ExploreResult:
    """What an exploration found."""

    property_holds: bool
    num_explored: int
    #: Every class of interleavings was run (False: a budget, a timeout,
    #: a preemption bound, an interruption or the first failure stopped it).
    exhausted: bool
    failures: list[Failure] = field(default_factory=list)
    explanation: str = ""
    #: Why the exploration is partial (None when exhausted).
    stopped_because: str | None = None
    elapsed: float = 0.0
    #: The engine's counters (races, redundant or diverged executions, ...).
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return not self.exhausted

    def __str__(self) -> str:
        return self.explanation


def _check_callable(name: str, value: Any) -> None:
    if not callable(value):
        raise TypeError(f"explore_dpor: {name} must be callable, not {type(value).__name__}")


def run_threads(
    setup: Callable[[], Any],
    threads: Sequence[Callable[[Any], Any]],
    invariant: Callable[[Any], Any],
    *,
    api: str,
    schedule: str | None,
    trace: str | None,
    deadlock_timeout: float,
    max_steps: int,
    include: Sequence[str],
    exclude: Sequence[str],
    strategy: Any = None,
    seed: int | None = None,
    pct: tuple[int, int, int] | None = None,
) -> tuple[_control.RunResult, Failure | None]:
    """One controlled execution of a test, shared by every explorer: fresh
    state from ``setup``, the threads started and joined by the main actor,
    then the invariant (outside control). ``api`` names the explorer in
    errors; ``strategy``, ``seed`` or ``pct`` choose the schedule after
    ``schedule`` runs out."""
    try:
        state = setup()
    except Exception as e:
        raise SetupError(f"{api}: setup raised {type(e).__name__}: {e}") from e

    errors: list[tuple[str, BaseException]] = []

    def guarded(fn: Callable[[Any], Any], name: str) -> Callable[[], None]:
        # An actor's exception is a finding, reported with its traceback in
        # the result; not printed by the thread excepthook at every execution.
        # (RunAborted, a BaseException, still ends a stopped run.)
        def body() -> None:
            try:
                fn(state)
            except Exception as e:  # noqa: BLE001 - reported as a failure
                errors.append((name, e))

        return body

    def main() -> None:
        workers = [
            threading.Thread(target=guarded(fn, f"thread-{i + 1}"), name=f"thread-{i + 1}")
            for i, fn in enumerate(threads)
        ]
        for t in workers:
            t.start()
        for t in workers:
            t.join()

    main.__qualname__ = api
    res = _control._execute(
        main,
        (),
        {},
        schedule=schedule,
        trace_source=None,
        seed=seed,
        trace=trace,
        deadlock_timeout=deadlock_timeout,
        max_steps=max_steps,
        include=include,
        exclude=exclude,
        program=getattr(threads[0], "__qualname__", api),
        strategy=strategy,
        pct=pct,
    )
    res.worker_exceptions[:0] = errors
    return res, _failure_of(res, state, invariant)


class SetupError(RuntimeError):
    """``setup`` raised: nothing can be explored."""


def _failure_of(res: _control.RunResult, state: Any, invariant: Callable[[Any], Any]) -> Failure | None:
    if res.status == "deadlock":
        return Failure(DEADLOCK, res.message, res.schedule)
    if res.status in ("timeout", "step_limit", "divergence", "interrupted"):
        return Failure(res.status, res.message, res.schedule)
    if res.status == "abandoned":
        return None
    excs = list(res.worker_exceptions)
    if res.exception is not None:
        excs.insert(0, ("MainThread", res.exception))
    if excs:
        name, e = excs[0]
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        return Failure(EXCEPTION, f"{name} raised {type(e).__name__}: {e}\n{text}", res.schedule)
    try:
        ok = invariant(state)
    except Exception as e:
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        return Failure(INVARIANT, f"invariant raised {type(e).__name__}: {e}\n{text}", res.schedule)
    if not isinstance(ok, bool):
        raise TypeError(
            f"explore_dpor: invariant must return a bool, it returned {type(ok).__name__} ({ok!r})"
        )
    if not ok:
        return Failure(INVARIANT, "the invariant returned False", res.schedule)
    return None


def explore_dpor(
    setup: Callable[[], Any],
    threads: Sequence[Callable[[Any], Any]],
    invariant: Callable[[Any], Any],
    *,
    max_executions: int | None = None,
    preemption_bound: int | None = None,
    stop_on_first: bool = True,
    deadlock_timeout: float = _control.DEFAULT_DEADLOCK_TIMEOUT,
    timeout_per_run: float | None = 10.0,
    total_timeout: float | None = None,
    on_progress: Callable[[int, int], Any] | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    reproduce_on_failure: int = 10,
    max_steps: int = 100_000,
    shrink: bool = True,
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
    """
    _check_callable("setup", setup)
    _check_callable("invariant", invariant)
    if isinstance(threads, (str, bytes)) or not hasattr(threads, "__iter__"):
        raise TypeError("explore_dpor: threads must be a sequence of callables")
    threads = list(threads)
    if not threads:
        raise ValueError("explore_dpor: threads is empty (give at least one callable)")
    for i, fn in enumerate(threads):
        if not callable(fn):
            raise TypeError(f"explore_dpor: threads[{i}] must be callable, not {type(fn).__name__}")
    if preemption_bound is not None and preemption_bound < 0:
        raise ValueError("explore_dpor: preemption_bound must be >= 0 or None")
    if on_progress is not None:
        _check_callable("on_progress", on_progress)
    include, exclude = list(include), list(exclude)

    started = time.monotonic()
    dpor = _native.DporExplorer(preemption_bound)
    failures: list[Failure] = []
    explored = 0
    stopped: str | None = None
    common = dict(
        deadlock_timeout=min(deadlock_timeout, timeout_per_run or deadlock_timeout),
        max_steps=max_steps,
        include=include,
        exclude=exclude,
    )
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
            res, failure = run_threads(setup, threads, invariant, api="explore_dpor", schedule=None, strategy=dpor, trace=None, **common)
        except KeyboardInterrupt:
            dpor.end()
            stopped = "interrupted (KeyboardInterrupt)"
            break
        finally:
            dpor.end()
        if res.status == "abandoned":
            continue
        explored += 1
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
            from racetrace.shrinking import shrink_failure

            figures = shrink_failure(f, setup, threads, invariant, common)
            stats.setdefault("shrink", figures)
        _reproduce(f, setup, threads, invariant, reproduce_on_failure, common)
    result = ExploreResult(
        property_holds=not failures,
        num_explored=explored,
        exhausted=stopped is None,
        failures=failures,
        stopped_because=stopped,
        elapsed=time.monotonic() - started,
        stats=stats,
    )
    result.explanation = explain(result)
    return result


def _count_same(f: Failure, res: Any, again: Failure | None) -> int:
    """1 if a replay failed the same way as `f`; else 0, with why noted."""
    if again is not None and again.kind == f.kind:
        return 1
    if res is not None:
        first = (again.message if again is not None else res.message or "").splitlines()[:1]
        f.replay_mismatches.append(f"{res.status}: {first[0] if first else ''}")
    return 0


def _reproduce(
    f: Failure,
    setup: Callable[[], Any],
    threads: Sequence[Callable[[Any], Any]],
    invariant: Callable[[Any], Any],
    runs: int,
    common: dict[str, Any],
) -> None:
    """Replays a failing schedule: `runs` times to count how often it fails
    the same way, and once with a trace written."""
    fd, path = tempfile.mkstemp(prefix="racetrace-failure-", suffix=".rtt")
    os.close(fd)
    try:
        res, again = run_threads(setup, threads, invariant, api="explore_dpor", schedule=f.schedule, strategy=None, trace=path, **common)
        f.trace = path
    except Exception as e:  # noqa: BLE001 - the trace is a convenience
        f.trace = None
        again = None
        f.replay_mismatches.append(f"the traced replay raised {type(e).__name__}: {e}")
        res = None
    same = _count_same(f, res, again)
    for _ in range(max(0, runs - 1)):
        res, again = run_threads(setup, threads, invariant, api="explore_dpor", schedule=f.schedule, strategy=None, trace=None, **common)
        same += _count_same(f, res, again)
    f.replays = max(runs, 1)
    f.reproduced = same
