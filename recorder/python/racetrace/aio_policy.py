"""The event loops a program makes during a controlled run.

``asyncio.run``, ``asyncio.new_event_loop`` and ``asyncio.Runner`` ask the
event loop policy for a loop; during a controlled run the policy installed
here gives every actor of the run a ``ProgramLoop``: a ``ControlledLoop``
run by that actor's thread, so the tasks of a loop per thread (or of the
program's main loop) are actors whose order the strategy chooses, as the
workers' tasks of an exploration are. A loop made by a thread outside the
run is asyncio's own.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
import weakref
from typing import Any

from racetrace import _native
from racetrace.aio import ControlledLoop
from racetrace.aio_run import drop_pending


class ProgramLoop(ControlledLoop):
    """A controlled loop the program runs itself (``run_forever``,
    ``run_until_complete``): ``stop()`` ends its run, and between runs its
    thread is its own actor again."""

    _stops = True

    def __init__(self, base: int, notes: set[str]) -> None:
        super().__init__(base)
        self._notes = notes

    def run_forever(self) -> None:
        runner = _native.acting_actor(threading.current_thread())
        if runner is not None and runner != self._base:
            # Made by one actor, run by another (a background loop thread
            # running `run_forever`): its tasks are run by this thread now.
            _native.task_rebase(self._base, runner)
            self._base = self._acting = runner
        try:
            # The loop's own work is not traced (see `ControlledLoop`).
            _native.untraced(super().run_forever)
        except _native.RunAborted:
            # The run was stopped: what the loop leaves is dropped quietly
            # (`asyncio.run` goes on to close it as the thread unwinds).
            drop_pending(self)
            raise
        finally:
            # Its pending tasks wait for the next run (asyncio.run's
            # cancellation of leftovers, a second run_until_complete).
            self.leave(close=False)

    def close(self) -> None:
        _native.task_close(self._base)
        if self._dropped:
            _drop_queued(self)
        super().close()


def _drop_queued(loop: ControlledLoop) -> None:
    """What a stopped run left queued on ``loop`` (a coroutine another
    thread handed over with ``run_coroutine_threadsafe``, never started)
    goes without asyncio's complaint: the program would have run it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        loop._ready.clear()


class Policy(asyncio.DefaultEventLoopPolicy):
    """Makes a ``ProgramLoop`` for the run's actors; keeps what their runs
    could not model (see ``ControlledLoop._notes``)."""

    def __init__(self) -> None:
        super().__init__()
        self.notes: set[str] = set()
        self.loops: weakref.WeakSet[ProgramLoop] = weakref.WeakSet()

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        actor = _native.acting_actor(threading.current_thread())
        if actor is None:
            return super().new_event_loop()
        loop = ProgramLoop(actor, self.notes)
        self.loops.add(loop)
        return loop


def install() -> tuple[Policy, Any]:
    """Installs the policy for a controlled run; returns it and the one it
    replaces (for ``uninstall``)."""
    before = asyncio.get_event_loop_policy()
    policy = Policy()
    asyncio.set_event_loop_policy(policy)
    return policy, before


def uninstall(installed: tuple[Policy, Any], stopped: bool) -> list[str]:
    """Puts the policy the run found back; what the run's loops could not
    model. ``stopped``: the run did not end by itself (its loops may hold
    what it never got to run, see ``_drop_queued``)."""
    policy, before = installed
    asyncio.set_event_loop_policy(before)
    if stopped:
        for loop in list(policy.loops):
            if not loop.is_closed():
                _drop_queued(loop)
    return sorted(policy.notes)
