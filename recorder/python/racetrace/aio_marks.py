"""The accesses that make a future's end (and a timeout's cancellation)
visible to an exploration of tasks (see ``aio_futures``). Traced during a controlled run of tasks: keep
it to these plain attribute accesses (a call into C here would be taken
for a write of the whole object)."""

from __future__ import annotations

from typing import Any


class Endings:
    """One per controlled loop: the end of every task that failed or was
    cancelled writes it, so that two such ends are ordered both ways (which
    exception ``gather`` raises, the order of a ``TaskGroup``'s errors)."""

    failures = 0


def opened(endings: Endings) -> None:
    """The loop's ``Endings`` was just made (named by the loop's thread)."""
    endings.failures = 0


def failed(endings: Endings) -> None:
    """A task of the loop ended by an exception or a cancellation."""
    endings.failures = 1


def begun(fut: Any) -> None:
    """``fut`` was just made: not ended. Also names the object in the step
    that made it (the exploration names an object made during a run by
    the actor that first touches it: that must not depend on the order)."""
    fut._rt_done = False
    fut._rt_shut = False


def stepping(task: Any) -> None:
    """A step of ``task`` begins: it reads whether the run was shut down
    (then the step is the one that ends it, cancelled)."""
    task._rt_shut  # noqa: B018 - the read the exploration sees


def shut(task: Any) -> None:
    """The workers have ended: ``task``, not one of them, is cancelled if
    it has not ended (as ``asyncio.run`` does when its main returns)."""
    task._rt_shut = True


def saw(fut: Any) -> None:
    """A check of whether ``fut`` has ended: a read of its end."""
    fut._rt_done  # noqa: B018 - the read the exploration sees


def ended(fut: Any) -> None:
    """``fut`` has ended (its first done callback): a write of its end."""
    fut._rt_done = True


def armed(timer: Any) -> None:
    """A timeout was set (by the step that set it)."""
    timer._rt_off = False


def disarmed(timer: Any) -> None:
    """A timeout was cancelled: what it guarded ended first."""
    timer._rt_off = True


def due(timer: Any) -> None:
    """A timeout fires: it reads whether it was cancelled."""
    timer._rt_off  # noqa: B018 - the read the exploration sees


def fired(timer: Any) -> None:
    """A timeout fires (it was not cancelled): what an explanation shows."""
    timer._rt_fired = True
