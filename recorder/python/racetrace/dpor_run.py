"""The exploration loop of ``explore_dpor`` in one process: begin an
execution in the DPOR engine, run it under control, end it, count it.

The same loop explores the whole space (one process, no shard), a shard of
it, or what one worker process of a parallel exploration claims: with a
split engine (``_native.DporExplorer(split=...)``), executions stop at the
roots of the subtrees (*frontiers*) and ``claim(schedule)`` decides which
this process explores below; an execution that ends above every frontier
(a *top leaf*) is claimed by its whole schedule and counted only if
claimed (see ``racetrace.sharding`` and the analyzer's
``dpor::Explorer::split``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from racetrace import _native, aio
from racetrace.results import Failure
from racetrace.run_result import RunResult
from racetrace.runs import RunOptions, S, run_threads


def split_depth(shards: int, workers: int) -> int:
    """Branching points fully expanded above the subtrees handed out (see
    the analyzer's ``dpor/explorer/split.rs``): with up to ``t`` threads,
    about ``t ** depth`` subtrees (sleep sets prune many) and every process
    runs one short execution per subtree to reach its root. Deeper
    balances more parts but costs more executions abandoned as redundant:
    on the four-thread program of ``bench_parallel.py``, 3 gives 8 subtrees
    (the largest a quarter of the classes) at no measurable cost, 4 gives
    17 (the largest a sixth) for a fifth more time.

    Every process of one exploration must use the same depth, since a
    subtree is named by the schedule that reaches its root: a sharded
    exploration's depth depends on the number of shards only, however many
    workers each shard has."""
    parts = shards if shards > 1 else workers
    return 3 if parts <= 2 else 4


@dataclass
class Note:
    """What the result's ``limits`` need of one execution (``Limits.add``),
    without its exceptions (sent between processes)."""

    status: str
    message: str
    stuck_at: str | None
    limits: list[str]
    timeouts_offered: int

    @staticmethod
    def of(res: RunResult) -> Note | None:
        """The note of ``res``, or None when it has nothing to say."""
        if res.status not in ("step_limit", "timeout") and not res.limits and not res.timeouts_offered:
            return None
        return Note(res.status, res.message, res.stuck_at, list(res.limits), res.timeouts_offered)

    def as_result(self) -> RunResult:
        return RunResult(
            self.status,
            self.message,
            "",
            0,
            0,
            0.0,
            None,
            limits=self.limits,
            stuck_at=self.stuck_at,
            timeouts_offered=self.timeouts_offered,
        )


class Stop(Exception):
    """Raised by a callback to end the loop (the reason in words)."""


def explore_here(
    setup: Callable[[], S],
    threads: Sequence[Callable[[S], object]],
    invariant: Callable[[S], bool],
    common: RunOptions,
    dpor: _native.DporExplorer,
    *,
    claim: Callable[[str, bool], bool] | None,
    counted: Callable[[RunResult, Failure | None], None],
    between: Callable[[], None] | None = None,
    restart: Callable[[], None] | None = None,
) -> str | None:
    """Runs executions until the engine has nothing left; returns why it
    stopped early (None: everything this process claimed is explored).
    ``claim(schedule, leaf)`` decides frontiers and top leaves (``leaf``)
    (None: not split);
    ``counted(res, failure)`` is called for each execution counted (it
    raises ``Stop`` to end); ``between()`` before each execution (it may
    raise ``Stop``, or call ``dpor.avoid``); ``restart()`` when the
    exploration starts again with task steps split (what was counted is
    forgotten)."""
    while True:
        try:
            if between is not None:
                between()
        except Stop as e:
            return str(e)
        if not dpor.begin():
            return None
        try:
            res, failure = run_threads(
                setup, threads, invariant, api="explore_dpor", schedule=None, strategy=dpor, trace=None, **common
            )
        except KeyboardInterrupt:
            return "interrupted (KeyboardInterrupt)"
        finally:
            dpor.end()
        if claim is None and not dpor.splits_task_steps() and aio.THREADS_BETWEEN_STEPS in res.limits:
            # A thread could have come between the events of a task's
            # step, which this exploration takes whole: it starts again
            # with task steps split into their events (threads and tasks
            # mixed; a split exploration in shards keeps the limit).
            dpor.split_task_steps()
            if restart is not None:
                restart()
            continue
        if res.status == "abandoned":
            key = dpor.frontier()
            if key is not None:
                dpor.claim(claim(key, False) if claim is not None else True)
            continue
        if claim is not None and not dpor.reached_frontier() and not claim(dpor.schedule(), True):
            continue
        if dpor.repeated():
            continue  # a class run before (tasks only): its outcome is known
        try:
            counted(res, failure)
        except Stop as e:
            return str(e)


def stats_of(dpor: _native.DporExplorer) -> dict[str, Any]:
    return dict(dpor.stats())
