"""Shrinking a failing schedule of a real program to the fewest preemptions
(then context switches) that still fail the same way, with the analyzer's
shrinker (``_native.shrink_schedule``) and a runner that executes each
candidate under control.

Two runners: in-process (one controlled run per candidate, for the
explorers, whose test is a set of Python callables) and a worker process per
candidate (``racetrace shrink``, whose test is a command), which is what lets
candidates run in parallel with ``jobs > 1``.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from racetrace import _native
from racetrace.results import DEADLOCK, EXCEPTION, INVARIANT, Failure
from racetrace.run_result import RunResult
from racetrace.runs import RunOptions, S, run_threads

#: Failure kinds worth shrinking: a timeout or a step limit is not a
#: failure a candidate can reproduce "the same way".
SHRINKABLE = (INVARIANT, EXCEPTION, DEADLOCK)

#: What a runner tells the shrinker about one candidate run (see
#: ``_native.shrink_schedule``): verdict (``fail``, ``pass`` or
#: ``diverged``), failure kind, failure location, the executed schedule, per
#: step whether it preempted, and the step a diverged run left the schedule.
RunReport: TypeAlias = tuple[str, str, str, str, list[bool], int]


def _where(e: BaseException) -> str:
    """file:line of the innermost frame the exception passed through: where
    it was raised, stable across runs, unlike its message."""
    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"


def signature(res: RunResult, failure: Failure | None) -> tuple[str, str]:
    """(kind, location) of a failing run: two runs fail the same way when
    these are equal."""
    if failure is None:
        return ("", "")
    if failure.kind == EXCEPTION:
        excs = list(res.worker_exceptions)
        if res.exception is not None:
            excs.insert(0, ("MainThread", res.exception))
        if excs:
            e = excs[0][1]
            return (f"{EXCEPTION}: {type(e).__name__}", _where(e))
    if failure.kind == INVARIANT:
        # "the invariant returned False" or "invariant raised T: message".
        first = failure.message.splitlines()[0] if failure.message else ""
        return (INVARIANT, first.split(":")[0])
    return (failure.kind, "")


def report(res: RunResult, failure: Failure | None) -> RunReport:
    """The runner's answer for the shrinker (see ``_native.shrink_schedule``)."""
    if res.status == "divergence":
        return ("diverged", "", "", "", [], res.steps)
    if failure is None or failure.kind not in SHRINKABLE:
        # Passing, or hung and stopped by a timeout: not the same failure.
        return ("pass", "", "", "", [], 0)
    kind, location = signature(res, failure)
    return ("fail", kind, location, res.schedule, list(res.preemptive), 0)


def shrink_failure(
    f: Failure,
    setup: Callable[[], S],
    threads: Sequence[Callable[[S], object]],
    invariant: Callable[[S], bool],
    common: RunOptions,
    *,
    api: str,
    max_candidates: int = 100,
    on_progress: Callable[[_native.ShrinkProgress], object] | None = None,
) -> dict[str, Any] | None:
    """Replaces ``f.schedule`` by a shrunk one that fails the same way;
    returns the shrinker's figures (None when ``f`` is not shrinkable).
    ``api`` is the explorer that found ``f``."""
    if f.kind not in SHRINKABLE:
        return None

    def run(candidate: str) -> RunReport:
        res, failure = run_threads(
            setup, threads, invariant, api=api, schedule=candidate, trace=None, **common
        )
        return report(res, failure)

    try:
        out = _native.shrink_schedule(f.schedule, run, max_candidates, 1, on_progress)
    except ValueError as e:
        # The failure did not come back when replayed: keep what was found.
        return {"error": str(e)}
    # Replays use strict schedules: the short prefix when it alone fails the
    # same way, else the full schedule the shrunk candidate executed.
    for schedule in (out["schedule"], out["executed"]):
        _res, failure = run_threads(
            setup, threads, invariant, api=api, schedule=schedule, trace=None, **common
        )
        if failure is not None and failure.kind == f.kind:
            f.schedule = schedule
            f.message = failure.message
            break
    return dict(out)
