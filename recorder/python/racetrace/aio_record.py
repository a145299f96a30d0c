"""asyncio tasks as actors of a free-running recording.

While ``racetrace.record`` (or ``racetrace record``) records, every task a
loop creates is an actor of the trace (kind "task", created by the task or
thread that made it), and every step a loop runs of it (its code from one
suspension point to the next) is written as the task's: a ``TaskSwitch``
at the ``await`` it resumes from, its accesses, and at its end an exit.
Two hooks, both removed when recording stops, and neither changes what
the program does:

- ``asyncio.tasks.Task``, which the event loop's ``create_task`` makes,
  is a subclass that names the new task's actor;
- ``asyncio.events.Handle._run``, which the loop calls to run each
  callback, marks the steps of those tasks.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import asyncio.tasks
import threading
from typing import Any

from racetrace import _native
from racetrace.aio_where import coro_frame as _coro_frame, user_frame as _user_frame, where as _where

_saved: tuple[Any, Any] | None = None


class _RecordedTask(asyncio.Task):  # type: ignore[type-arg]
    """A task whose creation is recorded (the loop makes it as usual)."""

    #: Its actor in the trace (None: made in a thread that is not recorded).
    _racetrace_actor: int | None = None

    def __init__(self, coro: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(coro, *args, **kwargs)
        name = kwargs.get("name") or getattr(coro, "__qualname__", None) or self.get_name()
        file, line, func = _where(_user_frame(1))
        actor = _native.record_task_create(threading.current_thread(), name, file, line, func)
        self._racetrace_actor = actor


def _run(handle: asyncio.Handle) -> None:
    task = getattr(handle._callback, "__self__", None)  # type: ignore[attr-defined]
    actor = getattr(task, "_racetrace_actor", None) if isinstance(task, _RecordedTask) else None
    assert _saved is not None
    run = _saved[1]
    if actor is None:
        return run(handle)  # type: ignore[no-any-return]
    file, line, func = _where(_coro_frame(task))  # type: ignore[arg-type]
    _native.record_task_begin(threading.current_thread(), actor, file, line, func)
    try:
        return run(handle)  # type: ignore[no-any-return]
    finally:
        done = task.done()  # type: ignore[union-attr]
        code = getattr(task.get_coro(), "cr_code", None) if done else None  # type: ignore[union-attr]
        if code is not None:
            file, line, func = code.co_filename, code.co_firstlineno, code.co_qualname
        _native.record_task_end(actor, done, file, line, func)


def install() -> None:
    """Records the tasks of every event loop from now on."""
    global _saved
    if _saved is not None:
        return
    _saved = (asyncio.tasks.Task, asyncio.events.Handle._run)
    asyncio.tasks.Task = _RecordedTask  # type: ignore[misc]
    asyncio.events.Handle._run = _run  # type: ignore[method-assign, assignment]


def uninstall() -> None:
    """Puts asyncio back as it was."""
    global _saved
    if _saved is None:
        return
    asyncio.tasks.Task, asyncio.events.Handle._run = _saved  # type: ignore[misc, method-assign]
    _saved = None
