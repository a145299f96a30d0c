"""Marker schedules on generated programs, against an independent model
of what a schedule means.

Each program has two or three actors; each actor is a list of lines that
append (actor, line number) to a shared log, some of them marked (marker
names drawn from a small set, so that a name recurs: ``#k`` occurrences).
A schedule is a random interleaving of the actors' marker sequences, each
ended by ``end``. The model: when an actor is let go for an entry, it runs
from where it stands up to (not including) the line of the entry's marker
(for ``end``: to its last line), the other actors standing still. The log
of the run must be exactly the model's, on every program and schedule.
"""

from __future__ import annotations

import importlib
import random
import sys
from pathlib import Path

import pytest

import racetrace

MARKERS = ["p", "q", "r"]


def make_program(rng: random.Random, n: int) -> tuple[str, dict[str, list[str | None]]]:
    """Source of a module with one function per actor, and each actor's
    lines as their marker (or None)."""
    lines = ["class State:", "    def __init__(self):", "        self.log = []", ""]
    actors: dict[str, list[str | None]] = {}
    for a in range(n):
        name = f"actor{a}"
        marks: list[str | None] = []
        lines.append(f"def {name}(s):")
        for i in range(rng.randint(1, 5)):
            mark = rng.choice(MARKERS) if rng.random() < 0.6 else None
            comment = f"  # racetrace: {mark}" if mark else ""
            lines.append(f"    s.log.append(({name!r}, {i})){comment}")
            marks.append(mark)
        lines.append("")
        actors[name] = marks
    return "\n".join(lines) + "\n", actors


def random_schedule(rng: random.Random, actors: dict[str, list[str | None]]) -> list[tuple[str, str, int]]:
    """A random interleaving of the actors' marker sequences: (actor,
    marker, occurrence), ``end`` last for each."""
    seqs: dict[str, list[tuple[str, str, int]]] = {}
    for name, marks in actors.items():
        seen: dict[str, int] = {}
        seq = []
        for m in marks:
            if m is not None:
                seen[m] = seen.get(m, 0) + 1
                seq.append((name, m, seen[m]))
        seq.append((name, "end", 0))
        seqs[name] = seq
    pos = dict.fromkeys(seqs, 0)
    out = []
    while True:
        left = [n for n in seqs if pos[n] < len(seqs[n])]
        if not left:
            return out
        n = rng.choice(left)
        out.append(seqs[n][pos[n]])
        pos[n] += 1


def model(actors: dict[str, list[str | None]], schedule: list[tuple[str, str, int]]) -> list[tuple[str, int]]:
    """The log the schedule must give."""
    at = dict.fromkeys(actors, 0)
    log = []
    for name, marker, nth in schedule:
        marks = actors[name]
        if marker == "end":
            stop = len(marks)
        else:
            lines = [i for i, m in enumerate(marks) if m == marker]
            stop = lines[nth - 1]
        log.extend((name, i) for i in range(at[name], stop))
        at[name] = stop
    return log


@pytest.mark.parametrize("seed", range(40))
def test_generated_programs_follow_the_model(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    modname = f"marked_program_{seed}"
    source, actors = make_program(rng, rng.choice([2, 3]))
    (tmp_path / f"{modname}.py").write_text(source)
    sys.path.insert(0, str(tmp_path))
    try:
        mod = importlib.import_module(modname)
        fns = {name: getattr(mod, name) for name in actors}
        for _ in range(8):
            schedule = random_schedule(rng, actors)
            entries = [f"{a}:{m}" if m == "end" else f"{a}:{m}#{k}" for a, m, k in schedule]
            logs: list[list[tuple[str, int]]] = []

            def keep(s: object, logs: list[list[tuple[str, int]]] = logs) -> bool:
                logs.append(list(s.log))  # type: ignore[attr-defined]
                return True

            r = racetrace.run_schedule(mod.State, fns, entries, keep)
            assert r.property_holds, r.explanation
            assert logs == [model(actors, schedule)], (source, entries)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(modname, None)
