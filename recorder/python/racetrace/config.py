"""What the Python layer hands the native side to start a recording or a
controlled run: one frozen object each, read field by field by the native
side (``recorder/src/py/``, ``#[derive(FromPyObject)]`` structs of the same
names and fields). A new option is one field here and one there."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import CodeType

from racetrace import _native


@dataclass(frozen=True)
class Recognized:
    """What the native side recognizes, the same for every run of a process
    (``racetrace.tables``): directories not traced by default, standard
    library functions by code object, builtin callables by role, modules
    whose own use of threading primitives is not the program's, and the
    racetrace package's directory (never traced or intercepted)."""

    excluded_dirs: list[str]
    code_roles: list[tuple[CodeType, str]]
    calls: list[tuple[object, str]]
    sync_lib_files: list[str]
    own_dir: str


@dataclass(frozen=True)
class RecordConfig:
    """Starting a recording in the calling thread (``_native.start``)."""

    path: str
    program: str
    include: list[str]
    exclude: list[str]
    recognized: Recognized
    #: Threads already running, by ident: hooked too, as actors without a parent.
    running_threads: list[tuple[int, threading.Thread]] = field(default_factory=list)


@dataclass(frozen=True)
class RunConfig:
    """Starting a controlled run whose actor 0 is ``main_thread``, a
    ``threading.Thread`` not started yet (``_native.control_start``). The
    strategy: replay ``trace`` (checking every step against its events) or
    ``schedule``, then ``dpor``, ``pct`` (seed, depth, estimated steps of a
    run), random choices with ``seed``, or the default policy."""

    path: str
    program: str
    include: list[str]
    exclude: list[str]
    recognized: Recognized
    main_thread: threading.Thread
    schedule: str | None = None
    trace: str | None = None
    seed: int | None = None
    dpor: _native.DporExplorer | None = None
    #: A marker schedule (``racetrace.schedules``): its marked lines are
    #: scheduling points, and unless ``schedule``/``trace`` replays a run of
    #: it step by step, it chooses the steps.
    markers: _native.MarkerPlan | None = None
    #: One small choice per scheduling point (``racetrace.hypothesis``):
    #: the k-th runnable actor, the current one first.
    choices: list[int] | None = None
    pct: tuple[int, int, int] | None = None
    deadlock_timeout: float = _native.DEFAULT_DEADLOCK_TIMEOUT
    #: Wall-clock limit of the whole run (seconds), None for none.
    run_timeout: float | None = None
    max_steps: int = 1_000_000
    start_time: float = 0.0
    #: Randomized strategies (``seed``, ``pct``): a blocked timed wait may
    #: time out at any step, now and then (else only when no actor can go
    #: on). DPOR's own setting is on ``dpor``.
    explore_timeouts: bool = False
