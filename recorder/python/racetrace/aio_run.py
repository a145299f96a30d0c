"""Running tasks on a controlled event loop: the workers of an
exploration as tasks of one loop (``run_tasks``), the end of such a run
(the default executor joined, leftovers dropped quietly), and an async
``setup`` or ``invariant`` outside the run (``run_plain``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from racetrace import _native, aio_where
from racetrace.aio import ControlledLoop, _cancelled, _done, _exception


def run_tasks(
    fns: Sequence[Callable[[Any], Any]],
    state: Any,
    labels: Sequence[str],
    *,
    base: int = 0,
    notes: list[str] | None = None,
) -> list[tuple[str, BaseException]]:
    """Runs ``fn(state)`` for each ``fn`` as a task of a controlled loop
    run by this thread (actor ``base``), until they are all done; returns
    the exceptions that ended them, by label. Appends to ``notes`` what the
    run could not model (``TIMERS_VIRTUAL``, ``UNOBSERVED``). The loop's
    own work runs untraced (see ``ControlledLoop``)."""
    return _native.untraced(_run_tasks, fns, state, labels, base, notes)


def _run_tasks(
    fns: Sequence[Callable[[Any], Any]],
    state: Any,
    labels: Sequence[str],
    base: int,
    notes: list[str] | None,
) -> list[tuple[str, BaseException]]:
    loop = ControlledLoop(base)
    errors: list[tuple[str, BaseException]] = []
    tasks: list[asyncio.Task[Any]] = []
    unretrieved: list[tuple[str, BaseException]] = []
    ended = False
    try:
        for fn, label in zip(fns, labels, strict=False):
            coro: Any = _native.traced(fn, state)  # (program code, if not `async def`)
            try:
                tasks.append(loop.create_task(coro, name=label))
            except BaseException:
                coro.close()  # never started: nothing to say about it
                raise
        loop.run_until_done(tasks)
        unretrieved = _never_retrieved(loop, tasks)
        ended = True
    finally:
        loop.leave()
        try:
            if ended:
                # Joins threads: synchronization the run must see.
                _native.traced(_join_executor, loop)
        finally:
            _abandon(loop)
            if notes is not None:
                notes.extend(sorted(loop._notes))
    file, line, func = aio_where.where(aio_where.user_frame(0))
    for t, label in zip(tasks, labels, strict=False):
        _native.task_await(base, loop._actors[t], file, line, func)
        exc = _exception(t) if not _cancelled(t) else asyncio.CancelledError()
        if exc is not None and not isinstance(exc, _native.RunAborted):
            errors.append((label, exc))
    return errors + unretrieved


def _never_retrieved(loop: ControlledLoop, workers: Sequence[asyncio.Task[Any]]) -> list[tuple[str, BaseException]]:
    """The exceptions that ended tasks other than the workers and that
    nobody retrieved (awaited, ``gather``-ed, asked for): asyncio would only
    log them when the task is collected; an exploration reports them, as it
    does an exception that ends a thread."""
    out = []
    for t, actor in loop._actors.items():
        if t in workers or not _done(t) or _cancelled(t) or not getattr(t, "_log_traceback", False):
            continue
        exc = _exception(t)
        if exc is not None and not isinstance(exc, _native.RunAborted):
            out.append((f"T{actor} ({loop._names.get(actor, '?')}, never awaited)", exc))
    return out


def _join_executor(loop: ControlledLoop) -> None:
    """Waits for the threads of the loop's default executor (``to_thread``,
    ``run_in_executor(None, ...)``) once its tasks are done, as
    ``asyncio.run`` does: by then the loop's thread is its own actor again,
    and it joins them as any thread joins another."""
    executor = loop._default_executor  # type: ignore[attr-defined]
    if executor is not None:
        loop._default_executor = None  # type: ignore[attr-defined]
        executor.shutdown(wait=True)


def _abandon(loop: ControlledLoop) -> None:
    """Closes a loop whose run is over, however it ended (see
    ``drop_pending``)."""
    drop_pending(loop)
    asyncio.events._set_running_loop(None)
    loop._ready.clear()
    loop._scheduled.clear()
    loop.close()


def drop_pending(loop: ControlledLoop) -> None:
    """Tasks of a loop whose run is over that never started are closed,
    those left waiting are dropped without asyncio's complaints (the run
    that made them was stopped), and the exceptions of finished ones are
    taken (they are reported as the run's)."""
    for t in loop._actors:
        if _done(t):
            if not _cancelled(t):
                _exception(t)
            continue
        t._log_destroy_pending = False  # type: ignore[attr-defined]
        # Closed now, while the loop is open: its `finally` blocks and
        # `async with` exits run here (not when it is collected, on a closed
        # loop); the run is over, so what they do is not recorded.
        coro: Any = t.get_coro()
        try:
            coro.close()
        except BaseException:  # noqa: BLE001 - an abandoned task's last words
            pass
    loop._dropped = True


def run_plain(coro: Awaitable[Any]) -> Any:
    """Runs a coroutine to its end on a plain event loop of its own (an
    async ``setup`` or ``invariant``, outside the controlled run)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
