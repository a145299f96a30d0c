"""The OS threads of controlled runs, kept between runs.

Starting an OS thread costs more than a whole controlled run of a small
program, so while a run is controlled ``threading``'s thread start
(``_start_new_thread``, or ``_start_joinable_thread`` from 3.13 on) is
swapped for ``pooled_start``, which hands the new thread's ``_bootstrap``
to an idle pooled thread. Each actor still starts with no thread-local
data and an empty context. A pooled thread waits for its next job on a
native ``Parker`` (which spins a little before it sleeps), and the
driver wakes actor 0's only once it has released the GIL
(``start_without_waiting``, then ``control_wait``).
"""

from __future__ import annotations

import _thread
import contextvars
import os
import sys
import sys as _thread_sys
import threading
from collections.abc import Callable
from typing import Any

from racetrace import _native, tracehooks

RunAborted = _native.RunAborted


class _Worker:
    """An OS thread kept between controlled runs: starting an actor hands it
    the new thread's ``_bootstrap`` instead of creating an OS thread (which
    costs more than a whole run of a small program). Only used while a run
    is controlled (``threading._start_new_thread``, or
    ``_start_joinable_thread`` where ``threading`` has it, is swapped for
    ``pooled_start`` meanwhile)."""

    def __init__(self) -> None:
        # Native: a parked thread spins a little before it sleeps, and the
        # driver wakes actor 0's only once it has let the GIL go (see
        # `control_wait`).
        self.go = _native.Parker()
        self.job: tuple[Callable[..., object], tuple[object, ...]] | None = None
        self.ident = _thread.start_new_thread(self._loop, ())

    def _loop(self) -> None:
        while True:
            self.go.park()
            job, self.job = self.job, None
            if job is None:
                continue
            fn, args = job
            try:
                # A new thread starts with an empty context.
                contextvars.Context().run(fn, *args)
            except BaseException:  # noqa: BLE001 - Thread._bootstrap reports its own
                pass
            finally:
                # Idle from here: no trace or profile function, no tracer
                # of racetrace's (the actor ended when its bootstrap
                # returned; what follows is not the program's, and would
                # only pay for being reported).
                tracehooks.real_settrace(None)
                _thread_sys.setprofile(None)
                _native.forget_thread()
                # The end of an OS thread marks its Thread joined; this one
                # goes on, so do it here (what `join` waits for): release
                # the thread's state lock, or mark its handle done.
                owner = getattr(fn, "__self__", None)
                lock = getattr(owner, "_tstate_lock", None)
                if lock is not None and lock.locked():
                    try:
                        lock.release()
                    except RuntimeError:
                        pass
                handle = getattr(owner, "_handle", None)
                if handle is not None and hasattr(handle, "_set_done") and not handle.is_done():
                    handle._set_done()
            # No thread-local data of the finished actor (what its thread's
            # end would have dropped).
            _native.clear_thread_locals()
            with _idle_lock:
                _idle.append(self)


_idle: list[_Worker] = []
_idle_lock = _thread.allocate_lock()


def _forget_pool_after_fork() -> None:
    # A forked child has none of these threads (and the lock may have been
    # held by one): it starts its own.
    global _idle_lock
    _idle.clear()
    _idle_lock = _thread.allocate_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)
# How `threading` starts a thread: `_start_new_thread(fn, args)` up to 3.12,
# `_start_joinable_thread(fn, handle=..., daemon=...)` from 3.13 on (the
# Thread's `_handle` is then what `join` waits on). Both private: typeshed
# declares none of them, nor threading._time and queue.time, swapped by
# execute().
START_ATTR = "_start_joinable_thread" if hasattr(threading, "_start_joinable_thread") else "_start_new_thread"
real_start_thread: Callable[..., Any] = getattr(threading, START_ATTR)


#: Set while the driver starts actor 0: its worker is kept here instead of
#: being woken, for `control_wait` to wake once the GIL is free.
_deferred: list[_Worker] | None = None


def pooled_start(fn: Callable[..., object], *args: Any, **kwargs: Any) -> Any:
    owner = getattr(fn, "__self__", None)
    joinable = START_ATTR == "_start_joinable_thread"
    if owner is None or (not joinable and (len(args) != 1 or kwargs)):
        return real_start_thread(fn, *args, **kwargs)
    _quiet_when_aborted(owner)
    with _idle_lock:
        w = _idle.pop() if _idle else None
    if w is None:
        w = _Worker()
    if joinable:
        # A handle of the worker's OS thread, marked done when the actor
        # ends (`_Worker._loop`), in place of the one the OS thread's end
        # would have marked.
        owner._handle = threading._make_thread_handle(w.ident)  # type: ignore[attr-defined]
        w.job = (fn, ())
    else:
        w.job = (fn, tuple(args[0]))
    if _deferred is not None:
        _deferred.append(w)
    else:
        w.go.unpark()
    return owner._handle if joinable else 0


def _no_wait(timeout: float | None = None) -> bool:
    return True


def start_without_waiting(main: threading.Thread) -> _native.Parker | None:
    """``main.start()``, without waiting until its thread runs: the driver
    waits for the whole run next (``control_wait``, the GIL released), so
    the actor keeps the GIL from its first instruction instead of handing
    it back to a driver woken by ``Thread.start``'s handshake (a wake-up
    and two GIL switches per execution, a fifth of a small one). Returns
    the parker of the pooled thread that will run it, still parked: for
    ``control_wait`` to wake once the GIL is released."""
    global _deferred
    started = main._started  # type: ignore[attr-defined]
    started.wait = _no_wait
    deferred: list[_Worker] = []
    _deferred = deferred
    try:
        main.start()
    finally:
        _deferred = None
        del started.wait
    return deferred[0].go if deferred else None


def _quiet_when_aborted(thread: object) -> None:
    # An actor of a stopped run unwinds with RunAborted, possibly after the
    # run, when any excepthook may be installed (the caller's, a test
    # framework's): its thread reports everything else as usual.
    report = getattr(thread, "_invoke_excepthook", None)
    if report is None:
        return

    def invoke(t: threading.Thread) -> None:
        if not isinstance(sys.exc_info()[1], RunAborted):
            report(t)

    thread._invoke_excepthook = invoke  # type: ignore[attr-defined]
