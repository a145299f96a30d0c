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

On 3.12+ the recorder takes no trace slot, and :func:`install` only
replaces ``sys.settrace`` by ``_native.settrace``, which there is the
interpreter's followed by ``sys.monitoring.restart_events()``: CPython 3.12
and 3.13 drop the INSTRUCTION events of other tools on the code objects
running when legacy tracing is turned on or off inside them, and a program
that set a tracer in a traced function went on unseen from there.

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


def install() -> None:
    global _program_thread_hook, _installed, _found_init
    if _installed:
        return
    if _native.HOOKS_NEW_THREADS:
        # Under sys.monitoring (3.12+) the recorder occupies no trace slot
        # and sees new threads by itself: the program's tracers are its
        # own, but setting one must not take the recorder's events away.
        # (`_native.settrace` there is the interpreter's, then
        # `sys.monitoring.restart_events()`: see `cpython/monitoring`.)
        _installed = True
        sys.settrace = _native.settrace
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
    if _native.HOOKS_NEW_THREADS:
        return
    sys.gettrace = real_gettrace
    threading.settrace = _real_thread_settrace
    threading.gettrace = _real_thread_gettrace
    _real_thread_settrace(_program_thread_hook)
    if threading.Thread.__dict__.get("__init__") is _thread_init and _found_init is not None:
        threading.Thread.__init__ = _found_init  # type: ignore[method-assign]
    _found_init = None
