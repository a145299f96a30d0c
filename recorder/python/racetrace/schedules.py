"""Schedules people write: ``run_schedule`` forces the order in which named
actors reach the lines marked ``# racetrace: NAME`` in their code, and
``explore_markers`` runs every order of the markers the actors reach.

A marker is reached just before its line runs. ``run_schedule(setup,
{"alice": f, "bob": g}, ["alice:read", "bob:read", "alice:write",
"bob:write"], invariant)`` runs alice until she reaches ``read``, then bob
until he reaches ``read``, then alice (past ``read``) until she reaches
``write``, then bob until he reaches ``write``; after the last entry every
actor runs to its end under the default policy (still controlled, so the
run is the same every time). ``alice:read#2`` names the second time alice
reaches ``read`` (a marker in a loop, or in a helper called twice); a
repeated ``alice:read`` means her next one each time; ``alice:end`` lets
alice run to her end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from racetrace import _native
from racetrace.control import DEFAULT_DEADLOCK_TIMEOUT
from racetrace.explain_failure import explain
from racetrace.markers import END, MarkerError, MarkerTable, Step, find_markers, parse_schedule
from racetrace.results import ExploreResult, Failure
from racetrace.run_result import RunResult
from racetrace.runs import Limits, RunOptions, check_test, reproduce, run_options, run_threads

S = TypeVar("S")

__all__ = ["MarkerError", "ScheduleResult", "explore_markers", "run_schedule"]


@dataclass
class ScheduleResult:
    """How a run of a marker schedule went."""

    #: The invariant held and no actor failed.
    property_holds: bool
    #: How it failed (None when it did not).
    failure: Failure | None
    #: The controlled run (its ``schedule`` replays it step by step, with
    #: the same markers).
    run: RunResult
    #: The markers each named actor passed, in order.
    passed: dict[str, list[str]] = field(default_factory=dict)
    explanation: str = ""

    @property
    def failed(self) -> bool:
        return not self.property_holds

    def __str__(self) -> str:
        return self.explanation


@dataclass
class _Test:
    """A test with named actors, and the markers of its code."""

    setup: Callable[[], Any]
    names: list[str]
    fns: list[Callable[[Any], object]]
    invariant: Callable[[Any], bool]
    table: MarkerTable
    common: RunOptions

    def ids(self) -> dict[str, int]:
        # Actor 0 is the main actor; the named ones are started in order.
        return {n: i + 1 for i, n in enumerate(self.names)}

    def plan(self, steps: Sequence[Step]) -> _native.MarkerPlan:
        held = list(self.ids().values()) if steps else []
        return _native.MarkerPlan(self.table.lines(), self.table.entries(steps, self.ids()), held)

    def run(self, plan: _native.MarkerPlan, api: str) -> tuple[RunResult, Failure | None]:
        return run_threads(
            self.setup, self.fns, self.invariant, api=api, schedule=None, trace=None, strategy=None,
            markers=plan, names=self.names, **self.common,
        )

    def passed(self, plan: _native.MarkerPlan) -> dict[str, list[str]]:
        by_id = plan.passed()
        out: dict[str, list[str]] = {}
        for name, i in self.ids().items():
            out[name] = [self.table.name_of(m) for m in (by_id[i] if i < len(by_id) else [])]
        return out


def _make_test(
    api: str,
    setup: Callable[[], S],
    actors: Mapping[str, Callable[[S], object]],
    invariant: Callable[[S], bool],
    common: RunOptions,
) -> _Test:
    if not isinstance(actors, Mapping):
        raise TypeError(f"{api}: actors must be a dict of name -> callable, not {type(actors).__name__}")
    names = list(actors)
    for n in names:
        if not isinstance(n, str) or not n or ":" in n or "#" in n or n.split() != [n]:
            raise ValueError(f"{api}: actor name {n!r} must be a non-empty string without ':', '#' or spaces")
    fns = check_test(api, setup, list(actors.values()), invariant)
    table = MarkerTable(find_markers([setup, invariant, *fns]))
    return _Test(setup, names, fns, invariant, table, common)


def _stuck_error(
    test: _Test, plan: _native.MarkerPlan, steps: Sequence[Step], res: RunResult, failure: Failure | None
) -> MarkerError:
    """Why the schedule could not be completed, in the user's terms (with
    how the run failed, if it did: an actor's exception may be why)."""
    stuck = plan.stuck()
    passed = test.passed(plan)
    failed = ""
    if failure is not None and failure.kind != "divergence":
        failed = f"; the run failed: {failure.kind}: {failure.message.strip().splitlines()[0]}"
    elif res.worker_exceptions:
        name, exc = res.worker_exceptions[0]
        failed = f"; {name} raised {type(exc).__name__}: {exc}"
    if stuck is None:
        met = plan.met()
        which = f"entry {met + 1} `{steps[met]}`" if met < len(steps) else "the schedule"
        first = res.message.strip().splitlines()[0] if res.message.strip() else res.status
        return MarkerError(f"the marker schedule stopped before {which} was met: {first}{failed}")
    entry, count, already = stuck
    step = steps[entry]
    where = test.table.where(step.marker)
    seen = ", ".join(passed.get(step.actor, [])) or "no marker"
    head = f"schedule entry {entry + 1} `{step}` cannot be met"
    if already:
        why = f"{step.actor} had already passed `{step.marker}` {count} time(s) ({where})"
    elif step.marker == END:
        why = f"{step.actor} cannot run on to its end"
    elif count == 0:
        why = f"{step.actor} never reached marker `{step.marker}` ({where})"
    else:
        why = f"{step.actor} did not reach marker `{step.marker}` ({where}) again after passing it {count} time(s)"
    if res.status == "ok" or not res.message.strip():
        detail = f"{step.actor} ran to its end"
    else:
        # The control loop's words: who is blocked on what, or has finished.
        detail = res.message.strip().splitlines()[0]
        detail = detail.split(", but ", 1)[-1]
    return MarkerError(f"{head}: {why}; {step.actor} passed: {seen}; {detail}{failed}")


def _describe(steps: Sequence[Step], res: RunResult, failure: Failure | None, passed: dict[str, list[str]]) -> str:
    order = ", ".join(str(s) for s in steps)
    lines = [("FAILED" if failure is not None else "passed") + f": marker schedule [{order}]"]
    if failure is not None:
        lines.append(f"  {failure.kind}: {failure.message.strip().splitlines()[0]}")
    for name, ms in passed.items():
        lines.append(f"  {name} passed: {', '.join(ms) or 'no marker'}")
    lines.append(f"  steps: {res.steps}; schedule: {res.schedule}")
    return "\n".join(lines)


def run_schedule(
    setup: Callable[[], S],
    actors: Mapping[str, Callable[[S], object]],
    schedule: str | Sequence[str],
    invariant: Callable[[S], bool],
    *,
    deadlock_timeout: float = DEFAULT_DEADLOCK_TIMEOUT,
    timeout_per_run: float | None = 10.0,
    max_steps: int = 100_000,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> ScheduleResult:
    """Runs the actors (each ``fn(state)`` in a thread named by its key) in
    the marker order ``schedule``, then checks ``invariant(state)``.
    Returns a ``ScheduleResult``; raises ``MarkerError`` for an unknown
    actor or marker, a malformed marker comment, or a schedule the program
    cannot follow (an actor blocks or ends before its next marker)."""
    api = "run_schedule"
    common = run_options(deadlock_timeout, timeout_per_run, max_steps, include, exclude)
    test = _make_test(api, setup, actors, invariant, common)
    steps = parse_schedule(schedule, test.names, test.table.markers)
    plan = test.plan(steps)
    res, failure = test.run(plan, api)
    if plan.stuck() is not None or plan.met() < len(steps) or (failure is not None and failure.kind == "divergence"):
        raise _stuck_error(test, plan, steps, res, failure)
    passed = test.passed(plan)
    out = ScheduleResult(failure is None, failure, res, passed)
    out.explanation = _describe(steps, res, failure, passed)
    return out


def interleavings(sequences: Mapping[str, Sequence[str]]) -> list[list[Step]]:
    """Every order of the actors' marker sequences that keeps each
    actor's own order (a marker met for the k-th time is ``#k``): those
    with fewer switches between actors first (then in lexicographic order
    of the actors), so that the first failing order found is one of the
    simplest — the failing order comes shrunk."""
    names = list(sequences)
    seqs: dict[str, list[Step]] = {}
    for n in names:
        counts: dict[str, int] = {}
        out = []
        for m in sequences[n]:
            counts[m] = counts.get(m, 0) + 1
            out.append(Step(n, m, 0 if m == END else counts[m]))
        seqs[n] = out
    result: list[list[Step]] = []
    pos = dict.fromkeys(names, 0)
    total = sum(len(s) for s in seqs.values())
    order: list[Step] = []

    def go() -> None:
        if len(order) == total:
            result.append(list(order))
            return
        for n in names:
            if pos[n] < len(seqs[n]):
                order.append(seqs[n][pos[n]])
                pos[n] += 1
                go()
                pos[n] -= 1
                order.pop()

    go()
    result.sort(key=lambda o: sum(a.actor != b.actor for a, b in zip(o, o[1:], strict=False)))
    return result


def count_interleavings(lengths: Sequence[int]) -> int:
    """The multinomial number of orders of sequences of these lengths."""
    return math.factorial(sum(lengths)) // math.prod(math.factorial(n) for n in lengths)


def explore_markers(
    setup: Callable[[], S],
    actors: Mapping[str, Callable[[S], object]],
    invariant: Callable[[S], bool],
    *,
    stop_on_first: bool = True,
    on_progress: Callable[[int, int], object] | None = None,
    max_executions: int | None = None,
    deadlock_timeout: float = DEFAULT_DEADLOCK_TIMEOUT,
    timeout_per_run: float | None = 10.0,
    max_steps: int = 100_000,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    reproduce_on_failure: int = 10,
) -> ExploreResult:
    """Runs every order of the markers the actors reach. A first run (the
    default policy) finds each actor's marker sequence, ended by ``end``;
    then each interleaving of those sequences runs as a marker schedule,
    those with the fewest switches between actors first (so the first
    failure found is one of the simplest orders that fail).
    Between markers, an actor's steps are not interleaved with the others':
    ``exhausted`` means that every order of the markers ran, not every
    interleaving of the program (``explore_dpor`` runs those). An order in
    which an actor reaches other markers than in the first run (the markers
    depend on the order) cannot be followed: it is counted in
    ``stats["infeasible"]`` and named in ``limits``; an order in which the
    actor whose turn it is blocks (a lock held across a marker) is one the
    program cannot take, counted in ``stats["blocked"]``."""
    api = "explore_markers"
    started = time.monotonic()
    common = run_options(deadlock_timeout, timeout_per_run, max_steps, include, exclude)
    test = _make_test(api, setup, actors, invariant, common)
    limits = Limits(max_steps, explore_timeouts=False)
    first = test.plan([])
    res, failure = test.run(first, api)
    sequences = {n: [*ms, END] for n, ms in test.passed(first).items()}
    orders = interleavings(sequences)
    total = len(orders)
    failures: list[tuple[Failure, list[Step]]] = []
    infeasible: list[str] = []
    explored = 0
    blocked = 0
    stopped: str | None = None
    if failure is not None and failure.kind != "divergence":
        # The run that found the markers failed by itself: that is a finding
        # (replayed as it ran, step by step).
        failures.append((failure, []))
        failure.execution = 0
        if stop_on_first:
            stopped = "stopped at the first failure (the run that found the markers failed)"
    for order in orders if stopped is None else []:
        if max_executions is not None and explored >= max_executions:
            stopped = f"max_executions ({max_executions}) reached"
            break
        plan = test.plan(order)
        res, failure = test.run(plan, api)
        explored += 1
        limits.add(res, explored)
        if plan.stuck() is not None:
            if res.status == "divergence" and " is blocked at " in res.message:
                # An order the program cannot take (a lock held across a
                # marker): nothing is missed.
                blocked += 1
            else:
                infeasible.append(", ".join(map(str, order)))
        elif failure is not None:
            failure.execution = explored
            failures.append((failure, order))
            if stop_on_first:
                stopped = "stopped at the first failure"
        if on_progress is not None:
            on_progress(explored, total)
        if stopped is not None:
            break
    for f, order in failures[:1]:
        replay_plan = test.plan(order) if order else test.plan([])
        reproduce(f, setup, test.fns, invariant, reproduce_on_failure, common, api=api,
                  markers=replay_plan, names=test.names)
    extra = [f"{len(infeasible)} marker order(s) could not be followed (an actor reached other markers than"
             f" in the first run), the first: [{infeasible[0]}]"] if infeasible else []
    result = ExploreResult(
        property_holds=not failures,
        num_explored=explored,
        exhausted=stopped is None and not infeasible and not limits.lines(),
        failures=[f for f, _ in failures],
        stopped_because=stopped,
        elapsed=time.monotonic() - started,
        stats={
            "orders": total,
            "infeasible": len(infeasible),
            "blocked": blocked,
            "sequences": {n: list(s) for n, s in sequences.items()},
            "marker_schedules": [[str(s) for s in o] for _, o in failures],
        },
        limits=limits.lines() + extra,
    )
    text = explain(result)
    for n, (_f, order) in enumerate(failures[:3], 1):
        if order:
            text += f"\nfailure {n} as a marker schedule: {[str(s) for s in order]!r}"
            text += "\n  replay: racetrace.run_schedule(setup, actors, <that list>, invariant)"
    result.explanation = text
    return result
