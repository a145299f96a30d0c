"""Hypothesis strategies whose examples are schedules (``pip install
'racetrace[hypothesis]'``).

A drawn schedule replays deterministically, so Hypothesis' shrinking is
reliable and can stay on: the example it reports is the smallest schedule
it found, printed as a string that ``run`` (and ``@example``) takes as it
is.

- ``schedules(actors)`` draws a whole schedule: one small choice per
  scheduling point (choice ``k`` runs the k-th runnable actor, the current
  one first, so 0 is "no preemption"), written ``"choices:0*12,1,0*3,1"``.
  Shrinking makes choices smaller and fewer: fewer preemptions.
- ``marker_schedules(setup, actors)`` draws an order of the markers the
  actors reach (``# racetrace: NAME`` comments, see
  ``racetrace.run_schedule``), a list such as ``["alice:read#1", ...]``.
- ``run(setup, actors, invariant, schedule)`` runs one of either kind (or
  an ``rts1:`` schedule) and returns a ``ScheduleResult``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from hypothesis import note, strategies as st
from hypothesis.errors import InvalidArgument

from racetrace.control import DEFAULT_DEADLOCK_TIMEOUT
from racetrace.markers import END, MarkerError
from racetrace.runs import run_options, run_threads
from racetrace.schedules import ScheduleResult, explore_markers, run_schedule

S = TypeVar("S")

__all__ = ["marker_schedules", "run", "schedules", "decode_choices", "encode_choices"]

#: The text form of a choice schedule.
PREFIX = "choices:"
_ITEM = re.compile(r"(\d+)(?:\*(\d+))?\Z")


def encode_choices(choices: Sequence[int]) -> str:
    """``choices:`` text, run-length encoded; trailing zeros (the default)
    are left out."""
    items = list(choices)
    while items and items[-1] == 0:
        items.pop()
    parts: list[str] = []
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and items[j] == items[i]:
            j += 1
        parts.append(str(items[i]) if j - i == 1 else f"{items[i]}*{j - i}")
        i = j
    return PREFIX + ",".join(parts)


def decode_choices(text: str) -> list[int]:
    """The choices of a ``choices:`` text; ``ValueError`` when malformed."""
    if not text.startswith(PREFIX):
        raise ValueError(f"a choice schedule starts with {PREFIX!r}: {text!r}")
    out: list[int] = []
    body = text[len(PREFIX) :].strip()
    for part in body.split(",") if body else []:
        m = _ITEM.match(part.strip())
        if m is None:
            raise ValueError(f"malformed item {part!r} in {text!r} (items are N or N*COUNT)")
        out.extend([int(m.group(1))] * int(m.group(2) or 1))
    return out


def schedules(actors: int | Mapping[str, object] = 2, *, max_steps: int = 200) -> st.SearchStrategy[str]:
    """Whole schedules of a test with ``actors`` actors (a number, or the
    dict of them): at most ``max_steps`` choices (the default policy after
    them), as ``choices:`` text."""
    n = actors if isinstance(actors, int) else len(actors)
    if n < 1:
        raise ValueError("schedules: at least one actor")
    # The main actor that starts and joins them can be runnable too.
    return st.lists(st.integers(0, n), max_size=max_steps).map(encode_choices)


def marker_schedules(
    setup: Callable[[], S],
    actors: Mapping[str, Callable[[S], object]],
    *,
    invariant: Callable[[S], bool] | None = None,
) -> st.SearchStrategy[list[str]]:
    """Orders of the markers the actors reach (found by one run, the first
    time an example is drawn), each ending in ``actor:end``. Shrinking goes
    towards running the actors one after the other, in dict order."""
    found: list[dict[str, list[str]]] = []

    def sequences() -> dict[str, list[str]]:
        if not found:
            r = explore_markers(setup, actors, invariant or (lambda _s: True), max_executions=0, reproduce_on_failure=1)
            found.append(r.stats["sequences"])
        return found[0]

    @st.composite
    def orders(draw: st.DrawFn) -> list[str]:
        seqs = sequences()
        pos = dict.fromkeys(seqs, 0)
        seen: dict[tuple[str, str], int] = {}
        out: list[str] = []
        while True:
            left = [n for n in seqs if pos[n] < len(seqs[n])]
            if not left:
                return out
            name = left[draw(st.integers(0, len(left) - 1))] if len(left) > 1 else left[0]
            marker = seqs[name][pos[name]]
            pos[name] += 1
            if marker == END:
                out.append(f"{name}:{END}")
            else:
                seen[name, marker] = seen.get((name, marker), 0) + 1
                out.append(f"{name}:{marker}#{seen[name, marker]}")

    return orders()


def run(
    setup: Callable[[], S],
    actors: Mapping[str, Callable[[S], object]],
    invariant: Callable[[S], bool],
    schedule: str | Sequence[str],
    *,
    deadlock_timeout: float = DEFAULT_DEADLOCK_TIMEOUT,
    timeout_per_run: float | None = 10.0,
    max_steps: int = 100_000,
) -> ScheduleResult:
    """Runs one schedule: ``choices:`` text (``schedules``), an ``rts1:``
    schedule, or a marker schedule (``marker_schedules``, a list or a
    comma-separated string). The result's explanation ends with the call
    that replays it."""
    if isinstance(schedule, str) and schedule.startswith(("choices:", "rts")):
        res = _run_steps(setup, actors, invariant, schedule, deadlock_timeout, timeout_per_run, max_steps)
    else:
        res = run_schedule(
            setup, actors, schedule, invariant, deadlock_timeout=deadlock_timeout,
            timeout_per_run=timeout_per_run, max_steps=max_steps,
        )
    res.explanation += f"\n  replay: racetrace.hypothesis.run(setup, actors, invariant, {schedule!r})"
    if res.failed:
        # Inside a Hypothesis test, the report of the failing (shrunk)
        # example shows how the run failed and the call that replays it.
        try:
            note(res.explanation)
        except InvalidArgument:  # not in a test
            pass
    return res


def _run_steps(
    setup: Callable[[], S],
    actors: Mapping[str, Callable[[S], object]],
    invariant: Callable[[S], bool],
    schedule: str,
    deadlock_timeout: float,
    timeout_per_run: float | None,
    max_steps: int,
) -> ScheduleResult:
    api = "racetrace.hypothesis.run"
    if not isinstance(actors, Mapping):
        raise TypeError(f"{api}: actors must be a dict of name -> callable")
    common = run_options(deadlock_timeout, timeout_per_run, max_steps, (), ())
    names = list(actors)
    choices = decode_choices(schedule) if schedule.startswith(PREFIX) else None
    steps = None if choices is not None else schedule
    res, failure = run_threads(
        setup, list(actors.values()), invariant, api=api, schedule=steps, trace=None, strategy=None,
        names=names, choices=choices, **common,
    )
    if failure is not None and failure.kind == "divergence":
        raise MarkerError(f"{api}: the schedule {schedule!r} does not fit the program: {res.message}")
    lines = [("FAILED" if failure is not None else "passed") + f": schedule {schedule}"]
    if failure is not None:
        lines.append(f"  {failure.kind}: {failure.message.strip().splitlines()[0]}")
    lines.append(f"  steps: {res.steps}; preemptions: {res.preemptions}; schedule: {res.schedule}")
    return ScheduleResult(failure is None, failure, res, {}, "\n".join(lines))
