"""Where the tasks of a controlled event loop are, in the user's code:
where a task was made or waits, where a callback's code is, and what each
pending task waits for (for a deadlock report)."""

from __future__ import annotations

import asyncio
import linecache
import os
import sys
import sysconfig
from collections.abc import Mapping
from types import CodeType, FrameType
from typing import Any

_ASYNCIO_DIR = os.path.dirname(asyncio.__file__)
_HERE = os.path.dirname(os.path.abspath(__file__))

#: Frames of these directories are never where the user's code waits or
#: creates a task (asyncio itself, racetrace, the rest of the standard
#: library).
_NOT_USER = (_ASYNCIO_DIR, _HERE, sysconfig.get_paths()["stdlib"])

_done = asyncio.Future.done


def user_frame(depth: int) -> FrameType | None:
    """The innermost frame outside asyncio and racetrace, from ``depth``."""
    f: FrameType | None = sys._getframe(depth + 1)
    while f is not None:
        if not f.f_code.co_filename.startswith(_NOT_USER):
            return f
        f = f.f_back
    return None


def where(frame: FrameType | None) -> tuple[str, int, str]:
    if frame is None:
        return ("<asyncio>", 0, "<loop>")
    return (frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_qualname)


def coro_frame(task: asyncio.Task[Any]) -> FrameType | None:
    """The innermost user frame of ``task``'s suspended coroutine chain:
    where it awaits (the chain goes on down into asyncio: a lock's
    acquire, a queue's get, ``sleep``)."""
    coro: Any = task.get_coro()
    user = None
    while coro is not None:
        f = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if f is None:
            break
        code = f.f_code
        mine = _USER_CODE.get(code)
        if mine is None:
            mine = _USER_CODE[code] = not code.co_filename.startswith(_NOT_USER)
        if mine:
            user = f
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return user


#: Whether a code object is the user's (not asyncio's, racetrace's or the
#: standard library's), by code object (kept: code objects of coroutines
#: are few and live as long as their functions).
_USER_CODE: dict[CodeType, bool] = {}


def callable_where(fn: object) -> tuple[str, int, str]:
    """Where a callback's code is (its function's first line)."""
    inner = getattr(fn, "func", fn)  # a functools.partial
    code = getattr(getattr(inner, "__func__", inner), "__code__", None)
    if code is None:
        return ("<asyncio>", 0, getattr(inner, "__qualname__", type(inner).__name__))
    return (code.co_filename, code.co_firstlineno, code.co_qualname)


def source_line(file: str, line: int) -> str:
    return linecache.getline(file, line).strip()


def waiting(actors: Mapping[asyncio.Task[Any], int], names: Mapping[int, str]) -> list[str]:
    """Each pending task of ``actors`` (task → actor), where it waits and
    for what, a line each."""
    pending = [(a, t) for t, a in actors.items() if not _done(t)]
    lines = []
    for actor, task in sorted(pending, key=lambda x: x[0]):
        file, line, func = where(coro_frame(task))
        text = source_line(file, line)
        what = _awaits(task, actors, names)
        lines.append(
            f"  T{actor} ({names.get(actor, '?')}) awaits {what} at {file}:{line} in {func}"
            + (f": {text}" if text else "")
        )
    return lines


def _awaits(task: asyncio.Task[Any], actors: Mapping[asyncio.Task[Any], int], names: Mapping[int, str]) -> str:
    fut = getattr(task, "_fut_waiter", None)
    if isinstance(fut, asyncio.Task) and fut in actors:
        a = actors[fut]
        return f"task T{a} ({names.get(a, '?')})"
    # A future a primitive made: which primitive waits on it.
    frame: Any = None
    coro: Any = task.get_coro()
    while coro is not None:
        f = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if f is None:
            break
        frame = f
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    if frame is not None and frame.f_code.co_filename.startswith(_ASYNCIO_DIR):
        owner = frame.f_locals.get("self")
        kind = type(owner).__name__ if owner is not None else "a future"
        return f"{kind}.{frame.f_code.co_name}()"
    return "a future nobody will complete"
