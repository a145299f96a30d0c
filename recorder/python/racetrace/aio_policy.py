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
        try:
            super().run_forever()
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
        super().close()


class Policy(asyncio.DefaultEventLoopPolicy):
    """Makes a ``ProgramLoop`` for the run's actors; keeps what their runs
    could not model (see ``ControlledLoop._notes``)."""

    def __init__(self) -> None:
        super().__init__()
        self.notes: set[str] = set()

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        actor = _native.acting_actor(threading.current_thread())
        if actor is None:
            return super().new_event_loop()
        return ProgramLoop(actor, self.notes)


def install() -> tuple[Policy, Any]:
    """Installs the policy for a controlled run; returns it and the one it
    replaces (for ``uninstall``)."""
    before = asyncio.get_event_loop_policy()
    policy = Policy()
    asyncio.set_event_loop_policy(policy)
    return policy, before


def uninstall(installed: tuple[Policy, Any]) -> list[str]:
    """Puts the policy the run found back; what the run's loops could not
    model."""
    policy, before = installed
    asyncio.set_event_loop_policy(before)
    return sorted(policy.notes)
