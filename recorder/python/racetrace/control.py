"""Controlled execution: ``racetrace.run`` and ``racetrace.replay``.

The program's threads take turns at their visible operations (the events a
recording writes), in the order a *strategy* decides: a schedule to replay
(``rts1:...`` or the order of a recorded trace), seeded random choices, and
when a schedule runs out the default policy (keep the current actor while
it can run, else the lowest id; a timed wait or ``time.sleep`` goes only
when nothing else can). Only one actor runs Python code at a time; the
others wait, with the GIL released, in the native scheduler
(``racetrace._native``), which also models every ``_thread`` lock
(Lock, RLock, and through them Event, Condition, Semaphore, Barrier and the
``queue`` classes), ``SimpleQueue``, ``Thread.join`` and ``time.sleep``.

The program's main actor (actor 0) runs in a thread of its own; the thread
that called ``run`` only waits, so it can always give up on a run: a
deadlock is reported at once, and a turn that does not reach its next
scheduling point within ``deadlock_timeout`` seconds (a wait the scheduler
cannot see: a C extension, real I/O) ends the run with ``ControlTimeout``.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import runpy
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeAlias

from racetrace import _native, aio, aio_policy, pool, tables, tracehooks
from racetrace.config import Recognized, RunConfig
from racetrace.recording import format_exception
from racetrace.run_result import (
    RunResult,
    ScheduleError,
    raise_for,
)
from racetrace.stuck import where_stuck

RunAborted = _native.RunAborted

#: Seconds a turn may go without reaching a scheduling point (defined once,
#: by the native side).
DEFAULT_DEADLOCK_TIMEOUT: float = _native.DEFAULT_DEADLOCK_TIMEOUT
DEFAULT_MAX_STEPS = 1_000_000


_tables: Recognized | None = None


def _static_tables() -> Recognized:
    """What the native side recognizes (computed once per process)."""
    global _tables
    if _tables is None:
        calls = tables.call_roles()
        # threading._CRLock is private: typeshed does not declare it.
        for cls, names, role in (
            (threading._CRLock, "_release_save", "lock_release_save"),  # type: ignore[attr-defined]
            (threading._CRLock, "_acquire_restore", "lock_acquire_restore"),  # type: ignore[attr-defined]
        ):
            if cls is not None:
                for n in names.split():
                    attr = cls.__dict__.get(n)
                    if attr is not None:
                        calls.append((attr, role))
        _tables = Recognized(
            excluded_dirs=tables.default_excluded_dirs(),
            code_roles=tables.code_roles(),
            calls=calls,
            sync_lib_files=tables.sync_lib_files(),
            own_dir=tables.PACKAGE_DIR,
        )
    return _tables


_real_threading_time: Callable[[], float] = threading._time  # type: ignore[attr-defined]
_real_queue_time: Callable[[], float] = queue.time  # type: ignore[attr-defined]


def _virtual_time() -> float:
    t = _native.control_time()
    return _real_threading_time() if t is None else t


class _Box:
    value: Any = None
    exception: BaseException | None = None


_ExceptHook: TypeAlias = Callable[[threading.ExceptHookArgs], object]


def _quiet_aborted(hook: _ExceptHook | None) -> _ExceptHook:
    if hook is not None and getattr(hook, "_racetrace_quiet", False):
        return hook

    def quiet(args: threading.ExceptHookArgs) -> None:
        if not isinstance(args.exc_value, RunAborted):
            (hook or threading.__excepthook__)(args)

    # A mark on the function object, which mypy does not model.
    quiet._racetrace_quiet = True  # type: ignore[attr-defined]
    return quiet


class _DropAborted(logging.Filter):
    """Drops the log records of an actor unwinding from a stopped run:
    library code that catches every exception and logs it (a thread pool's
    worker logs "Exception in worker") would report each abandoned
    execution of an exploration."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], RunAborted))


#: The logger of thread pools' workers (loggers live as long as the process).
_futures_log = logging.getLogger("concurrent.futures")


def _quiet_aborted_in_logs() -> None:
    for f in _futures_log.filters:
        if isinstance(f, _DropAborted):
            return
    _futures_log.addFilter(_DropAborted())


def _check_not_nested() -> None:
    if _native.is_recording():
        raise RuntimeError(
            "racetrace is already recording or controlling a run "
            f"({_native.recording_path()}); runs cannot be nested"
        )


def _resolve_source(schedule: str | os.PathLike[str] | None) -> tuple[str | None, str | None]:
    """(schedule text, trace path) from what the caller gave."""
    if schedule is None:
        return None, None
    text = os.fspath(schedule) if isinstance(schedule, os.PathLike) else schedule
    if not isinstance(text, str):
        text = str(text)
    try:
        _native.replay_source(text)
    except ValueError as e:
        raise ScheduleError(str(e)) from None
    if text.strip().startswith("rts"):
        return text.strip(), None
    return None, text


def execute(
    target: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    *,
    schedule: str | None,
    trace_source: str | None,
    seed: int | None,
    trace: str | os.PathLike[str] | None,
    deadlock_timeout: float,
    max_steps: int,
    include: Iterable[str],
    exclude: Iterable[str],
    program: str,
    run_timeout: float | None = None,
    strategy: _native.DporExplorer | None = None,
    pct: tuple[int, int, int] | None = None,
    explore_timeouts: bool = False,
    markers: _native.MarkerPlan | None = None,
    choices: list[int] | None = None,
) -> RunResult:
    _check_not_nested()
    includes = list(include)
    static = _static_tables()
    keep_trace = trace is not None
    # Without a trace file the run's events go nowhere (no file, no flusher).
    path = os.fspath(trace) if trace is not None else ""
    box = _Box()
    workers: list[tuple[str, BaseException]] = []

    def main_body() -> None:
        try:
            box.value = target(*args, **kwargs)
        except RunAborted:
            pass
        except BaseException as e:  # noqa: BLE001 - reported to the caller
            box.exception = e
            _native.note_exception(
                threading.current_thread(), *format_exception(type(e), e, e.__traceback__)
            )

    main = threading.Thread(target=main_body, name="MainThread", daemon=True)
    before = set(threading.enumerate())
    # None is a valid hook for threading (its default), not for typeshed.
    prev_hook: _ExceptHook | None = threading.excepthook

    def excepthook(hook_args: threading.ExceptHookArgs) -> None:
        if isinstance(hook_args.exc_value, RunAborted):
            return
        if isinstance(hook_args.exc_value, SystemExit):
            # threading ends the thread silently: no failure, as plainly.
            (prev_hook or threading.__excepthook__)(hook_args)
            return
        if hook_args.exc_value is not None:
            workers.append((getattr(hook_args.thread, "name", "?"), hook_args.exc_value))
        try:
            _type, message, text = format_exception(
                hook_args.exc_type, hook_args.exc_value, hook_args.exc_traceback
            )
            _native.note_exception(hook_args.thread, _type, message, text)
        finally:
            (prev_hook or threading.__excepthook__)(hook_args)

    start_time = _real_threading_time()
    _native.control_start(
        RunConfig(
            path=path,
            program=program,
            # asyncio's primitives are the program's when a loop of the run
            # runs them (`aio`).
            include=[*includes, *(p for p in aio.PRIMITIVES if p not in includes)],
            exclude=list(exclude),
            recognized=static,
            main_thread=main,
            schedule=schedule,
            trace=trace_source,
            seed=seed,
            dpor=strategy,
            markers=markers,
            choices=choices,
            pct=pct,
            deadlock_timeout=float(deadlock_timeout),
            run_timeout=None if run_timeout is None else float(run_timeout),
            max_steps=int(max_steps),
            start_time=start_time,
            explore_timeouts=explore_timeouts,
        )
    )
    threading._time = _virtual_time  # type: ignore[attr-defined]
    queue.time = _virtual_time  # type: ignore[attr-defined]
    setattr(threading, pool.START_ATTR, pool.pooled_start)
    tracehooks.install()
    threading.excepthook = excepthook
    loops = aio_policy.install()
    _quiet_aborted_in_logs()
    interrupted: BaseException | None = None
    # No cyclic garbage collection while actors run: a collection starts
    # when allocation counters cross a threshold, which depends on what the
    # process did before this run, and the finalizers and weakref callbacks
    # it runs are Python code executed inside whichever actor allocated, so
    # the same schedule could take different steps. Cycles made during the
    # run are collected after it.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _native.control_wait(pool.start_without_waiting(main))
    except BaseException as e:  # KeyboardInterrupt: the run was stopped
        interrupted = e
    finally:
        failure = None
        if box.exception is not None:
            failure = format_exception(
                type(box.exception), box.exception, box.exception.__traceback__
            )
        info = _native.control_finish(failure)
        # Read before the actors unwind: a stuck one is still where it is.
        stuck_at = where_stuck(info["stuck_thread"])
        tracehooks.uninstall()
        threading._time = _real_threading_time  # type: ignore[attr-defined]
        queue.time = _real_queue_time  # type: ignore[attr-defined]
        setattr(threading, pool.START_ATTR, pool.real_start_thread)
        loop_notes = aio_policy.uninstall(loops, stopped=info["status"] not in ("ok", "exception"))
        # Let the actors unwind (a stopped run raises RunAborted in them)
        # before the excepthook goes back; one stuck in a call the
        # scheduler cannot see is left behind.
        deadline = time.monotonic() + 1.0
        spawned = [main, *(t for t in threading.enumerate() if t not in before)]
        for t in spawned:
            if t is not threading.current_thread() and t.ident is not None:
                try:
                    t.join(max(0.0, deadline - time.monotonic()))
                except RuntimeError:  # never started
                    pass
        # An actor of a stopped run may still be unwinding (or stuck in a
        # call the scheduler cannot see): its RunAborted stays quiet.
        threading.excepthook = _quiet_aborted(prev_hook)
        if gc_was_enabled:
            gc.enable()
    if interrupted is not None:
        raise interrupted
    if info["trace_error"]:
        import warnings

        warnings.warn(f"racetrace: the trace {path} may be incomplete: {info['trace_error']}", stacklevel=3)
    message = info["message"]
    if stuck_at is not None:
        message += f"\n  it is stuck at {stuck_at}"
    return RunResult(
        status=info["status"],
        message=message,
        schedule=info["schedule"],
        steps=info["steps"],
        preemptions=info["preemptions"],
        elapsed=info["elapsed"],
        trace=path if keep_trace else None,
        value=box.value,
        exception=box.exception,
        worker_exceptions=workers,
        preemptive=list(info["preemptive"]),
        limits=[*info["limits"], *loop_notes],
        stuck_at=stuck_at,
        timeouts_offered=info["timeouts_offered"],
    )


def run(
    target: Callable[..., Any],
    *args: Any,
    schedule: str | None = None,
    seed: int | None = None,
    trace: str | os.PathLike[str] | None = None,
    deadlock_timeout: float = DEFAULT_DEADLOCK_TIMEOUT,
    max_steps: int = DEFAULT_MAX_STEPS,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    check: bool = True,
    **kwargs: Any,
) -> RunResult:
    """Runs ``target(*args, **kwargs)`` under control and returns how it went.

    ``schedule``: an ``rts1:`` schedule or a trace file to force (then the
    default policy). ``seed``: random choices (after ``schedule``, if
    given), one schedule per seed. ``trace``: also write the run's trace
    there. With ``check`` (the default) a deadlock, a divergence, a timeout
    or the step limit raise ``DeadlockError``, ``DivergenceError``,
    ``ControlTimeout`` or ``StepLimitError``, and an exception that escapes
    the target is re-raised; exceptions in other threads are printed as
    usual and listed in ``RunResult.worker_exceptions``.
    """
    text, trace_source = _resolve_source(schedule)
    result = execute(
        target,
        args,
        kwargs,
        schedule=text,
        trace_source=trace_source,
        seed=seed,
        trace=trace,
        deadlock_timeout=deadlock_timeout,
        max_steps=max_steps,
        include=include,
        exclude=exclude,
        program=getattr(target, "__qualname__", repr(target)),
    )
    if check:
        raise_for(result)
        if result.exception is not None:
            raise result.exception
    return result


def script_target(script: str, argv: Sequence[str]) -> Callable[[], Any]:
    if not os.path.isfile(script):
        raise FileNotFoundError(f"no such script: {script}")
    path = os.path.abspath(script)

    def body() -> Any:
        saved_argv, saved_path = sys.argv, list(sys.path)
        sys.argv = [script, *argv]
        sys.path.insert(0, os.path.dirname(path))
        try:
            # As given (like `racetrace record`), so that code locations
            # name the file the same way.
            runpy.run_path(script, run_name="__main__")
        except SystemExit as e:
            if e.code not in (None, 0):
                raise
        finally:
            sys.argv, sys.path[:] = saved_argv, saved_path

    body.__qualname__ = " ".join([script, *argv])
    return body


def pytest_target(pytest_args: Sequence[str]) -> Callable[[], Any]:
    # Imported before the run, as `racetrace record -- pytest` does: pytest's
    # own import-time code is not part of the recorded interleaving.
    import pytest

    def body() -> Any:
        code = pytest.main(list(pytest_args))
        if int(code) != 0:
            raise SystemExit(int(code))

    body.__qualname__ = " ".join(["pytest", *pytest_args])
    return body


def replay(
    source: str | os.PathLike[str],
    target: Callable[..., Any] | None = None,
    *args: Any,
    script: str | os.PathLike[str] | None = None,
    argv: Sequence[str] = (),
    pytest_args: Sequence[str] | None = None,
    deadlock_timeout: float = DEFAULT_DEADLOCK_TIMEOUT,
    max_steps: int = DEFAULT_MAX_STEPS,
    trace: str | os.PathLike[str] | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    raise_worker_exceptions: bool = True,
    **kwargs: Any,
) -> RunResult:
    """Re-runs a program forcing a recorded interleaving, so that it fails
    the same way every time.

    ``source`` is a trace file (recorded freely by ``racetrace record`` or
    ``racetrace.record``, or by a controlled run) or an ``rts1:`` schedule.
    The program is ``target(*args, **kwargs)``, or the script ``script``
    run as ``__main__`` with ``argv``, or ``pytest.main(pytest_args)``.

    Replaying a trace checks every step against it: if the program takes
    another path, the run stops at once with ``DivergenceError`` (step,
    actor, expected and actual event with their locations). The program's
    own failure is raised as it would be without racetrace: the exception
    that escaped the main actor, or else (with ``raise_worker_exceptions``)
    the first one that escaped another thread. A deadlock raises
    ``DeadlockError``.
    """
    text, trace_source = _resolve_source(source)
    if target is None:
        if script is not None:
            target = script_target(os.fspath(script), list(argv))
        elif pytest_args is not None:
            target = pytest_target(list(pytest_args))
        else:
            raise TypeError("replay() needs a target: a callable, script=... or pytest_args=...")
    result = execute(
        target,
        args,
        kwargs,
        schedule=text,
        trace_source=trace_source,
        seed=None,
        trace=trace,
        deadlock_timeout=deadlock_timeout,
        max_steps=max_steps,
        include=include,
        exclude=exclude,
        program=getattr(target, "__qualname__", repr(target)),
    )
    raise_for(result)
    if result.exception is not None:
        raise result.exception
    if result.worker_exceptions and raise_worker_exceptions:
        raise result.worker_exceptions[0][1]
    return result


# The recognized functions are taken at import, before the program could
# wrap `Thread.start` and the like.
_static_tables()
