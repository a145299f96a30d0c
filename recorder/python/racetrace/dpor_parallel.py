"""``explore_dpor(..., workers=N)``: the parent of N worker processes
(``racetrace.parallel``, ``racetrace.workers``).

Every worker runs the same split exploration (``dpor_run``): the first
branching points of the tree are fully expanded, and the subtrees below
them are handed out, each to the first worker that reaches its root and
asks (``claimed``), so the union of what the workers explore is every
Mazurkiewicz class exactly once and the work balances itself. With a shard,
only the roots the shard owns are handed out.

A worker that dies during an execution (a segfault, ``os._exit``): that
execution is a failure of kind ``worker crash`` with the schedule from the
worker's journal; with ``stop_on_first=False`` the exploration goes on, a
new worker takes over the subtree the dead one was exploring (it replays
it without reporting what was reported already, and stops before the step
that crashed), and no worker runs that step again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from racetrace.dpor_run import Note, split_depth
from racetrace.parallel import Interrupts, Pool, Worker
from racetrace.results import CRASH, Failure
from racetrace.runs import Limits, RunOptions, S
from racetrace.sharding import Shard, owns
from racetrace.workers import DporSpec, dpor_worker


@dataclass
class Outcome:
    """What an exploration (in this process or in workers) counted."""

    explored: int = 0
    failures: list[Failure] = field(default_factory=list)
    stopped: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Task:
    """What the parent knows of a worker: the subtree it explores and how
    many of its executions were reported."""

    node: str | None = None
    reported: int = 0


def crash_failure(how: str, schedule: str | None) -> Failure:
    return Failure(
        CRASH,
        f"the worker process running this execution died ({how}): a crash of the interpreter or an exit"
        " that skips Python's (os._exit), in this schedule (its last step was under way); replaying it"
        " here would end this process too, so it is neither shrunk nor replayed: replay it in a process"
        " of its own (racetrace replay)",
        schedule or "rts1:",
    )


def explore_parallel(
    setup: Callable[[], S],
    threads: Sequence[Callable[[S], object]],
    invariant: Callable[[S], bool],
    common: RunOptions,
    limits: Limits,
    *,
    workers: int,
    shard: Shard | None,
    preemption_bound: int | None,
    explore_timeouts: bool,
    stop_on_first: bool,
    max_executions: int | None,
    total_timeout: float | None,
    progress: Callable[[int, int], None] | None,
) -> Outcome:
    out = Outcome()
    started = time.monotonic()
    avoid: list[str] = []
    claims: dict[str, int] = {}
    #: Subtrees whose worker died, with how many executions were reported.
    orphans: dict[str, int] = {}
    tasks: dict[int, _Task] = {}
    estimates: dict[int, int] = {}
    crashed: set[str] = set()
    figures: list[dict[str, Any]] = []
    error: BaseException | None = None
    crashes = 0

    depth = split_depth(shard[1] if shard is not None else 1, workers)

    def spec(index: int, journal: str) -> DporSpec:
        return DporSpec(
            setup, threads, invariant, common, preemption_bound, explore_timeouts, depth, journal, list(avoid)
        )

    pool = Pool(dpor_worker, spec)

    def stop(reason: str) -> None:
        if out.stopped is None:
            out.stopped = reason
        pool.stop_all()

    def on_claim(w: Worker, key: str, leaf: bool) -> None:
        task = tasks[w.index]
        task.node = None
        skip = 0
        mine = out.stopped is None and owns(shard, key)
        if mine and key in orphans:
            skip = orphans.pop(key)
        elif mine and key in claims:
            mine = False
        if mine:
            claims[key] = w.index
            if not leaf:
                task.node, task.reported = key, skip
        w.send(("claimed", mine, skip))

    def on_batch(w: Worker, count: int, items: list[tuple[int, Note | None, Failure | None]], estimate: int) -> None:
        base = out.explored
        out.explored += count
        tasks[w.index].reported += count
        estimates[w.index] = estimate
        for offset, note, failure in items:
            n = base + offset + 1
            if note is not None:
                limits.add(note.as_result(), n)
            if failure is not None and not (stop_on_first and out.failures):
                failure.execution = n
                out.failures.append(failure)
        if stop_on_first and out.failures:
            stop("stopped at the first failure")
        if progress is not None:
            try:
                progress(out.explored, max(out.explored, sum(estimates.values())))
            except Exception as e:  # noqa: BLE001 - the caller asked to stop
                stop(f"on_progress raised {type(e).__name__}: {e}")

    def on_crash(w: Worker, how: str) -> None:
        nonlocal crashes
        crashes += 1
        at = w.crashed_at()
        schedule = at[1] if at is not None else None
        first_only = stop_on_first and out.failures
        if (schedule not in crashed or schedule is None) and not first_only:
            if schedule is not None:
                crashed.add(schedule)
            out.explored += 1
            f = crash_failure(how, schedule)
            f.execution = out.explored
            out.failures.append(f)
            limits.unseen.append(
                f"execution {out.explored}: the worker process running it died ({how}); the interleavings"
                " that go on past its last step were not explored"
            )
        task = tasks.pop(w.index)
        if stop_on_first or out.stopped is not None:
            stop("stopped at the first failure")
            return
        if crashes > 2 * workers + 8:
            stop(f"{crashes} worker processes died; no more are started")
            return
        if schedule is not None and schedule not in avoid:
            avoid.append(schedule)
            for other in pool.live():
                other.send(("avoid", schedule))
        if task.node is not None:
            claims.pop(task.node, None)
            orphans[task.node] = task.reported
        tasks[pool.start().index] = _Task()

    with Interrupts() as ctrl_c:
        try:
            for _ in range(workers):
                tasks[pool.start().index] = _Task()
            while pool.live():
                if ctrl_c.over(pool, out):
                    break
                if out.stopped is None:
                    if max_executions is not None and out.explored >= max_executions:
                        stop(f"max_executions ({max_executions}) reached")
                    elif total_timeout is not None and time.monotonic() - started > total_timeout:
                        stop(f"total_timeout ({total_timeout} s) reached")
                for w, msg in pool.events(0.2):
                    if msg is None:
                        continue
                    if isinstance(msg, str):
                        on_crash(w, msg)
                    elif msg[0] == "claim":
                        on_claim(w, msg[1], msg[2])
                    elif msg[0] == "batch":
                        on_batch(w, msg[1], msg[2], msg[3])
                    elif msg[0] == "done":
                        figures.append(msg[1])
                    elif msg[0] == "error" and error is None:
                        error = msg[1]
                        stop(f"a worker failed: {type(error).__name__}")
        except KeyboardInterrupt:
            out.stopped = "interrupted (KeyboardInterrupt)"
            pool.stop_all()
            _drain(pool, on_batch, figures, grace=2.0)
        finally:
            pool.close(grace=2.0)
    if error is not None:
        raise error
    if orphans and out.stopped is None:
        out.stopped = "subtrees left unexplored after worker crashes"
    out.stats = _merge(figures)
    out.stats["workers"] = pool.count
    return out


def _drain(pool: Pool, on_batch: Callable[..., None], figures: list[dict[str, Any]], grace: float) -> None:
    """After Ctrl-C: what the stopping workers still send, for ``grace``
    seconds."""
    deadline = time.monotonic() + grace
    while pool.live() and time.monotonic() < deadline:
        for w, msg in pool.events(0.1):
            if isinstance(msg, tuple) and msg[0] == "batch":
                on_batch(w, msg[1], msg[2], msg[3])
            elif isinstance(msg, tuple) and msg[0] == "done":
                figures.append(msg[1])
            elif isinstance(msg, tuple) and msg[0] == "claim":
                w.send(("claimed", False, 0))


def _merge(figures: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' engine counters, added up (``max_steps``: the largest)."""
    total: dict[str, Any] = {}
    for f in figures:
        for k, v in f.items():
            if isinstance(v, int):
                total[k] = max(total.get(k, 0), v) if k == "max_steps" else total.get(k, 0) + v
    return total
