"""The program's trace functions while racetrace traces its threads.

On CPython 3.11, racetrace's recorder occupies each traced thread's trace
slot (from 3.12 on it is a ``sys.monitoring`` tool, and none of this is
needed: :func:`install` does nothing there). So that
debuggers, coverage.py's Python tracer, doctest and anything else built on
``sys.settrace`` or ``threading.settrace`` behave as they do without
racetrace, :func:`install` replaces, for the duration of a recording or a
controlled run:

- ``sys.settrace`` and ``sys.gettrace`` by the native ``_native.settrace``
  and ``_native.gettrace``: in a traced thread, a function the program
  installs is kept beside the recorder and called for its events as
  CPython would call it, and ``gettrace`` returns it (or ``None``); in other
  threads they are the interpreter's own;
- ``threading.settrace`` and ``threading.gettrace``: the program's hook for
  new threads is kept here; each new thread first hands itself to the
  recorder (:func:`thread_bootstrap`), then gets that hook as it would
  have.

:func:`uninstall` puts everything back, the program's latest hook included.

On 3.12+ a controlled run only watches whether the program sets a trace
function (:func:`watch_program_tracers`): with one set, an exploration has
been seen to miss accesses, and the run says so.

While installed, ``threading.Thread.__init__`` also runs without the tracer
(``_native.untraced``): it makes the thread's started event and its
excepthook, no operation a recording writes, but a dozen calls and their
lines reported to the 3.11 tracer for every thread the program makes.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from racetrace import _native

if TYPE_CHECKING:
    from _typeshed import TraceFunction

#: The interpreter's own functions.
real_settrace = sys.settrace
real_gettrace = sys.gettrace
_real_thread_settrace = threading.settrace
_real_thread_gettrace = threading.gettrace

#: What the program gave ``threading.settrace`` (before or while installed).
_program_thread_hook: TraceFunction | None = None
_installed = False
#: ``Thread.__init__`` as the run found it (see ``_thread_init``).
_found_init: Callable[..., None] | None = None


def thread_bootstrap(frame: FrameType, event: str, arg: Any) -> TraceFunction | None:
    """Installed with ``threading.settrace``: runs as each new thread's first
    traced call and hands the thread over to the native trace function, then
    to the program's own hook for new threads, if it has one."""
    _native.thread_started(frame)
    hook = _program_thread_hook
    if hook is None:
        return None
    # What threading would have done: sys.settrace(hook), which then sees
    # this first call. Its answer becomes the frame's local trace function.
    _native.settrace(hook)
    return hook(frame, event, arg)


# The replacements look like what they replace (name, module, docstring):
# code that inspects them, such as CPython's own check that every public
# name of a module is in its __all__, sees no difference.
@functools.wraps(_real_thread_settrace)
def _thread_settrace(func: TraceFunction | None) -> None:
    global _program_thread_hook
    _program_thread_hook = func


@functools.wraps(_real_thread_gettrace)
def _thread_gettrace() -> TraceFunction | None:
    return _program_thread_hook


for _native_fn, _real_fn in ((_native.settrace, real_settrace), (_native.gettrace, real_gettrace)):
    _native_fn.__module__ = _real_fn.__module__


def _thread_init(self: threading.Thread, *args: Any, **kwargs: Any) -> None:
    _native.untraced(_found_init or _real_thread_init, self, *args, **kwargs)


_real_thread_init = threading.Thread.__init__
functools.update_wrapper(_thread_init, _real_thread_init)


#: What a controlled run says when the program set a trace function in one
#: of its actors on CPython 3.12+ (see ``watch_program_tracers``).
PROGRAM_TRACER = (
    "the program set a trace function (sys.settrace) during the run: on CPython 3.12 and 3.13 an exploration"
    " can miss accesses made while one is set, so some orders may not have been explored"
)
_tracer_set = False


def _in_run() -> bool:
    return _native.acting_actor(threading.current_thread()) is not None


@functools.wraps(real_settrace)
def _noting_settrace(func: TraceFunction | None) -> None:
    global _tracer_set
    if func is not None and _in_run():
        _tracer_set = True
    real_settrace(func)


@functools.wraps(_real_thread_settrace)
def _noting_thread_settrace(func: TraceFunction | None) -> None:
    global _tracer_set
    if func is not None:
        _tracer_set = True
    _real_thread_settrace(func)


def watch_program_tracers() -> None:
    """For a controlled run on 3.12+ (``sys.monitoring``): notes whether the
    program sets a trace function in an actor, or one for the threads it
    starts. With one set, the run's accesses have been seen to go missing
    (a race between two threads that each set one was not explored), so
    the run says so (``unwatch_program_tracers``) rather than claim it saw
    everything. Nothing to do on 3.11, where the program's tracer runs
    beside the recorder (``install``)."""
    global _tracer_set
    _tracer_set = False
    if _native.HOOKS_NEW_THREADS:
        sys.settrace = _noting_settrace
        threading.settrace = _noting_thread_settrace


def unwatch_program_tracers() -> list[str]:
    """Ends ``watch_program_tracers``; what the run could not see."""
    if not _native.HOOKS_NEW_THREADS:
        return []
    if sys.settrace is _noting_settrace:
        sys.settrace = real_settrace
    if threading.settrace is _noting_thread_settrace:
        threading.settrace = _real_thread_settrace
    return [PROGRAM_TRACER] if _tracer_set else []


def install() -> None:
    global _program_thread_hook, _installed, _found_init
    if _installed or _native.HOOKS_NEW_THREADS:
        # Under sys.monitoring (3.12+) the recorder occupies no trace slot
        # and sees new threads by itself: the program's tracers are its own.
        return
    _installed = True
    _program_thread_hook = _real_thread_gettrace()
    _real_thread_settrace(thread_bootstrap)
    sys.settrace = _native.settrace
    sys.gettrace = _native.gettrace
    threading.settrace = _thread_settrace
    threading.gettrace = _thread_gettrace
    _found_init = threading.Thread.__init__
    threading.Thread.__init__ = _thread_init  # type: ignore[method-assign]


def uninstall() -> None:
    global _installed, _found_init
    if not _installed:
        return
    _installed = False
    sys.settrace = real_settrace
    sys.gettrace = real_gettrace
    threading.settrace = _real_thread_settrace
    threading.gettrace = _real_thread_gettrace
    _real_thread_settrace(_program_thread_hook)
    if threading.Thread.__dict__.get("__init__") is _thread_init and _found_init is not None:
        threading.Thread.__init__ = _found_init  # type: ignore[method-assign]
    _found_init = None
