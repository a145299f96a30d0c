"""Types of ``racetrace._native``, the recorder's PyO3 extension.

One section per file of ``recorder/src/py/``, which registers everything
below; a change of a ``#[pyfunction]``'s signature or of what it returns
belongs here too. The ``TypedDict``s and aliases marked *stub only* name
the shapes of the tuples and dicts the extension returns or takes: they do
not exist at run time, so use them in annotations only.
"""

import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Literal, TypeAlias, TypedDict, TypeVar, final

from racetrace.config import RecordConfig, RunConfig

# What the extension exports, in the order ``py/mod.rs`` registers it.
__all__ = [
    "run_cli",
    "explain_json",
    "RunAborted",
    "start",
    "stop",
    "thread_started",
    "forget_thread",
    "HOOKS_NEW_THREADS",
    "note_exception",
    "mark",
    "is_recording",
    "abandon_after_fork",
    "recording_path",
    "clear_thread_locals",
    "replay_source",
    "control_start",
    "control_wait",
    "Parker",
    "control_finish",
    "control_time",
    "trace_steps",
    "trace_sources",
    "DEFAULT_DEADLOCK_TIMEOUT",
    "DporExplorer",
    "shared_objects",
    "MarkerPlan",
    "shrink_schedule",
    "TASK_AFTER_ALL",
    "task_create",
    "task_ready",
    "task_hold",
    "task_now",
    "task_switch",
    "loop_others",
    "acting_actor",
    "task_begin",
    "task_exit",
    "task_suspend",
    "task_leave",
    "task_close",
    "task_rebase",
    "task_await",
    "task_deadlock",
    "record_task_create",
    "record_task_begin",
    "record_task_end",
    "settrace",
    "gettrace",
    "untraced",
    "traced",
    "journal_open",
    "journal_read",
    "pct_shared_steps",
]

# --- record.rs: free-running recording (racetrace.recording) ----------------

class RunAborted(BaseException):
    """Raised inside the actors of a controlled run that racetrace stopped
    (deadlock, divergence, timeout): they unwind. Never caught by
    ``except Exception``."""

#: (type name, message, traceback text) of an exception (stub only).
ExceptionText: TypeAlias = tuple[str, str, str]

def start(config: RecordConfig) -> None:
    """Starts recording into ``config.path`` in the calling thread (actor
    0). Raises ``RuntimeError`` when already recording, ``TypeError`` for a
    field of the wrong type, ``OSError`` when the trace cannot be written."""

def stop(exception: ExceptionText | None = None, aborted: str | None = None) -> tuple[int, str | None]:
    """Stops recording; returns (events written, trace error or None)."""

def thread_started(frame: FrameType) -> None:
    """A new thread's first traced call: installs the native trace function
    (only where ``HOOKS_NEW_THREADS`` is false)."""

def forget_thread() -> None:
    """Forgets the calling thread's tracer (a thread kept for reuse, between
    the actors it runs)."""

#: Whether the native hook finds new threads by itself (``sys.monitoring``,
#: CPython 3.12+) rather than through ``threading.settrace`` and
#: ``thread_started`` (CPython 3.11).
HOOKS_NEW_THREADS: bool

def note_exception(thread: threading.Thread | None, type_name: str, message: str, traceback: str) -> None:
    """An exception escaped ``thread``'s run()."""

def abandon_after_fork() -> None:
    """For ``os.register_at_fork(after_in_child=...)``."""

def mark(label: str) -> bool:
    """Marks the recording in progress before its next event with
    ``label`` (``test NODE_ID`` for each test of a recorded pytest run);
    False when nothing is being recorded."""

def is_recording() -> bool:
    """Recording or controlling a run."""

def recording_path() -> str | None:
    """The trace file being written, if recording."""

# --- control.rs: controlled runs (racetrace.control) ------------------------

def clear_thread_locals() -> int:
    """Forgets the calling thread's ``threading.local`` data; returns how
    many objects had some."""

def replay_source(source: str) -> tuple[str, int, str | None]:
    """A schedule text or a trace path read as (schedule text, steps,
    program of the trace or None); ``ValueError`` on bad input."""

def control_start(config: RunConfig) -> None:
    """Starts a controlled run whose actor 0 is ``config.main_thread`` (not
    started yet); see ``RunConfig`` for the fields."""

#: Seconds a turn may go without reaching a scheduling point before the run
#: ends as blocked where the model cannot see.
DEFAULT_DEADLOCK_TIMEOUT: float

def control_wait(first: Parker | None = None) -> None:
    """Waits until the run ends (Ctrl-C stops it); wakes ``first`` (actor
    0's pooled thread) once the GIL is released."""

@final
class Parker:
    """A pooled thread's wake-up: ``park`` waits (GIL released, spinning
    first) until ``unpark``; an ``unpark`` before the ``park`` is kept."""

    def __new__(cls) -> Parker: ...
    def park(self) -> None: ...
    def unpark(self) -> None: ...

#: How a controlled run ended (stub only).
RunStatus: TypeAlias = Literal[
    "ok", "exception", "deadlock", "divergence", "timeout", "step_limit", "interrupted", "abandoned"
]

class ControlSummary(TypedDict):
    """What ``control_finish`` returns (stub only)."""

    status: RunStatus
    message: str
    schedule: str
    steps: int
    preemptions: int
    #: Per step: it switched away from an actor that could still run.
    preemptive: list[bool]
    elapsed: float
    events: int
    trace_error: str | None
    #: (actor id, type name, message) of an exception that escaped an actor
    #: other than actor 0.
    worker_exception: tuple[int, str, str] | None
    #: What the model could not see in the run, in words.
    limits: list[str]
    #: Ident of the thread a ``timeout`` found stuck, or None.
    stuck_thread: int | None
    #: Steps at which a timed wait was among the candidates.
    timeouts_offered: int

def control_finish(exception: ExceptionText | None = None) -> ControlSummary:
    """Ends the run and closes its trace; ``exception`` escaped actor 0."""

def control_time() -> float | None:
    """The run's virtual clock, or None outside a run."""

#: One step of a trace: (actor id, actor name, event kind, file, line,
#: function, what it touched) (stub only).
TraceStep: TypeAlias = tuple[int, str, str, str, int, str, str]

def trace_steps(path: str) -> tuple[list[TraceStep], str, tuple[str, str]]:
    """Every step of a trace, its program and its outcome as (kind, text)."""

def trace_sources(path: str) -> list[tuple[str, int, int]]:
    """The source files a trace describes: (file, size, CRC-32) as when
    recorded (empty for traces of format version 1 or 2)."""

# --- dpor.rs: the DPOR explorer (racetrace.explore) -------------------------

class DporStats(TypedDict):
    """The exploration's counters (stub only; see the analyzer's ``dpor::Stats``)."""

    executions: int
    deadlocks: int
    sleep_blocked: int
    repeated: int
    bound_pruned: int
    infeasible: int
    diverged: int
    races: int
    pending: int
    estimated_total: int
    max_steps: int
    estimate: int
    frontiers: int
    top_dropped: int

@final
class DporExplorer:
    """One exploration: ``begin()`` before each controlled run (False: the
    whole space is explored), ``end()`` after it."""

    def __new__(
        cls, preemption_bound: int | None = None, explore_timeouts: bool = True, split: int | None = None
    ) -> DporExplorer: ...
    def begin(self) -> bool: ...
    def end(self) -> None: ...
    def repeated(self) -> bool: ...
    def split_task_steps(self) -> None: ...
    def splits_task_steps(self) -> bool: ...
    def share(self, state: object, threads: Sequence[Callable[..., object]]) -> None: ...
    def stats(self) -> DporStats: ...
    def frontier(self) -> str | None: ...
    def claim(self, mine: bool) -> None: ...
    def reached_frontier(self) -> bool: ...
    def schedule(self) -> str: ...
    def avoid(self, schedule: str) -> None: ...

def shared_objects(state: object, threads: Sequence[Callable[..., object]]) -> list[object]:
    """The objects ``state`` and the ``threads`` functions reach, in the
    order ``DporExplorer.share`` names them (the same in every execution)."""

# --- markers.rs: marker schedules (racetrace.schedules) ----------------------

@final
class MarkerPlan:
    """A marker schedule: ``lines`` (file, line, marker id) of every marked
    line, ``entries`` (actor id, marker id, occurrence or 0) the order to
    force (empty: a free run that notes the markers passed), ``held`` the
    actor ids held back until their turn besides those of ``entries``."""

    def __new__(
        cls, lines: list[tuple[str, int, int]], entries: list[tuple[int, int, int]], held: list[int] = ...
    ) -> MarkerPlan: ...
    def met(self) -> int: ...
    def passed(self) -> list[list[int]]: ...
    def stuck(self) -> tuple[int, int, bool] | None: ...

# --- shrink.rs: schedule shrinking (racetrace.shrinking, shrink_cli) ---------

#: What a shrink runner returns for a candidate: (verdict ``fail``/``pass``/
#: ``diverged``, failure kind, failure location, executed schedule text,
#: per-step preemptive flags, diverged step) (stub only).
RunReport: TypeAlias = tuple[str, str, str, str, Sequence[bool], int]

class ShrinkProgress(TypedDict):
    """Passed to ``progress`` after every counted candidate (stub only)."""

    phase: Literal["Original", "Preemptions", "SinglePreemptions", "Switches", "Canonicalize"]
    candidates_run: int
    max_candidates: int
    best_preemptions: int
    best_switches: int

class ShrinkResult(TypedDict):
    """What ``shrink_schedule`` returns (stub only)."""

    schedule: str
    executed: str
    kind: str
    location: str
    preemptions: int
    switches: int
    original_preemptions: int
    original_switches: int
    candidates_run: int
    speculative_runs: int
    budget_exhausted: bool

def shrink_schedule(
    schedule: str,
    runner: Callable[[str], RunReport],
    max_candidates: int = 100,
    jobs: int = 1,
    progress: Callable[[ShrinkProgress], object] | None = None,
    partial_moves: bool = False,
) -> ShrinkResult:
    """Shrinks ``schedule`` (``rts1:`` text). ``ValueError`` when it does not
    fail; re-raises the first exception ``runner`` or ``progress`` raised.
    ``partial_moves`` adds the second pass (moving part of a preempted
    actor's next run, for one that blocks partway)."""

# --- tasks.rs: asyncio tasks as actors (racetrace.aio) ----------------------

#: Added to a waker when the task goes only after every event up to it.
TASK_AFTER_ALL: int

def task_create(base: int, creator: int, name: str, file: str, line: int, function: str) -> int:
    """``creator`` creates a task of the loop of actor ``base``'s thread;
    returns its actor id (``RunAborted`` if the run was stopped)."""

def task_ready(actor: int, waker: int | None, timeout: float | None = None) -> None:
    """Task ``actor`` has a step to run, made ready by event ``waker``
    (``timeout``: the actor of a timeout that expires in that many seconds)."""

def task_hold(actor: int) -> None:
    """Task ``actor`` is not ready any more (a timeout held back)."""

def task_now() -> int | None:
    """The index of the last event written."""

def task_switch(base: int, idle: tuple[float | None, str] | None = None) -> tuple[int, bool]:
    """Between two steps of the loop: the task the strategy chose (``base``
    itself: the loop's timers fire, nobody else can go), and whether other
    actors (threads) were alive. ``idle``: no task of the loop is ready (in
    how long its earliest timer fires, if it has one, and who waits for
    what)."""

def loop_others(base: int) -> bool:
    """Whether actors other than the loop of actor ``base``'s thread and its
    tasks are alive."""

def acting_actor(thread: threading.Thread) -> int | None:
    """The actor the calling thread acts as (its task, else its own)."""

def task_begin(base: int, actor: int, file: str, line: int, function: str) -> None:
    """The step of task ``actor`` begins on the loop of actor ``base``'s
    thread, resuming at ``file:line``."""

def task_suspend(actor: int, file: str, line: int, function: str) -> None:
    """The step of task ``actor`` ends: it waits at ``file:line``."""

def task_exit(actor: int, file: str, line: int, function: str) -> None:
    """Task ``actor`` finished in the step in progress."""

def task_leave(base: int, close: bool = True) -> bool:
    """The loop returns; its thread is actor ``base`` again (``close``: its
    pending tasks are dropped); whether a thread could have gone inside the
    last task step."""

def task_close(base: int) -> None:
    """The loop of actor ``base``'s thread is closed: its pending tasks are
    dropped."""

def task_rebase(old: int, new: int) -> None:
    """The loop made by actor ``old``'s thread is run by actor ``new``'s from
    now on, its tasks with it."""

def task_await(actor: int, task: int, file: str, line: int, function: str) -> None:
    """``actor`` waits for the finished task ``task``."""

def task_deadlock(what: str) -> None:
    """Every task of the loop waits: the run stops with a deadlock."""

def record_task_create(thread: threading.Thread, name: str, file: str, line: int, function: str) -> int | None:
    """Recording: a task is created on ``thread``; its actor id, or None."""

def record_task_begin(thread: threading.Thread, actor: int, file: str, line: int, function: str) -> None:
    """Recording: a step of task ``actor`` begins on ``thread``, resuming at
    ``file:line``."""

def record_task_end(actor: int, done: bool, file: str, line: int, function: str) -> None:
    """Recording: the step of task ``actor`` ends (and the task, if ``done``)."""

# --- cli.rs: the analyzer's command line (racetrace.cli) --------------------

def run_cli(argv: Sequence[str], python_commands: Sequence[tuple[str, str]] | None = None) -> int:
    """Runs ``racetrace ARGV...``; returns its exit code."""

def explain_json(path: str) -> str:
    """``racetrace explain PATH --json``, as a string; ``ValueError`` with
    the one-line message for a trace that cannot be read."""

# --- tracehooks.rs: sys.settrace/gettrace while traced (racetrace.tracehooks) --

def settrace(func: Callable[[FrameType, str, Any], Any] | None) -> None:
    """``sys.settrace``: kept beside racetrace's tracer in a traced thread."""

def gettrace() -> Callable[[FrameType, str, Any], Any] | None:
    """``sys.gettrace``: what the program installed, in a traced thread."""

_R = TypeVar("_R")

def untraced(func: Callable[..., _R], *args: Any, **kwargs: Any) -> _R:
    """``func(*args, **kwargs)`` without racetrace's tracer in this thread (3.11; the
    call alone on 3.12+): the controlled loop's own work between steps."""

def traced(func: Callable[..., _R], *args: Any) -> _R:
    """``func(*args)`` with the tracer the innermost ``untraced`` took out
    back in place."""

# --- workers.rs: worker processes of a parallel exploration (racetrace.parallel) --

def journal_open(path: str, capacity: int) -> None:
    """Every controlled run of this process writes its steps to the journal."""

def journal_read(path: str) -> tuple[int, str, bool] | None:
    """(execution number, schedule text, truncated) of a journal, or None."""

def pct_shared_steps() -> int:
    """Shared-state steps of the last PCT run of this process."""
