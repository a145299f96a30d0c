"""The timeouts of a controlled event loop, as actors.

A timeout (``wait_for``, ``asyncio.timeout``, ``wait``'s and
``as_completed``'s ``timeout=``) is an actor whose one step fires it
(``aio_futures.ObservedTimeout``): it can fire before work that was ready,
since that work may take any time, and the strategy explores it firing
wherever it could. It cannot fire before a timer of the same loop that is
due earlier (a ``sleep(1)`` beside a ``wait_for(..., 2)``): time is the same
for both. Such a timeout is *held* (not ready) until the earlier timers
have fired or been cancelled.
"""

from __future__ import annotations

import asyncio
from typing import Any

from racetrace import _native


class TimeoutActors:
    """The pending timeout actors of one loop (``loop._ready`` holds the
    handles of those that are ready, as it does the tasks' steps)."""

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        #: Handle → its actor, until its step runs.
        self.pending: dict[asyncio.TimerHandle, int] = {}
        self._held: set[asyncio.TimerHandle] = set()
        #: The step that set a timeout that was ready then: held later (a
        #: timer due earlier was set after it), it is ready again after
        #: that step only, as it could have fired before that timer
        #: existed.
        self._set_by: dict[asyncio.TimerHandle, int | None] = {}

    def _earliest_timer(self) -> float | None:
        live = [h._when for h in self._loop._scheduled if not h._cancelled]
        return min(live) if live else None

    def set(self, timer: asyncio.TimerHandle, actor: int) -> None:
        """A timeout was just set by the step in progress."""
        self.pending[timer] = actor
        first = self._earliest_timer()
        if first is not None and first < timer.when():
            self._held.add(timer)
        else:
            now = _native.task_now()
            self._set_by[timer] = now
            self._ready(timer, actor, now)

    def ran(self, timer: asyncio.TimerHandle) -> None:
        """Its step was chosen."""
        self.pending.pop(timer, None)
        self._held.discard(timer)
        self._set_by.pop(timer, None)

    def recheck(self, after_timers: bool) -> None:
        """The loop's timers changed (one set, cancelled or fired): holds
        the timeouts that an earlier timer now precedes, and lets go those
        it no longer does (after every step so far when ``after_timers``:
        they become ready as a timer firing once nothing can go)."""
        if not self.pending:
            return
        first = self._earliest_timer()
        for timer, actor in self.pending.items():
            early = first is not None and first < timer.when()
            if timer in self._held and not early:
                self._held.discard(timer)
                if timer in self._set_by:
                    waker = self._set_by[timer]
                else:
                    now = _native.task_now()
                    waker = now + _native.TASK_AFTER_ALL if after_timers and now is not None else now
                self._ready(timer, actor, waker)
            elif timer not in self._held and early:
                self._held.add(timer)
                _native.task_hold(actor)
                try:
                    self._loop._ready.remove(timer)
                except ValueError:
                    pass

    def _ready(self, timer: asyncio.TimerHandle, actor: int, waker: int | None) -> None:
        self._loop._ready.append(timer)
        _native.task_ready(actor, waker, max(0.0, timer.when() - self._loop._vt))
