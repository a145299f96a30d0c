"""Recording a run: ``racetrace.record`` and ``racetrace.record_call``.

The work is done by the native trace function in ``racetrace._native``; this
module gathers what it needs to recognize (the standard library's thread and
synchronization functions, builtin container methods), installs it in new
threads through ``threading.settrace`` and wraps ``threading.excepthook`` so
that a worker's exception is part of the trace.
"""

from __future__ import annotations

import _thread
import atexit
import collections
import os
import queue
import sys
import sysconfig
import threading
import time
import traceback
import warnings
from typing import Any, Callable, Iterable, TypeVar

from racetrace import _native

T = TypeVar("T")

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _code_roles() -> list[tuple[Any, str]]:
    """Standard-library functions whose calls are synchronization operations,
    by code object (what the native side compares against)."""
    t, q = threading, queue
    funcs = [
        (t.Thread.start, "thread_start"),
        (t.Thread.join, "thread_join"),
        (t.Thread._bootstrap_inner, "thread_bootstrap_inner"),
        (t.Event.set, "event_set"),
        (t.Event.clear, "event_clear"),
        (t.Event.wait, "event_wait"),
        (t.Condition.__enter__, "cond_enter"),
        (t.Condition.__exit__, "cond_exit"),
        (t.Condition.wait, "cond_wait"),
        (t.Condition.wait_for, "cond_wait_for"),
        (t.Condition.notify, "cond_notify"),
        (t.Condition.notify_all, "cond_notify_all"),
        (t.Semaphore.acquire, "sem_acquire"),
        (t.Semaphore.release, "sem_release"),
        (t.Semaphore.__exit__, "sem_exit"),
        (t.BoundedSemaphore.release, "sem_release"),
        (t.Barrier.wait, "barrier_wait"),
        (q.Queue.put, "queue_put"),
        (q.Queue.get, "queue_get"),
        (q.Queue.put_nowait, "queue_nowait"),
        (q.Queue.get_nowait, "queue_nowait"),
    ]
    from concurrent.futures import _base, thread as futures_thread

    funcs += [
        (futures_thread._WorkItem.__init__, "future_submit"),
        (futures_thread._WorkItem.run, "future_run"),
        (_base.Future.set_result, "future_set"),
        (_base.Future.set_exception, "future_set"),
        (_base.Future.result, "future_result"),
        (_base.Future.exception, "future_result"),
    ]
    return [(f.__code__, role) for f, role in funcs]


# Builtin methods: which ones read and which write their container. Item
# roles name the key given as first argument; "arg_read" builtins read their
# first argument as a whole.
_METHODS: list[tuple[type, str, str]] = [
    (list, "append extend insert pop remove clear sort reverse", "write"),
    (list, "index count copy __len__ __iter__ __contains__", "read"),
    (dict, "update clear popitem", "write"),
    (dict, "pop setdefault", "item_write"),
    (dict, "get __contains__ __getitem__", "item_read"),
    (dict, "keys values items copy __len__ __iter__", "read"),
    (
        set,
        "add discard remove pop clear update difference_update"
        " intersection_update symmetric_difference_update",
        "write",
    ),
    (set, "copy union intersection difference issubset issuperset isdisjoint __len__", "read"),
    (
        collections.deque,
        "append appendleft extend extendleft pop popleft remove clear rotate insert reverse",
        "write",
    ),
    (collections.deque, "count index copy __len__", "read"),
    (bytearray, "append extend insert pop remove clear reverse", "write"),
    (bytearray, "count index find decode", "read"),
    (_thread.LockType, "acquire acquire_lock __enter__", "lock_acquire"),
    (_thread.LockType, "release release_lock __exit__", "lock_release"),
    (_thread.RLock, "acquire __enter__", "lock_acquire"),
    (_thread.RLock, "release __exit__", "lock_release"),
    (queue.SimpleQueue, "put put_nowait", "queue_put"),
    (queue.SimpleQueue, "get get_nowait", "queue_get"),
]


def _call_roles() -> list[tuple[Any, str]]:
    import builtins

    table: list[tuple[Any, str]] = []
    for cls, names, role in _METHODS:
        for name in names.split():
            attr = cls.__dict__.get(name)
            if attr is not None:
                table.append((attr, role))
    for name in ("len", "sorted", "sum", "min", "max", "any", "all"):
        table.append((getattr(builtins, name), "arg_read"))
    # Copying constructors read their argument as a whole: list(x), dict(d).
    for cls in (list, tuple, set, frozenset, dict, bytearray, collections.deque):
        table.append((cls, "arg_read"))
    table += [
        (getattr, "getattr"),
        (hasattr, "getattr"),
        (setattr, "setattr"),
        (delattr, "delattr"),
        (object.__getattribute__, "getattr"),
        (object.__setattr__, "setattr"),
        (object.__delattr__, "delattr"),
    ]
    # A scheduling point with no memory effect (a `Yield` event): under
    # control a yield to the other actors, not a wall-clock wait.
    table.append((time.sleep, "sleep"))
    return table


def _default_excluded_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    # Console-script wrappers (like `racetrace` itself) live in "scripts".
    dirs = {paths.get("stdlib"), paths.get("platstdlib"), paths.get("scripts"), _PACKAGE_DIR}
    return sorted(os.path.abspath(d) for d in dirs if d)


def _sync_lib_files() -> list[str]:
    """Modules whose internal use of threading primitives is an
    implementation detail (not recorded as the user's operations)."""
    from concurrent.futures import _base, thread as futures_thread

    return [threading.__file__, queue.__file__, _base.__file__, futures_thread.__file__]


def _thread_bootstrap(frame: Any, event: str, arg: Any) -> None:
    """Installed with ``threading.settrace``: runs as each new thread's first
    traced call and hands the thread over to the native trace function."""
    _native.thread_started(frame)
    return None


def _format_exception(exc_type: Any, exc: BaseException | None, tb: Any) -> tuple[str, str, str]:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    return (getattr(exc_type, "__name__", str(exc_type)), str(exc) if exc is not None else "", text)


class record:
    """Records the threads of the program into a trace while the block runs::

        with racetrace.record("run.rtrace"):
            main()

    ``include``/``exclude`` are glob patterns on source file paths: by
    default user code is traced, not the standard library, site-packages or
    racetrace itself; ``include`` adds files (even from those places) and
    ``exclude`` removes files, winning over everything.

    Threads started inside the block are recorded, at any depth, and so are
    threads already running (from their next instruction). The trace ends
    with the outcome: ok, or the exception that ended the block or a worker
    thread (with its traceback). Recording cannot be nested: entering a
    second ``record`` raises ``RuntimeError``; an unwritable path raises
    ``OSError`` before anything is recorded.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "racetrace.rtrace",
        *,
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
        program: str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.include = list(include)
        self.exclude = list(exclude)
        self.program = program if program is not None else " ".join(sys.argv)
        self.events = 0
        self._prev_trace_hook: Any = None
        self._prev_excepthook: Any = None

    def __enter__(self) -> "record":
        if _native.is_recording():
            raise RuntimeError(
                f"racetrace is already recording (into {_native.recording_path()}); "
                "recordings cannot be nested"
            )
        _native.start(
            self.path,
            self.program,
            self.include,
            self.exclude,
            _default_excluded_dirs(),
            _code_roles(),
            _call_roles(),
            _sync_lib_files(),
            [
                (t.ident, t)
                for t in threading.enumerate()
                if t is not threading.current_thread() and t.ident is not None
            ],
        )
        self._prev_trace_hook = threading.gettrace()
        threading.settrace(_thread_bootstrap)
        self._prev_excepthook = threading.excepthook
        threading.excepthook = self._excepthook
        return self

    def _excepthook(self, args: Any) -> None:
        try:
            if _native.is_recording():
                _type, message, text = _format_exception(
                    args.exc_type, args.exc_value, args.exc_traceback
                )
                _native.note_exception(args.thread, _type, message, text)
        finally:
            # The user still sees the exception as without racetrace.
            (self._prev_excepthook or threading.__excepthook__)(args)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        threading.settrace(self._prev_trace_hook)  # type: ignore[arg-type]
        if threading.excepthook == self._excepthook:
            threading.excepthook = self._prev_excepthook
        failure = None
        if exc_type is not None and not (
            issubclass(exc_type, SystemExit) and getattr(exc, "code", None) in (None, 0)
        ):
            failure = _format_exception(exc_type, exc, tb)
        self.events, error = _native.stop(failure)
        if error:
            warnings.warn(f"racetrace: the trace {self.path} may be incomplete: {error}", stacklevel=2)
        return False


# A forked child must not write into its parent's trace: recording stops in
# the child (without closing the parent's file).
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_native.abandon_after_fork)


@atexit.register
def _stop_at_exit() -> None:
    """A recording still open when the interpreter exits (``__exit__`` never
    ran) is closed with an "aborted" outcome rather than left truncated."""
    if _native.is_recording():
        threading.settrace(None)  # type: ignore[arg-type]
        _native.stop(None, "the interpreter exited while recording")


def record_call(
    fn: Callable[..., T],
    *args: Any,
    path: str | os.PathLike[str] = "racetrace.rtrace",
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    **kwargs: Any,
) -> T:
    """Calls ``fn(*args, **kwargs)`` while recording into ``path``; returns
    its result (an exception propagates after the trace is closed)."""
    program = getattr(fn, "__qualname__", repr(fn))
    with record(path, include=include, exclude=exclude, program=program):
        return fn(*args, **kwargs)
