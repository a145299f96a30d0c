"""``explore_interleavings(..., workers=N)``: the parent of N worker
processes that run attempts by number (``racetrace.workers``).

Attempt ``i`` depends only on the seed and ``i`` (``portfolio``), so the
result is the one process's: the failure reported is the one of the lowest
attempt that fails, and ``num_explored`` counts the attempts up to it. The
parent hands out chunks of attempts in order; the ``pb`` attempts
(preemption bounding, which enumerates executions one after the other) all
go to the first worker. When an attempt fails, no later attempt is handed
out, and the workers stop once every earlier attempt is done. A worker that
dies ends its attempt as a ``worker crash`` failure.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from racetrace.dpor_parallel import crash_failure
from racetrace.dpor_run import Note
from racetrace.parallel import Interrupts, Pool, Worker
from racetrace.portfolio import lane_of
from racetrace.results import Failure
from racetrace.runs import Limits, RunOptions, S
from racetrace.workers import AttemptsSpec, attempts_worker

#: Attempts per chunk handed to a worker.
CHUNK = 8


@dataclass
class AttemptsOutcome:
    """What the attempts run (in this process or in workers) gave."""

    #: attempt -> (lane, steps, schedule, note, failure)
    done: dict[int, tuple[str, int, str, Note | None, Failure | None]] = field(default_factory=dict)
    stopped: str | None = None

    def first_failure(self) -> int | None:
        failing = [a for a, d in self.done.items() if d[4] is not None]
        return min(failing) if failing else None


def run_parallel(
    setup: Callable[[], S],
    threads: Sequence[Callable[[S], object]],
    invariant: Callable[[S], bool],
    common: RunOptions,
    *,
    owned: list[int],
    workers: int,
    seed: int,
    strategy: str,
    depth: int,
    total_timeout: float | None,
    progress: Callable[[int], None] | None,
) -> AttemptsOutcome:
    """Runs the attempts ``owned`` (in increasing order) in ``workers``
    processes; stops after the lowest failing one."""
    out = AttemptsOutcome()
    started = time.monotonic()
    pb = deque(a for a in owned if lane_of(strategy, depth, a) == "pb")
    rest = deque(a for a in owned if lane_of(strategy, depth, a) != "pb")
    assigned: dict[int, deque[int]] = {}
    error: BaseException | None = None

    def spec(index: int, journal: str) -> AttemptsSpec:
        return AttemptsSpec(setup, threads, invariant, common, seed, strategy, depth, journal)

    pool = Pool(attempts_worker, spec)

    def limit() -> int | None:
        return out.first_failure()

    def hand_out(w: Worker) -> None:
        f = limit()
        chunk: list[int] = []
        while len(chunk) < CHUNK:
            queue = rest
            if w.index == 0 and pb and (not rest or pb[0] < rest[0]):
                queue = pb
            if not queue or (f is not None and queue[0] > f) or out.stopped is not None:
                break
            chunk.append(queue.popleft())
        if chunk:
            assigned[w.index].extend(chunk)
            w.send(("run", chunk))
        else:
            w.stop()

    def finished() -> bool:
        f = limit()
        if f is None:
            return False
        return all(a > f for q in assigned.values() for a in q) and (not pb or pb[0] > f) and (not rest or rest[0] > f)

    def stop(reason: str) -> None:
        if out.stopped is None:
            out.stopped = reason
        pool.stop_all()

    with Interrupts() as ctrl_c:
        try:
            for _ in range(workers):
                w = pool.start()
                assigned[w.index] = deque()
                hand_out(w)
            while pool.live():
                if ctrl_c.over(pool, out):
                    break
                if out.stopped is None and total_timeout is not None and time.monotonic() - started > total_timeout:
                    stop(f"total_timeout ({total_timeout} s) reached")
                for w, msg in pool.events(0.2):
                    if msg is None:
                        continue
                    if isinstance(msg, str):
                        queue = assigned.get(w.index) or deque()
                        if queue and out.stopped is None:
                            at = w.crashed_at()
                            schedule = at[1] if at else ""
                            lane = lane_of(strategy, depth, queue[0])
                            out.done[queue[0]] = (lane, 0, schedule, None, crash_failure(msg, schedule or None))
                            queue.clear()
                        if finished() or not pool.live():
                            stop("stopped at the first failure")
                    elif msg[0] == "attempt":
                        _tag, attempt, lane, steps, schedule, note, failure = msg
                        if attempt in assigned[w.index]:
                            assigned[w.index].remove(attempt)
                        out.done[attempt] = (lane, steps, schedule, note, failure)
                        if progress is not None:
                            try:
                                progress(len(out.done))
                            except Exception as e:  # noqa: BLE001 - the caller asked to stop
                                stop(f"on_progress raised {type(e).__name__}: {e}")
                        if finished():
                            stop("stopped at the first failure")
                    elif msg[0] == "chunk":
                        if finished():
                            stop("stopped at the first failure")
                        else:
                            hand_out(w)
                    elif msg[0] == "error" and error is None:
                        error = msg[1]
                        stop(f"a worker failed: {type(error).__name__}")
        except KeyboardInterrupt:
            out.stopped = "interrupted (KeyboardInterrupt)"
            pool.stop_all()
        finally:
            pool.close(grace=2.0)
    if error is not None:
        raise error
    return out


def count(out: AttemptsOutcome, limits: Limits) -> tuple[int, list[Failure], int, list[str]]:
    """(attempts counted, the failure, the longest run, the schedules in
    order) of what was run: the attempts up to the lowest failing one."""
    f = out.first_failure()
    attempts = sorted(a for a in out.done if f is None or a <= f)
    failures: list[Failure] = []
    longest = 0
    schedules: list[str] = []
    for n, a in enumerate(attempts, start=1):
        lane, steps, schedule, note, failure = out.done[a]
        longest = max(longest, steps)
        schedules.append(schedule)
        if note is not None:
            limits.add(note.as_result(), n)
        if failure is not None and a == f:
            failure.execution = n
            failures.append(failure)
    return len(attempts), failures, longest, schedules


