#!/usr/bin/env python3
"""racetrace demo: analyze the traces of two buggy programs.

- ``examples/lost_update.py``: two threads increment a counter without a
  lock; ``racetrace races`` reports the read and the write that race.
- ``examples/lock_order.py``: two threads take two locks in opposite
  orders; ``racetrace deadlocks`` reports the cycle although the run
  finished.

The demo first records a real run of ``examples/lost_update.py``
(``racetrace record``) and shows the race in that run; the other traces
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


def racetrace(args: list[str]) -> int:
    """Runs ``racetrace ARGS`` from the repository root; returns its exit code."""
    print(f"$ racetrace {' '.join(args)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "racetrace", *args], cwd=ROOT).returncode
    print(f"[exit code {code}]\n", flush=True)
    return code


def main() -> int:
    failures = 0
    out_dir = Path(tempfile.gettempdir()) / "racetrace-demo"
    out_dir.mkdir(exist_ok=True)
    for step in steps(out_dir):
        print(f"## {step.title}", flush=True)
        code = racetrace(step.args)
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
