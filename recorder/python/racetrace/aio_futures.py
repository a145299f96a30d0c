"""Futures and tasks whose end is an access the exploration sees.

asyncio's futures and tasks are C objects: a task that ends, a future that
gets its result, and the ``done()`` that looks at it, touch no Python state
the recorder traces. Two steps (one ending a task, one asking whether it
ended, as ``asyncio.wait(FIRST_COMPLETED)`` does) would then look
independent, and only one of their orders would be explored.

The controlled loop makes its futures and tasks from these subclasses
(``isinstance(t, asyncio.Task)`` still holds), and ``aio_marks`` is traced
during a controlled run of tasks (``aio.PRIMITIVES``), so that:

- a future's end writes its ``_rt_done`` (in the done callback every such
  future gets first, which the loop runs right after the step that ended
  it, as part of that step);
- ``done()``, ``result()``, ``exception()`` and ``cancelled()`` read it;
- a task that ends by an exception or a cancellation also writes its
  loop's ``Endings`` (``gather`` and ``TaskGroup`` keep what the first of
  several failures did in C or untraced state).

Only ``aio_marks`` is traced, not this module: its calls into the C base
class would be taken for writes of the whole object.

The C code that resumes a task awaiting a future reads the future's state
without these methods; it needs nothing more, since the awaiting task is
not ready before the step that ended the future (its waker).
"""

from __future__ import annotations

import asyncio
from typing import Any

from racetrace import _native, aio_marks

# The marks are called through `traced`: the loop's own work, which may
# make a task or end a future, runs untraced (see `ControlledLoop`), and
# a mark must be seen wherever it is made.
_traced = _native.traced


def _begun(fut: Any) -> None:
    _traced(aio_marks.begun, fut)


def _saw(fut: Any) -> None:
    _traced(aio_marks.saw, fut)


def _ended(fut: Any) -> None:
    _traced(aio_marks.ended, fut)


def _failed(endings: aio_marks.Endings) -> None:
    _traced(aio_marks.failed, endings)


def _disarmed(timer: Any) -> None:
    _traced(aio_marks.disarmed, timer)


def _quiet(fut: asyncio.Future[Any]) -> bool:
    """Whether ``fut``'s loop is firing a timer: what a timer does is no
    step's (it fires once no task is ready, and the steps it readies come
    after every step before it), so it leaves no mark."""
    return bool(getattr(fut.get_loop(), "_rt_quiet", False))


def _end_of(fut: ObservedFuture) -> None:
    if not fut._rt_silent:
        _ended(fut)


def _task_end(task: ObservedTask) -> None:
    _ended(task)
    # (`_exception`, not `exception()`, which would take the exception as
    # retrieved.)
    if asyncio.Future.cancelled(task) or task._exception is not None:
        endings = getattr(task.get_loop(), "_endings", None)
        if endings is not None:
            _failed(endings)


class _Checks:
    """The checks of an end, each a read of it (``_look``) before the C
    method."""

    def _look(self) -> None:
        raise NotImplementedError

    def done(self) -> bool:
        self._look()
        return super().done()  # type: ignore[misc, no-any-return]

    def cancelled(self) -> bool:
        self._look()
        return super().cancelled()  # type: ignore[misc, no-any-return]

    def result(self) -> Any:
        self._look()
        return super().result()  # type: ignore[misc]

    def exception(self) -> BaseException | None:
        self._look()
        return super().exception()  # type: ignore[misc, no-any-return]


class ObservedFuture(_Checks, asyncio.Future):  # type: ignore[type-arg]
    """An ``asyncio.Future`` whose end and whose checks are traced accesses
    (none while a timer fires)."""

    def __init__(self, *, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(loop=loop)
        _begun(self)
        self._rt_silent = False
        self.add_done_callback(_end_of)

    def _look(self) -> None:
        if not _quiet(self):
            _saw(self)

    def set_result(self, result: Any) -> None:
        self._rt_silent = _quiet(self)
        super().set_result(result)

    def set_exception(self, exception: BaseException | type[BaseException]) -> None:
        self._rt_silent = _quiet(self)
        super().set_exception(exception)

    def cancel(self, msg: Any = None) -> bool:
        self._rt_silent = _quiet(self)
        return super().cancel(msg)


class ObservedTask(_Checks, asyncio.Task):  # type: ignore[type-arg]
    """An ``asyncio.Task`` whose end and whose checks are traced accesses.
    Made in two halves (see ``blank``), so that its mark is written before
    the task is created as an actor."""

    @classmethod
    def blank(cls) -> ObservedTask:
        """The object, marked as not ended, before it is a task
        (``__init__`` makes it one): the mark is the creator's, before the
        creation, so no step of the task can come before it."""
        task = asyncio.Task.__new__(cls)
        _begun(task)
        return task

    def __init__(self, coro: Any, *, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any) -> None:
        super().__init__(coro, loop=loop, **kwargs)
        self.add_done_callback(_task_end)

    def _look(self) -> None:
        _saw(self)


class ObservedTimeout(asyncio.TimerHandle):
    """The timer of a timeout (``wait_for``, ``asyncio.timeout``, ``wait``'s
    and ``as_completed``'s ``timeout=``): an actor of the controlled loop
    whose one step fires it, wherever the strategy puts that step (see
    ``ControlledLoop.call_at``). Its cancellation writes its mark, which
    the firing step reads: the two are ordered both ways."""

    def cancel(self) -> None:
        if not self._cancelled:
            _disarmed(self)
        super().cancel()
