"""A new controlled loop's ``BaseEventLoop`` state, made once per process.

``BaseEventLoop.__init__`` asks the OS for the monotonic clock's resolution
and the environment for asyncio's debug mode: for an exploration of a small
program that is a tenth of a run, at every execution. What it sets is plain
values and empty containers, so it is made once, on a probe loop, and each
new controlled loop gets the same values and new empty containers of the
same types. Should a Python's loop hold anything else, every loop runs
``__init__`` as before.

The debug mode is thus the one asyncio had when racetrace made its first
loop (``PYTHONASYNCIODEBUG`` changed later in the process is not seen;
``asyncio.run(debug=...)`` and ``set_debug`` work as ever).
"""

from __future__ import annotations

import asyncio
import collections
import weakref
from typing import Any

#: Values shared by every loop, and containers each loop gets anew.
_PLAIN = (type(None), bool, int, float, str)
_FRESH = (collections.deque, list, dict, set, weakref.WeakSet)


class _Probe(asyncio.BaseEventLoop):
    def __del__(self) -> None:
        pass  # never run nor closed: nothing to warn about


_template: dict[str, Any] | None = None
_usable = True


def init_base(loop: asyncio.BaseEventLoop) -> None:
    """Does what ``asyncio.BaseEventLoop.__init__(loop)`` does."""
    global _template, _usable
    if _template is None and _usable:
        state = dict(vars(_Probe()))
        if all(type(v) in _PLAIN or (type(v) in _FRESH and not v) for v in state.values()):
            _template = state
        else:
            _usable = False
    if _template is None:
        asyncio.BaseEventLoop.__init__(loop)
        return
    attrs = loop.__dict__
    for name, value in _template.items():
        attrs[name] = type(value)() if type(value) in _FRESH else value
