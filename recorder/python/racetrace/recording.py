"""Recording a run: ``racetrace.record`` and ``racetrace.record_call``.

The work is done by the native hook in ``racetrace._native``; this module
hands it what it needs to recognize (``racetrace.tables``: the standard
library's thread and synchronization functions, builtin container
methods), hands it new threads where the hook needs that
(``racetrace.tracehooks``: CPython 3.11's per-thread trace function;
``sys.monitoring`` sees new threads by itself) and wraps
``threading.excepthook`` so that a worker's exception is part of the
trace.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, NoReturn, TypeVar

from racetrace import _native, aio_record, tables, tracehooks
from racetrace.config import Recognized, RecordConfig

T = TypeVar("T")


def format_exception(
    exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
) -> tuple[str, str, str]:
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
        self._prev_excepthook: Callable[[threading.ExceptHookArgs], object] | None = None
        self._pid = os.getpid()

    def __enter__(self) -> record:
        if _native.is_recording():
            raise RuntimeError(
                f"racetrace is already recording (into {_native.recording_path()}); "
                "recordings cannot be nested"
            )
        _native.start(
            RecordConfig(
                path=self.path,
                program=self.program,
                include=list(self.include),
                exclude=list(self.exclude),
                recognized=Recognized(
                    excluded_dirs=tables.default_excluded_dirs(),
                    code_roles=tables.code_roles(),
                    calls=tables.call_roles(),
                    sync_lib_files=tables.sync_lib_files(),
                    own_dir=tables.PACKAGE_DIR,
                ),
                running_threads=[
                    (t.ident, t)
                    for t in threading.enumerate()
                    if t is not threading.current_thread() and t.ident is not None
                ],
            )
        )
        global _active
        _active = self
        self._pid = os.getpid()
        tracehooks.install()
        aio_record.install()
        os._exit = _exit_closing_the_trace
        self._prev_excepthook = threading.excepthook
        threading.excepthook = self._excepthook
        return self

    def _excepthook(self, args: threading.ExceptHookArgs) -> None:
        try:
            # threading ignores SystemExit in a thread (the thread just
            # ends, silently): it is not a failure of the run either.
            if _native.is_recording() and not issubclass(args.exc_type, SystemExit):
                _type, message, text = format_exception(
                    args.exc_type, args.exc_value, args.exc_traceback
                )
                _native.note_exception(args.thread, _type, message, text)
        finally:
            # The user still sees the exception as without racetrace.
            (self._prev_excepthook or threading.__excepthook__)(args)

    def _restore_hooks(self) -> None:
        global _active
        _active = None
        tracehooks.uninstall()
        aio_record.uninstall()
        if os._exit is _exit_closing_the_trace:
            os._exit = _real_exit
        if threading.excepthook == self._excepthook:
            # None (threading then uses its default hook) is put back as it
            # was, though typeshed does not allow it.
            threading.excepthook = self._prev_excepthook  # type: ignore[assignment]

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._restore_hooks()
        if self._pid != os.getpid():
            return  # a forked child leaving the block: the recording is its parent's
        failure = None
        if exc_type is not None and not (
            issubclass(exc_type, SystemExit) and getattr(exc, "code", None) in (None, 0)
        ):
            failure = format_exception(exc_type, exc, tb)
        self.events, error = _native.stop(failure)
        if error:
            warnings.warn(f"racetrace: the trace {self.path} may be incomplete: {error}", stacklevel=2)


_real_exit = os._exit


def _exit_closing_the_trace(status: int) -> NoReturn:
    """``os._exit`` while recording: ``atexit`` handlers do not run, so the
    trace is closed here first, its outcome saying how the run ended; then
    the process exits with ``status`` as it would have."""
    if _native.is_recording():
        try:
            tracehooks.uninstall()
            _native.stop(None, f"the program called os._exit({status})")
        except BaseException:  # noqa: BLE001 - the exit must happen regardless
            pass
    _real_exit(status)


#: The recording in progress in this process, if any.
_active: record | None = None


def _after_fork_in_child() -> None:
    """A forked child does not record, and never writes into its parent's
    trace: recording stops in the child (the parent's file untouched) and
    the hooks are put back as they were before recording."""
    _native.abandon_after_fork()
    if _active is not None:
        _active._restore_hooks()
        if not _native.HOOKS_NEW_THREADS:
            tracehooks.real_settrace(None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _stop_at_exit() -> None:
    """A recording still open when the interpreter exits (``__exit__`` never
    ran) is closed with an "aborted" outcome rather than left truncated."""
    if _native.is_recording():
        tracehooks.uninstall()
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
