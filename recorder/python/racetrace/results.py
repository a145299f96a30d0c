"""What the explorers report: ``Failure``, ``ExploreResult`` and the kinds
of failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Failure kinds.
INVARIANT = "invariant violation"
EXCEPTION = "exception in an actor"
DEADLOCK = "deadlock"
#: The worker process running the execution died (parallel exploration).
CRASH = "worker crash"


@dataclass
class Failure:
    """One failing execution."""

    #: ``invariant violation``, ``exception in an actor``, ``deadlock``,
    #: ``timeout``, or ``worker crash`` (the worker process running it
    #: died: a segfault, ``os._exit``).
    kind: str
    #: What went wrong, in words (exception with traceback, deadlock report).
    message: str
    #: The schedule that fails (an ``rts1:`` string for ``racetrace.replay``).
    schedule: str
    #: A trace of the failing execution (for ``racetrace explain``/``script``).
    trace: str | None = None
    #: Times it failed the same way when replayed, out of ``replays``.
    reproduced: int = 0
    replays: int = 0
    #: How each replay that did not fail the same way ended (run status and
    #: the first line of its message), so a non-reproducing failure says why.
    replay_mismatches: list[str] = field(default_factory=list)
    #: Which execution of the exploration found it (from 1).
    execution: int = 0


@dataclass
class ExploreResult:
    """What an exploration found."""

    property_holds: bool
    num_explored: int
    #: Every class of interleavings was run, with nothing approximated
    #: (False: a budget, a timeout, a preemption bound, an interruption or
    #: the first failure stopped it, or something in ``limits`` happened).
    exhausted: bool
    failures: list[Failure] = field(default_factory=list)
    explanation: str = ""
    #: Why the exploration is partial (None when exhausted).
    stopped_because: str | None = None
    elapsed: float = 0.0
    #: The engine's counters (races, redundant or diverged executions, ...).
    stats: dict[str, Any] = field(default_factory=dict)
    #: What made the exploration less than complete besides a budget, in
    #: words: executions ended at the step bound (``max_steps``), waits the
    #: scheduler could not see (the ``deadlock_timeout`` watchdog fired, a
    #: lock held outside the run), timed waits not let time out
    #: (``explore_timeouts=False``). Empty when nothing was.
    limits: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return not self.exhausted

    def __str__(self) -> str:
        return self.explanation
