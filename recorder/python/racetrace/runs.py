"""Controlled executions of a test, shared by the explorers
(``explore_dpor``, ``explore_interleavings``) and the in-process shrinker.

A test is ``setup`` (a fresh state per execution), ``threads`` (callables
run on that state, each in a thread of its own) and ``invariant`` (checked
on the state after the threads are joined). One execution gives a
``RunResult`` and, if it failed, a ``Failure``.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypedDict, TypeVar, cast

from racetrace import _native, aio, aio_run
from racetrace._native import RunAborted
from racetrace.control import execute
from racetrace.results import DEADLOCK, EXCEPTION, INVARIANT, Failure
from racetrace.run_result import RunResult

#: The state ``setup`` makes for one execution.
S = TypeVar("S")


class SetupError(RuntimeError):
    """``setup`` raised: nothing can be explored."""


class RunOptions(TypedDict):
    """What every execution of an exploration runs with."""

    deadlock_timeout: float
    run_timeout: float | None
    max_steps: int
    include: list[str]
    exclude: list[str]
    #: Randomized strategies let blocked timed waits time out at any step.
    explore_timeouts: bool


def run_options(
    deadlock_timeout: float,
    timeout_per_run: float | None,
    max_steps: int,
    include: Iterable[str],
    exclude: Iterable[str],
    explore_timeouts: bool = False,
) -> RunOptions:
    """The options of an exploration's executions: ``timeout_per_run`` is the
    wall-clock limit of one execution (enforced by the native control loop,
    whatever the actors do); a turn may not wait longer than it either."""
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, not {max_steps!r}")
    return RunOptions(
        deadlock_timeout=min(deadlock_timeout, timeout_per_run or deadlock_timeout),
        run_timeout=timeout_per_run,
        max_steps=max_steps,
        include=list(include),
        exclude=list(exclude),
        explore_timeouts=explore_timeouts,
    )


def _refuse_coroutine(api: str, name: str, value: object) -> None:
    """A coroutine object is not a worker: it can run only once, and an
    exploration runs the worker again at every execution."""
    if inspect.iscoroutine(value):
        value.close()  # never awaited, and says nothing about it
        raise TypeError(
            f"{api}: {name} is a coroutine object, not a function: pass the async def function "
            "itself (it is called with the state at every execution)"
        )


def is_async(fn: object) -> bool:
    """Whether ``fn`` is an ``async def`` function (its workers run as
    asyncio tasks)."""
    return inspect.iscoroutinefunction(fn)


def check_callable(api: str, name: str, value: object) -> None:
    """Raises ``TypeError`` (naming the explorer ``api``) unless ``value`` is
    callable."""
    if not callable(value):
        raise TypeError(f"{api}: {name} must be callable, not {type(value).__name__}")


def check_test(api: str, setup: object, threads: object, invariant: object) -> list[Callable[[Any], object]]:
    """Checks the arguments that make a test; returns ``threads`` as a
    list."""
    _refuse_coroutine(api, "setup", setup)
    check_callable(api, "setup", setup)
    _refuse_coroutine(api, "invariant", invariant)
    check_callable(api, "invariant", invariant)
    if isinstance(threads, (str, bytes)) or not hasattr(threads, "__iter__"):
        raise TypeError(f"{api}: threads must be a sequence of callables")
    fns = list(cast(Iterable[Callable[[Any], object]], threads))
    if not fns:
        raise ValueError(f"{api}: threads is empty (give at least one callable)")
    for i, fn in enumerate(fns):
        _refuse_coroutine(api, f"threads[{i}]", fn)
        if not callable(fn):
            raise TypeError(
                f"{api}: threads[{i}] must be callable (a function or an async def function), "
                f"not {type(fn).__name__}"
            )
    return fns


def run_threads(
    setup: Callable[[], S],
    threads: Sequence[Callable[[S], object]],
    invariant: Callable[[S], bool],
    *,
    api: str,
    schedule: str | None,
    trace: str | None,
    deadlock_timeout: float,
    max_steps: int,
    include: Sequence[str],
    exclude: Sequence[str],
    run_timeout: float | None = None,
    explore_timeouts: bool = False,
    strategy: _native.DporExplorer | None = None,
    seed: int | None = None,
    pct: tuple[int, int, int] | None = None,
    markers: _native.MarkerPlan | None = None,
    names: Sequence[str] | None = None,
    choices: list[int] | None = None,
) -> tuple[RunResult, Failure | None]:
    """One controlled execution of a test, shared by every explorer: fresh
    state from ``setup``, the threads started and joined by the main actor,
    then the invariant (outside control). ``api`` names the explorer in
    errors; ``strategy``, ``seed`` or ``pct`` choose the schedule after
    ``schedule`` runs out; ``markers`` is a marker schedule (or, with
    ``schedule``, the marked lines of a replayed run of one); ``names``
    names the threads (``thread-1``, ... by default); ``choices`` is a
    schedule as one small choice per step (``racetrace.hypothesis``)."""
    try:
        state = setup()
        if inspect.iscoroutine(state):
            state = aio_run.run_plain(state)
    except Exception as e:
        raise SetupError(f"{api}: setup raised {type(e).__name__}: {e}") from e
    if strategy is not None:
        # DPOR compares operations across executions: it names the objects
        # shared from the start by where they are, not by when a run met them.
        strategy.share(state, threads)

    errors: list[tuple[str, BaseException]] = []
    coroutines: list[str] = []

    def guarded(fn: Callable[[S], object], name: str) -> Callable[[], None]:
        # An actor's exception is a finding, reported with its traceback in
        # the result; not printed by the thread excepthook at every execution.
        # RunAborted (a BaseException) is how an actor of a stopped run
        # unwinds: it ends the thread quietly here, whatever excepthook is
        # installed by the time the thread gets there (it may be unwinding
        # after the run, under the caller's hook).
        def body() -> None:
            try:
                made = fn(state)
            except RunAborted:
                return
            except Exception as e:  # noqa: BLE001 - reported as a failure
                errors.append((name, e))
                return
            if inspect.iscoroutine(made):
                made.close()
                coroutines.append(f"{name} ({getattr(fn, '__qualname__', repr(fn))})")

        return body

    # Plain functions run as threads, async def functions as tasks of one
    # event loop run by the main actor meanwhile; named by their place.
    kinds = [is_async(fn) for fn in threads]
    labels = list(names) if names is not None else [f"{'task' if k else 'thread'}-{i + 1}" for i, k in enumerate(kinds)]
    task_fns = [fn for fn, k in zip(threads, kinds, strict=True) if k]
    task_labels = [label for label, k in zip(labels, kinds, strict=True) if k]

    notes: list[str] = []

    def main() -> None:
        workers = [
            threading.Thread(target=guarded(fn, labels[i]), name=labels[i])
            for i, fn in enumerate(threads)
            if not kinds[i]
        ]
        for t in workers:
            t.start()
        if task_fns:
            errors.extend(aio_run.run_tasks(task_fns, state, task_labels, notes=notes))
        for t in workers:
            t.join()

    main.__qualname__ = api
    res = execute(
        main,
        (),
        {},
        schedule=schedule,
        trace_source=None,
        seed=seed,
        trace=trace,
        deadlock_timeout=deadlock_timeout,
        run_timeout=run_timeout,
        max_steps=max_steps,
        include=include,
        exclude=exclude,
        program=getattr(threads[0], "__qualname__", api),
        strategy=strategy,
        pct=pct,
        explore_timeouts=explore_timeouts,
        markers=markers,
        choices=choices,
    )
    if coroutines:
        raise TypeError(
            f"{api}: {', '.join(coroutines)} returned a coroutine: make it an async def function "
            "(then every worker must be one)"
        )
    res.worker_exceptions[:0] = errors
    res.limits.extend(n for n in notes if n not in res.limits)
    if strategy is None or strategy.splits_task_steps():
        # Only an exploration that takes task steps whole keeps threads out
        # of them (the others let the strategy or the schedule choose).
        res.limits = [n for n in res.limits if n != aio.THREADS_BETWEEN_STEPS]
    return res, failure_of(res, state, invariant, api=api)


def failure_of(res: RunResult, state: S, invariant: Callable[[S], bool], *, api: str) -> Failure | None:
    """How an execution failed (None: it did not, or it was abandoned):
    its run status, an exception that escaped an actor, or the invariant
    (called on ``state``) being false or raising. ``api`` names the
    explorer in errors."""
    if res.status == "deadlock":
        return Failure(DEADLOCK, res.message, res.schedule)
    if res.status in ("timeout", "divergence", "interrupted"):
        return Failure(res.status, res.message, res.schedule)
    if res.status in ("abandoned", "step_limit"):
        # Stopped at the step bound: not a failure (a poll loop may be
        # fine), but not a finished execution either; the explorers say so.
        return None
    excs = list(res.worker_exceptions)
    if res.exception is not None:
        excs.insert(0, ("MainThread", res.exception))
    if excs:
        name, e = excs[0]
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        return Failure(EXCEPTION, f"{name} raised {type(e).__name__}: {e}\n{text}", res.schedule)
    try:
        ok: object = invariant(state)
        if inspect.iscoroutine(ok):
            ok = aio_run.run_plain(ok)
    except Exception as e:
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        return Failure(INVARIANT, f"invariant raised {type(e).__name__}: {e}\n{text}", res.schedule)
    if not isinstance(ok, bool):
        raise TypeError(
            f"{api}: invariant must return a bool, it returned {type(ok).__name__} ({ok!r})"
        )
    if not ok:
        return Failure(INVARIANT, "the invariant returned False", res.schedule)
    return None


def count_same(f: Failure, res: RunResult | None, again: Failure | None) -> int:
    """1 if a replay failed the same way as `f`; else 0, with why noted."""
    if again is not None and again.kind == f.kind:
        return 1
    if res is not None:
        first = (again.message if again is not None else res.message or "").splitlines()[:1]
        f.replay_mismatches.append(f"{res.status}: {first[0] if first else ''}")
    return 0


def reproduce(
    f: Failure,
    setup: Callable[[], S],
    threads: Sequence[Callable[[S], object]],
    invariant: Callable[[S], bool],
    runs: int,
    common: RunOptions,
    *,
    api: str,
    markers: _native.MarkerPlan | None = None,
    names: Sequence[str] | None = None,
) -> None:
    """Replays a failing schedule: `runs` times to count how often it fails
    the same way, and once with a trace written. ``api`` is the explorer
    that found it."""
    fd, path = tempfile.mkstemp(prefix="racetrace-failure-", suffix=".rtt")
    os.close(fd)
    res: RunResult | None
    again: Failure | None
    try:
        res, again = run_threads(
            setup, threads, invariant, api=api, schedule=f.schedule, strategy=None, trace=path,
            markers=markers, names=names, **common
        )
        f.trace = path
    except Exception as e:  # noqa: BLE001 - the trace is a convenience
        f.trace = None
        again = None
        f.replay_mismatches.append(f"the traced replay raised {type(e).__name__}: {e}")
        res = None
    same = count_same(f, res, again)
    for _ in range(max(0, runs - 1)):
        res, again = run_threads(
            setup, threads, invariant, api=api, schedule=f.schedule, strategy=None, trace=None,
            markers=markers, names=names, **common
        )
        same += count_same(f, res, again)
    f.replays = max(runs, 1)
    f.reproduced = same


class Limits:
    """What made an exploration less than complete, gathered over its
    executions (``ExploreResult.limits``): executions ended at the step
    bound, waits the scheduler could not see, timeouts not explored."""

    def __init__(self, max_steps: int, explore_timeouts: bool) -> None:
        self.max_steps = max_steps
        self.explore_timeouts = explore_timeouts
        self.step_bound: list[int] = []
        self.unseen: list[str] = []
        self.timeouts_not_explored = 0

    def clear(self) -> None:
        """Forgets every execution (the exploration starts again)."""
        self.step_bound.clear()
        self.unseen.clear()
        self.timeouts_not_explored = 0

    def add(self, res: RunResult, execution: int) -> None:
        """Notes what limited execution number ``execution``."""
        if res.status == "step_limit":
            self.step_bound.append(execution)
        if res.status == "timeout" and res.stuck_at is not None:
            first = res.message.splitlines()[0].removeprefix("timeout: ")
            self.unseen.append(f"execution {execution}: {first}; it is stuck at {res.stuck_at}")
        for text in res.limits:
            if not any(text in u for u in self.unseen):
                self.unseen.append(f"execution {execution}: {text}")
        if not self.explore_timeouts and res.timeouts_offered:
            self.timeouts_not_explored += 1

    def lines(self) -> list[str]:
        out = list(self.unseen)
        if self.step_bound:
            n = len(self.step_bound)
            out.append(
                f"{n} execution(s) stopped at the step bound (max_steps={self.max_steps}), the first at"
                f" execution {self.step_bound[0]}: an actor kept going without blocking (a poll loop, a"
                " spin); what would have happened next was not explored"
            )
        if self.timeouts_not_explored:
            out.append(
                f"timeouts were not explored (explore_timeouts=False): {self.timeouts_not_explored}"
                " execution(s) made a timed wait, let time out only when no actor could go on"
            )
        return out
