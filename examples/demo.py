#!/usr/bin/env python3
"""racetrace demo: analyze the traces of two buggy programs.

- ``examples/lost_update.py``: two threads increment a counter without a
  lock; ``racetrace races`` reports the read and the write that race.
- ``examples/lock_order.py``: two threads take two locks in opposite
  orders; ``racetrace deadlocks`` reports the cycle although the run
  finished.

The demo first records a real run of ``examples/lost_update.py``
(``racetrace record``), shows the race in that run, replays the run and
writes its replay script, then explores every interleaving of two
increments with ``racetrace.explore_dpor``
(``examples/explore_lost_update.py``): the failing schedule found, shrunk,
explained and replayed. The other traces
analyzed here are bundled in ``tests/data/``. Each step is one
``racetrace`` command with the exit code it should give (0 nothing found,
1 findings, 2 bad input); add a ``Step`` to ``steps()`` to show more.
Output files (the Perfetto trace) go to a ``racetrace-demo`` directory in
the system's temporary directory.

Run from anywhere: ``python3 examples/demo.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path("tests") / "data"


@dataclass
class Step:
    title: str
    args: list[str]
    expected_code: int
    #: Run ``python3 ARGS`` instead of ``racetrace ARGS``.
    python: bool = False


def steps(out_dir: Path) -> list[Step]:
    lost_update = str(DATA / "lost_update.rtrace")
    lock_order = str(DATA / "lock_order.rtrace")
    perfetto = str(out_dir / "lost_update.perfetto.json")
    recorded = str(out_dir / "lost_update.rtrace")
    return [
        Step(
            "Record a real run of the lost update",
            ["record", "-o", recorded, "examples/lost_update.py"],
            0,
        ),
        Step("Which accesses race in that run?", ["races", recorded], 1),
        Step(
            "Replay that run: the recorded interleaving, forced step by step",
            ["replay", recorded, "--", "examples/lost_update.py"],
            0,
        ),
        Step(
            "A standalone replay script of it (the interleaving is in its comments)",
            ["script", recorded, "-o", str(out_dir / "repro_lost_update.py")],
            0,
        ),
        Step(
            "Explore every interleaving of two increments: found, shrunk, explained, replayed",
            ["examples/explore_lost_update.py"],
            0,
            python=True,
        ),
        Step("What is in the trace?", ["info", lost_update], 0),
        Step("The lost update: which accesses race?", ["races", lost_update], 1),
        Step("No lock, so no potential deadlock there", ["deadlocks", lost_update], 0),
        Step(
            "The happens-before graph (Graphviz DOT)",
            ["graph", lost_update, "--format", "dot"],
            0,
        ),
        Step(
            "The same graph for a trace viewer (Perfetto / chrome://tracing)",
            ["graph", lost_update, "--format", "perfetto", "-o", perfetto],
            0,
        ),
        Step("Opposite lock orders: a potential deadlock", ["deadlocks", lock_order], 1),
    ]


def run(args: list[str], python: bool = False) -> int:
    """Runs ``racetrace ARGS`` (or ``python3 ARGS``) from the repository
    root; returns its exit code."""
    shown, command = ("python3", []) if python else ("racetrace", ["-m", "racetrace"])
    print(f"$ {shown} {' '.join(args)}", flush=True)
    code = subprocess.run([sys.executable, *command, *args], cwd=ROOT).returncode
    print(f"[exit code {code}]\n", flush=True)
    return code


def main() -> int:
    failures = 0
    out_dir = Path(tempfile.gettempdir()) / "racetrace-demo"
    out_dir.mkdir(exist_ok=True)
    for step in steps(out_dir):
        print(f"## {step.title}", flush=True)
        code = run(step.args, step.python)
        if code != step.expected_code:
            print(f"demo: expected exit code {step.expected_code}, got {code}", file=sys.stderr)
            failures += 1
    print(f"Files written by the demo are in {out_dir}")
    if failures:
        print(f"demo: {failures} step(s) did not behave as expected", file=sys.stderr)
        return 1
    print("demo: all steps behaved as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
