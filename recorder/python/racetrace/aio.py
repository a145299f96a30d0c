"""asyncio tasks as actors of a controlled run.

``ControlledLoop`` is an event loop whose every task is an actor: which
ready task runs its next step is the strategy's choice (DPOR, random, PCT,
a replayed schedule), made by the native scheduler like any other step
(``racetrace._native.task_switch``). A task's *step* is its code from one
suspension point to the next (a ``Task`` step, as asyncio runs it); the
other tasks of the loop cannot come between, so the step is atomic: its
events are the task's, and the explorer treats them as one transition.

- A task is made ready by a step of some actor (a future's result set, a
  lock released, a task created): that step is its *waker*, which the
  explorer never puts after it. Callbacks that are not task steps (a
  future's done callbacks, ``gather``'s bookkeeping, timers) run between
  steps, in order, as part of the loop; a task they make ready keeps the
  waker of the step that scheduled them.
- Time is virtual: when no task is ready, the clock jumps to the earliest
  timer, and timers fire in deadline order (``asyncio.sleep(10)`` costs
  nothing). A timeout is an actor instead (see ``call_at``): it fires
  wherever the strategy puts its step.
- Threads of the run (a ``to_thread`` worker, the program's own) go between
  the tasks' steps; a callback a thread hands to the loop is an actor of
  its own (see ``call_soon_threadsafe``).
- When every task waits and no timer or callback is pending, the run
  stops at once with a deadlock naming each task, where it waits and for
  what.
- The loop's own work between the steps and callbacks it runs (choosing,
  bookkeeping, where a task waits) is racetrace's, which the recorder
  ignores; on 3.11 it still paid for every call, line and return reported
  to the tracer, so it runs without it (``_native.untraced``), and what
  must be seen runs through ``_native.traced``: each step and callback,
  and the marks of ``aio_marks``. (An object whose last reference the
  loop's own work drops, a callback's argument, is finalized untraced
  there.)
"""

from __future__ import annotations

import asyncio
import collections
import functools
import heapq
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from racetrace import _native, aio_base, aio_futures, aio_marks, aio_timeouts, aio_where

_ASYNCIO_DIR = os.path.dirname(asyncio.__file__)
#: The asyncio primitives whose state the tasks' steps touch: traced in a
#: controlled run of tasks, so that taking a Lock, setting an Event or
#: putting into a Queue are accesses of the primitive's state (a task that
#: takes a free lock writes its `_locked`), and two steps that use one
#: primitive are dependent. Blocking needs nothing more: a task that waits
#: is not ready, and the step that wakes it is its waker.
PRIMITIVES = [
    *(os.path.join(_ASYNCIO_DIR, name) for name in ("locks.py", "queues.py")),
    # The end of the loop's futures and tasks, and the checks of it.
    aio_marks.__file__,
]



#: What a run of tasks that waited on a timer says it did not see: time
#: is virtual, so a timer fires only once no task is ready.
TIMERS_VIRTUAL = (
    "asyncio timers fire in virtual time, once no task is ready: a sleep (or a call_later) that ends"
    " before work that was ready is not explored (timeouts are: they fire wherever they could)"
)

#: What a run says when a future or task the loop did not make ended (see
#: ``aio_futures``): checks of its end are not accesses it sees.
UNOBSERVED = (
    "a future or task not made by the event loop ended (asyncio.Future() or asyncio.Task() built"
    " directly): its done()/result() checks are not accesses the exploration orders, so an order of"
    " such a check and that end may have been missed (use loop.create_future() / create_task())"
)


#: What a run of tasks says when threads ran beside them (a
#: ``to_thread`` worker, a thread of the program's): a task's step is taken
#: whole, so a thread's steps were placed between the tasks' steps only.
THREADS_BETWEEN_STEPS = (
    "threads ran beside the event loop's tasks: their steps were placed only between the tasks' steps"
    " (at an await), not inside one, so an order where a thread comes between two accesses of one task"
    " step was not explored"
)


def _foreign(obj: object) -> bool:
    """A future whose end is not observed, other than ``gather``'s own
    (its end only wakes its waiters, which are ordered after it)."""
    return (
        isinstance(obj, asyncio.Future)
        and not isinstance(obj, (aio_futures.ObservedFuture, aio_futures.ObservedTask))
        and type(obj).__name__ != "_GatheringFuture"
    )


def _is_timeout(callback: object) -> bool:
    """Whether a timer's callback ends a wait by a timeout: ``wait_for``'s
    and ``wait``'s ``_release_waiter`` (3.11), ``asyncio.timeout``'s
    ``_on_timeout`` (also ``wait_for``'s from 3.12), ``as_completed``'s
    (``_on_timeout``, ``_handle_timeout`` from 3.13)."""
    fn = getattr(callback, "__func__", callback)
    if fn is _RELEASE_WAITER:
        return True
    name = getattr(fn, "__name__", "")
    return name in ("_on_timeout", "_handle_timeout") and str(getattr(fn, "__module__", "")).startswith("asyncio")


_RELEASE_WAITER = getattr(asyncio.tasks, "_release_waiter", None)

_F = TypeVar("_F", bound=Callable[..., Any])


def _loop_work(method: _F) -> _F:
    """A method of the loop's own work that a step calls (the C code of a
    task scheduling its next step, the program making a task or a
    future): it runs untraced, as the loop's work between steps does."""

    @functools.wraps(method)
    def untraced(*args: Any, **kwargs: Any) -> Any:
        return _native.untraced(method, *args, **kwargs)

    return untraced  # type: ignore[return-value]


#: The loop's own looks at its tasks, which are no step's: the C methods
#: (the observed ones are accesses of the step that runs them, see
#: ``aio_futures``).
_done = asyncio.Future.done
_cancelled = asyncio.Future.cancelled
_exception = asyncio.Future.exception


class ControlledLoop(asyncio.BaseEventLoop):
    """An event loop whose tasks are actors of the controlled run in
    progress; ``base`` is the actor of the thread that runs it."""

    # BaseEventLoop's own state, which this loop drives.
    _ready: collections.deque[asyncio.Handle]
    _scheduled: list[Any]
    _timer_cancelled_count: int
    _thread_id: int | None
    _stopping: bool
    #: Whether `stop()` ends `run_forever` (a loop the program runs).
    _stops = False

    def __init__(self, base: int) -> None:
        aio_base.init_base(self)  # (BaseEventLoop.__init__, made once)
        self._base = base
        self._vt = 0.0
        #: Task → its actor; handle → the task whose step it is.
        self._actors: dict[asyncio.Task[Any], int] = {}
        self._names: dict[int, str] = {}
        self._handle_task: dict[asyncio.Handle, asyncio.Task[Any]] = {}
        #: Callbacks handed to the loop by other threads: each is an actor
        #: of its own (see `call_soon_threadsafe`).
        self._handle_actor: dict[asyncio.Handle, int] = {}
        #: Plain callbacks → the event that scheduled them (their waker).
        self._plain_waker: dict[asyncio.Handle, int | None] = {}
        #: The task taking a step, and the waker plain callbacks pass on.
        self._current: int | None = None
        self._passing: int | None = None
        self._creating: int | None = None
        self._timeouts = aio_timeouts.TimeoutActors(self)
        #: How the step that ran last ends (see `_end_step`).
        self._ending: tuple[int, bool, tuple[str, int, str]] | None = None
        self._entered = False
        #: Timers fired and not run yet; set while one runs.
        self._timers: set[asyncio.Handle] = set()
        self._rt_quiet = False
        #: What this run could not model (see `run_tasks`).
        self._notes: set[str] = set()
        #: The actor the loop's thread acts as (its base before any step).
        self._acting = base
        self._dropped = False
        self._endings = aio_marks.Endings()
        _native.traced(aio_marks.opened, self._endings)

    # -- what BaseEventLoop leaves to subclasses (no I/O here) ----------

    def _process_events(self, event_list: Any) -> None:
        pass

    def _write_to_self(self) -> None:
        pass

    def time(self) -> float:
        return self._vt

    # -- tasks and callbacks ----------------------------------------------

    def _waker(self) -> int | None:
        if self._current is not None or (self._thread_id is not None and threading.get_ident() != self._thread_id):
            # A task's step, or a thread of the run's (what it did last).
            return _native.task_now()
        return self._passing

    @_loop_work
    def create_task(self, coro: Any, *, name: str | None = None, context: Any = None) -> asyncio.Task[Any]:  # type: ignore[override]
        if self.is_closed():
            raise RuntimeError("Event loop is closed")
        label = name or getattr(coro, "__qualname__", None) or "task"
        frame = aio_where.user_frame(1)
        code = getattr(coro, "cr_code", None)
        if frame is None and code is not None:
            # Made by racetrace (a worker of an exploration): named by its
            # code.
            file, line, func = code.co_filename, code.co_firstlineno, code.co_qualname
        else:
            file, line, func = aio_where.where(frame)
        task = aio_futures.ObservedTask.blank()
        try:
            actor = self._new_actor(label, file, line, func)
        except _native.RunAborted:
            if hasattr(coro, "close"):
                coro.close()  # the run was stopped: it never starts
            raise
        self._creating = actor
        try:
            if context is None:
                task.__init__(coro, loop=self, name=name)  # type: ignore[misc]
            else:
                task.__init__(coro, loop=self, name=name, context=context)  # type: ignore[misc]
        finally:
            self._creating = None
        self._actors[task] = actor
        return task

    def _new_actor(self, label: str, file: str, line: int, func: str) -> int:
        """A new task's actor, made at ``file:line``. Its creator is the
        actor the loop's thread acts as: the task taking a step, or, from
        a plain callback between steps, the one whose step ran last."""
        actor = _native.task_create(self._base, self._acting, label, file, line, func)
        self._names[actor] = label
        return actor

    def _adopt(self, task: asyncio.Task[Any]) -> int:
        """A task made directly (``asyncio.Task(coro, loop=loop)``, not
        by ``create_task``) schedules its first step: it becomes an actor
        now, created by the task whose step made it. (Its end is not
        observed as that of the loop's own tasks is, see ``aio_futures``.)"""
        actor = self._new_actor(task.get_name(), *aio_where.where(aio_where.user_frame(1)))
        self._actors[task] = actor
        self._notes.add(UNOBSERVED)
        return actor

    @_loop_work
    def call_soon_threadsafe(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        """A callback handed to the running loop by another actor's thread
        (a ``to_thread`` worker's result, ``run_coroutine_threadsafe``, the
        program's own) is an actor of its own, created by that thread's: its
        one step, which the strategy places among the tasks' steps, runs it
        (asyncio runs it between two steps, at one of them)."""
        if self._thread_id is None or threading.get_ident() == self._thread_id:
            return super().call_soon_threadsafe(callback, *args, context=context)
        creator = _native.acting_actor(threading.current_thread())
        if creator is None:  # a thread outside the run
            return super().call_soon_threadsafe(callback, *args, context=context)
        if self.is_closed():
            raise RuntimeError("Event loop is closed")
        handle = asyncio.Handle(callback, args, self, context)
        name = getattr(callback, "__qualname__", None) or type(callback).__name__
        label = f"call_soon_threadsafe({name})"
        actor = _native.task_create(self._base, creator, label, *aio_where.callable_where(callback))
        self._names[actor] = label
        self._handle_actor[handle] = actor
        self._ready.append(handle)
        _native.task_ready(actor, _native.task_now())
        return handle

    @_loop_work
    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        """A timeout set by a task's step is an actor whose one step fires
        it (``ObservedTimeout``): the strategy explores it firing wherever
        it could, before or after what it guards. Other timers (``sleep``,
        ``call_later``) fire in virtual time, once nothing else can go."""
        if not _is_timeout(callback) or self._current is None:
            handle = super().call_at(when, callback, *args, context=context)
            self._timeouts.recheck(False)  # (one may now come after it)
            return handle
        timer = aio_futures.ObservedTimeout(when, callback, args, self, context)
        file, line, func = aio_where.where(aio_where.user_frame(1))
        # Named by where it was set (the `wait_for`, the `async with`).
        label = f"timeout at {os.path.basename(file)}:{line}" if line else "timeout"
        actor = _native.task_create(self._base, self._acting, label, file, line, func)
        _native.traced(aio_marks.armed, timer)
        self._names[actor] = label
        self._handle_actor[timer] = actor
        self._timeouts.set(timer, actor)
        return timer

    @_loop_work
    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        super()._timer_handle_cancelled(handle)  # type: ignore[misc]
        self._timeouts.recheck(False)

    @_loop_work
    def create_future(self) -> asyncio.Future[Any]:
        return aio_futures.ObservedFuture(loop=self)

    @_loop_work
    def call_soon(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        handle = super().call_soon(callback, *args, context=context)
        if args and _foreign(args[0]):
            self._notes.add(UNOBSERVED)  # a done callback of such a future
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, asyncio.Task):
            actor = self._actors.get(owner)
            if actor is None and self._creating is not None:
                actor = self._creating  # the first step, scheduled while it is made
            if actor is None and not _done(owner):
                actor = self._adopt(owner)  # made as `asyncio.Task(coro, loop=...)`
            if actor is not None:
                self._handle_task[handle] = owner
                _native.task_ready(actor, self._waker())
                return handle
        self._plain_waker[handle] = self._waker()
        return handle

    # -- one step -----------------------------------------------------------

    def _run_once(self, draining: bool = False) -> bool:
        """Runs the callbacks that are due, then one task's step; False
        when there was none (``draining``: no timer fires then)."""
        ready = self._ready
        while True:
            # Callbacks that are not steps run first, in order, as the
            # loop's own work between steps.
            n = len(ready)
            steps_ready = False
            for _ in range(n):
                h = ready.popleft()
                if h._cancelled and h not in self._handle_actor:
                    self._handle_task.pop(h, None)
                    self._plain_waker.pop(h, None)
                    self._timers.discard(h)
                    continue
                if h in self._handle_task or h in self._handle_actor:
                    ready.append(h)
                    steps_ready = True
                    continue
                self._passing = self._plain_waker.pop(h, None)
                # A timer's work is no step's (see `aio_futures`).
                self._rt_quiet = h in self._timers
                self._timers.discard(h)
                try:
                    _native.traced(h._run)
                finally:
                    self._passing = None
                    self._rt_quiet = False
            if steps_ready and all(h in self._handle_task or h in self._handle_actor for h in ready):
                break
            if ready:
                continue  # plain callbacks scheduled by plain callbacks
            # `loop.stop()` ends a loop the program runs (`aio_policy`);
            # the workers' loop ends when they do.
            if draining or (self._stopping and self._stops):
                return False
            if _native.loop_others(self._base):
                # Threads of the run may make a task ready: they go, and
                # the timers fire only once none of them can.
                idle = (self._next_timer(), "\n".join(self._waiting()))
                if self._step(idle):
                    return True
                self._fire_timers()
                continue
            if not self._fire_timers():
                self._deadlock()
                if self._stops:
                    self._idle_for_ever()
                return False
        self._step()
        return True

    def _end_step(self) -> None:
        """The step that ran last ends, once the loop's own work after it
        (the callbacks it scheduled) is done: its task suspends (threads
        may have come between the step's events; the loop's other tasks
        could not) or has finished."""
        if self._ending is None:
            return
        actor, finished, where = self._ending
        self._ending = None
        if finished:
            _native.task_exit(actor, *where)
        else:
            _native.task_suspend(actor, *where)

    def _next_timer(self) -> float | None:
        """In how long the earliest live timer fires (None: no timer)."""
        live = [h._when for h in self._scheduled if not h._cancelled]
        return max(0.0, min(live) - self._vt) if live else None

    def _fire_timers(self) -> bool:
        """Moves the clock to the earliest timer; its timers (and those at
        the same time) become ready, in deadline order. False: none."""
        sched: list[Any] = self._scheduled
        while sched and sched[0]._cancelled:
            h = heapq.heappop(sched)
            h._scheduled = False
            self._timer_cancelled_count = max(0, self._timer_cancelled_count - 1)
        if not sched:
            return False
        self._vt = max(self._vt, sched[0]._when)
        self._notes.add(TIMERS_VIRTUAL)
        # A timer fires once no task is ready: what it readies comes after
        # every step so far.
        now = _native.task_now()
        waker = None if now is None else now + _native.TASK_AFTER_ALL
        while sched and sched[0]._when <= self._vt:
            h = heapq.heappop(sched)
            h._scheduled = False
            if not h._cancelled:
                self._plain_waker[h] = waker
                self._timers.add(h)
                self._ready.append(h)
        self._timeouts.recheck(True)
        return True

    def _step(self, idle: tuple[float | None, str] | None = None) -> bool:
        """Runs the step of the task (or thread's callback) the strategy
        chooses; False when it chose none: the timers fire (``idle``: no
        task is ready, only other actors can go, see ``task_switch``)."""
        self._end_step()
        actor, passed_over = _native.task_switch(self._base, idle)
        if passed_over:  # (in the step that ended here)
            self._notes.add(THREADS_BETWEEN_STEPS)
        if actor == self._base:
            # The timers fire: the loop's thread acts as itself (the step
            # that ran last has ended).
            self._acting = self._base
            return False
        self._acting = actor
        self._entered = True
        ready = self._ready
        task = None
        for i, h in enumerate(ready):
            task = self._handle_task.get(h)
            if (task is not None and self._actors.get(task) == actor) or self._handle_actor.get(h) == actor:
                del ready[i]
                self._handle_task.pop(h, None)
                self._handle_actor.pop(h, None)
                break
        else:  # the native side chose a task with nothing to run
            raise RuntimeError(f"racetrace: task T{actor} was chosen but has no step to run")
        self._current = actor
        try:
            if task is None:
                # A thread's callback: one step, its whole life.
                where = aio_where.callable_where(getattr(h, "_callback", None))
                self._ending = (actor, True, where)
                _native.task_begin(self._base, actor, *where)
                if isinstance(h, aio_futures.ObservedTimeout):
                    self._timeouts.ran(h)
                    _native.traced(aio_marks.due, h)
                    if not h._cancelled:
                        _native.traced(aio_marks.fired, h)
                        self._vt = max(self._vt, h.when())  # its time has come
                if not h._cancelled:  # (then its step does nothing)
                    _native.traced(h._run)
                return True
            file, line, func = aio_where.where(aio_where.coro_frame(task))
            _native.task_begin(self._base, actor, file, line, func)
            if isinstance(task, aio_futures.ObservedTask):
                _native.traced(aio_marks.stepping, task)
            _native.traced(h._run)
            if not _done(task):
                # It suspends where it waits now.
                self._ending = (actor, False, aio_where.where(aio_where.coro_frame(task)))
            else:
                file, line, func = aio_where.where(aio_where.user_frame(0))
                code = task.get_coro()
                c = getattr(code, "cr_code", None)
                if c is not None:
                    file, line, func = c.co_filename, c.co_firstlineno, c.co_qualname
                self._ending = (actor, True, (file, line, func))
        finally:
            self._current = None
        return True

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), _native.RunAborted):
            # The run was stopped in a callback: the loop stops with it.
            # (Outside a run of the loop, a task collected later: quiet.)
            if self.is_running():
                raise context["exception"]
            return
        if self._dropped:
            return  # what an abandoned run left behind (see `_abandon`)
        super().call_exception_handler(context)

    def _deadlock(self) -> None:
        """No task ready, no callback, no timer: every pending task waits
        for something only another pending task could give."""
        lines = self._waiting()
        if not lines:
            return  # nothing left at all: the caller's tasks are done
        msg = "deadlock: every task waits and nothing is pending\n" + "\n".join(lines)
        _native.task_deadlock(msg)
        raise _native.RunAborted(msg)

    def _idle_for_ever(self) -> None:
        """A loop the program runs has nothing to do, and nobody can give
        it anything: it would wait for ever."""
        msg = "deadlock: an event loop runs with nothing scheduled and nobody left to schedule anything"
        _native.task_deadlock(msg)
        raise _native.RunAborted(msg)

    def _waiting(self) -> list[str]:
        """Each pending task, where it waits and for what."""
        return aio_where.waiting(self._actors, self._names)

    def run_until_done(self, tasks: Sequence[asyncio.Task[Any]]) -> None:
        """Runs the loop until every task of ``tasks`` is done (what
        ``run_until_complete(gather(*tasks))`` does, without the gathering
        future and its callbacks on every step), then shuts it down (see
        ``_shut_down``)."""
        if self.is_running() or asyncio.events._get_running_loop() is not None:
            raise RuntimeError("racetrace: the controlled loop cannot run inside another event loop")
        self._thread_id = threading.get_ident()
        asyncio.events._set_running_loop(self)
        try:
            while not all(_done(t) for t in tasks):
                self._run_once()
            self._shut_down(tasks)
            while self._run_once(draining=True):
                pass
        finally:
            self._thread_id = None
            asyncio.events._set_running_loop(None)

    def _shut_down(self, workers: Sequence[asyncio.Task[Any]]) -> None:
        """The workers have ended: every other task that has not is
        cancelled, as ``asyncio.run`` cancels what its main left running,
        and the loop runs on (time stopped: no timer fires) until they have
        taken the steps that end them.

        The shutdown is part of the last worker's step, and it marks every
        other task, ended or not, as shut (a footprint that does not depend
        on which have ended); each step of a task reads its mark. So a
        step that ran before the workers ended and one cut off by the
        shutdown are ordered both ways, as any two conflicting steps."""
        for t in self._actors:
            if t not in workers and isinstance(t, aio_futures.ObservedTask):
                _native.traced(aio_marks.shut, t)
        for t in list(self._actors):
            if not _done(t):
                t.cancel()

    def leave(self, close: bool = True) -> None:
        """The loop's thread is its own actor again (called once the loop
        returned, however it returned); ``close``: the loop will not run
        again (its pending tasks are dropped)."""
        try:
            self._end_step()
        except _native.RunAborted:
            pass  # the run was stopped: its loop leaves as it is
        self._acting = self._base
        if _native.task_leave(self._base, close):
            self._notes.add(THREADS_BETWEEN_STEPS)
