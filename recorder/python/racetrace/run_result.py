"""How a controlled run went (``RunResult``), and the errors that
``racetrace.run`` and ``racetrace.replay`` raise for a run that did not
complete."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ScheduleError(ValueError):
    """A schedule or trace to replay is malformed, of an unsupported format
    version, or cannot fit any run (raised before anything runs)."""


class RunError(Exception):
    """A controlled run did not complete; ``result`` says how far it got."""

    def __init__(self, message: str, result: RunResult) -> None:
        super().__init__(message)
        self.result = result


class DeadlockError(RunError):
    """Every live actor was blocked: the message says who waits for what,
    where, and who holds what."""


class DivergenceError(RunError):
    """The program did not follow the replayed schedule (it was edited, or
    depends on something the scheduler does not control): the message gives
    the step, the actor, the expected and the actual event."""


class ControlTimeout(RunError):
    """A turn did not reach its next scheduling point within
    ``deadlock_timeout`` seconds: the actor is blocked (or busy) where the
    scheduler cannot see."""


class StepLimitError(RunError):
    """The run took more than ``max_steps`` steps."""


@dataclass
class RunResult:
    """How a controlled run went."""

    #: ``ok``, ``exception`` (an actor raised), ``deadlock``, ``divergence``,
    #: ``timeout``, ``step_limit`` or ``interrupted``.
    status: str
    #: The report for anything but ``ok``/``exception``.
    message: str
    #: The schedule executed (one actor per step), replayable as it is.
    schedule: str
    steps: int
    preemptions: int
    elapsed: float
    #: The trace written (None unless asked for).
    trace: str | None
    #: What the main actor's target returned.
    value: Any = None
    #: The exception that escaped the main actor, if any.
    exception: BaseException | None = None
    #: Exceptions that escaped other actors: (thread name, exception).
    worker_exceptions: list[tuple[str, BaseException]] = field(default_factory=list)
    #: Per step: it switched away from an actor that could still run.
    preemptive: list[bool] = field(default_factory=list)
    #: What the scheduler could not see in this run (a wait on a lock held
    #: outside the run, ...), in words.
    limits: list[str] = field(default_factory=list)
    #: For a ``timeout`` stopped by ``deadlock_timeout``: where the stuck
    #: actor is (``file:line in function: source``).
    stuck_at: str | None = None
    #: Steps at which a timed wait was among the candidates.
    timeouts_offered: int = 0

    @property
    def failed(self) -> bool:
        return self.status != "ok"


_ERRORS = {
    "deadlock": DeadlockError,
    "divergence": DivergenceError,
    "timeout": ControlTimeout,
    "step_limit": StepLimitError,
    "interrupted": RunError,
}


def raise_for(result: RunResult) -> None:
    """Raises the error for a run that did not complete (nothing for ok or
    an exception in an actor)."""
    err = _ERRORS.get(result.status)
    if err is not None:
        raise err(result.message, result)
