"""The worker processes' side of a parallel exploration (started by
``racetrace.parallel`` with the 'spawn' method; these functions are their
entry points, so they live at module level).

A DPOR worker runs the split exploration loop (``dpor_run``) and asks the
parent for each subtree root it reaches whether to explore below it (the
parent gives each root to exactly one worker). An attempts worker
(``explore_interleavings``) runs the attempts the parent hands it, by
number. Both send what they counted in batches, keep the schedule of the
execution in progress in their journal, ignore Ctrl-C (the parent stops
them), and stop between executions when the parent says so.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from racetrace import _native
from racetrace.dpor_run import Note, Stop, explore_here, stats_of
from racetrace.portfolio import Attempts
from racetrace.results import Failure
from racetrace.run_result import RunResult
from racetrace.runs import RunOptions

#: Seconds between batches of counted executions sent to the parent.
FLUSH_EVERY = 0.05


@dataclass
class DporSpec:
    """What a DPOR worker explores (pickled: the test by reference)."""

    setup: Callable[[], Any]
    threads: Sequence[Callable[[Any], object]]
    invariant: Callable[[Any], bool]
    common: RunOptions
    preemption_bound: int | None
    explore_timeouts: bool
    split: int
    journal: str
    #: Schedules whose last step crashed a worker.
    avoid: list[str] = field(default_factory=list)


class _Batches:
    """Counted executions, sent to the parent now and then."""

    def __init__(self, conn: Connection, estimate: Callable[[], int]) -> None:
        self.conn = conn
        self.count = 0
        self.items: list[tuple[int, Note | None, Failure | None]] = []
        self.last = time.monotonic()
        self.estimate = estimate

    def add(self, res: RunResult, failure: Failure | None) -> None:
        note = Note.of(res)
        if note is not None or failure is not None:
            self.items.append((self.count, note, failure))
        self.count += 1
        if failure is not None or time.monotonic() - self.last > FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.count:
            self.conn.send(("batch", self.count, self.items, self.estimate()))
        self.count = 0
        self.items = []
        self.last = time.monotonic()


def _serve(conn: Connection, body: Callable[[], dict[str, Any]]) -> None:
    """Runs a worker's body; says 'done' (with its figures) or the error
    that stopped it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn.send(("ready",))
    try:
        figures = body()
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
        try:
            conn.send(("error", e))
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            conn.send(("error", RuntimeError(f"{type(e).__name__}: {e}")))
        return
    conn.send(("done", figures))


def dpor_worker(conn: Connection, spec: DporSpec) -> None:
    """Entry point of a DPOR worker process."""
    _serve(conn, lambda: _dpor(conn, spec))


def _dpor(conn: Connection, spec: DporSpec) -> dict[str, Any]:
    _native.journal_open(spec.journal, spec.common["max_steps"] + 1)
    dpor = _native.DporExplorer(spec.preemption_bound, spec.explore_timeouts, split=spec.split)
    for s in spec.avoid:
        dpor.avoid(s)
    batches = _Batches(conn, lambda: int(dpor.stats()["estimate"]))
    skip = 0
    stopping = False

    def handle(msg: tuple[Any, ...]) -> None:
        nonlocal stopping
        if msg[0] == "stop":
            stopping = True
        elif msg[0] == "avoid":
            dpor.avoid(msg[1])

    def claim(key: str, leaf: bool) -> bool:
        nonlocal skip
        batches.flush()
        conn.send(("claim", key, leaf))
        while True:
            msg = conn.recv()
            if msg[0] == "claimed":
                skip = msg[2]
                return bool(msg[1]) and not stopping
            handle(msg)

    def counted(res: RunResult, failure: Failure | None) -> None:
        nonlocal skip
        if skip:
            # Reported by a worker that crashed later in this subtree.
            skip -= 1
            return
        batches.add(res, failure)

    def between() -> None:
        while conn.poll():
            handle(conn.recv())
        if stopping:
            raise Stop("stopped")

    explore_here(
        spec.setup, spec.threads, spec.invariant, spec.common, dpor, claim=claim, counted=counted, between=between
    )
    batches.flush()
    return stats_of(dpor)


@dataclass
class AttemptsSpec:
    """What an attempts worker runs (pickled: the test by reference)."""

    setup: Callable[[], Any]
    threads: Sequence[Callable[[Any], object]]
    invariant: Callable[[Any], bool]
    common: RunOptions
    seed: int
    strategy: str
    depth: int
    journal: str


def attempts_worker(conn: Connection, spec: AttemptsSpec) -> None:
    """Entry point of an ``explore_interleavings`` worker process."""
    _serve(conn, lambda: _attempts(conn, spec))


def _attempts(conn: Connection, spec: AttemptsSpec) -> dict[str, Any]:
    _native.journal_open(spec.journal, spec.common["max_steps"] + 1)
    runner = Attempts(
        spec.setup, spec.threads, spec.invariant, spec.common, seed=spec.seed, strategy=spec.strategy, depth=spec.depth
    )
    while True:
        msg = conn.recv()
        if msg[0] == "stop":
            return {}
        for attempt in msg[1]:
            if conn.poll():
                nxt = conn.recv()
                if nxt[0] == "stop":
                    return {}
            res, failure, lane = runner.run(attempt)
            conn.send(("attempt", attempt, lane, res.steps, res.schedule, Note.of(res), failure))
        conn.send(("chunk",))
