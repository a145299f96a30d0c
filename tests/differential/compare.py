"""One differential check: the outcomes the oracle sees on a program must
all be among the outcomes ``explore_dpor`` reports when it explores that
program to exhaustion.

``explore_dpor`` is asked for every execution (``stop_on_first=False``,
an invariant that always holds); the outcome of each is read from the
state its ``setup`` made, in ``on_progress``, which runs after every
execution whatever its end (a deadlocked one included, where the
invariant is not called). A program it cannot exhaust within its budget
proves nothing and is counted as inconclusive, not as a pass.
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import racetrace

from .baton import Policy, Run, run_once
from .generator import Program


def load(program: Program, directory: Path) -> ModuleType:
    """The program as a module imported from a file of its own (so that
    its code is the user code racetrace traces by default, and tracebacks
    show its lines)."""
    name = f"rt_diff_{program.seed}_{abs(hash(program.source)) % 10**8}"
    path = directory / f"{name}.py"
    path.write_text(program.source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Explored:
    """What explore_dpor reported: the outcomes, whether it covered every
    class, why not, and the kinds of its failures other than deadlocks."""

    outcomes: set[str]
    exhausted: bool
    executions: int
    stopped: str | None
    odd_failures: list[str]
    seconds: float


def explore(module: ModuleType, max_executions: int = 1000, total_timeout: float = 30.0) -> Explored:
    states: list[Any] = []
    outcomes: set[str] = set()

    def setup() -> Any:
        s = module.setup()
        states[:] = [s]
        return s

    def progress(explored: int, estimate: int) -> None:
        outcomes.add(module.outcome(states[0]))

    started = time.monotonic()
    r = racetrace.explore_dpor(
        setup,
        module.THREADS,
        lambda s: True,
        stop_on_first=False,
        shrink=False,
        reproduce_on_failure=1,
        on_progress=progress,
        max_executions=max_executions,
        total_timeout=total_timeout,
        timeout_per_run=10.0,
        deadlock_timeout=5.0,
    )
    odd = []
    for f in r.failures:
        if f.trace is not None and os.path.exists(f.trace):
            os.remove(f.trace)
        if f.kind != "deadlock":
            odd.append(f"{f.kind}: {f.message.splitlines()[0] if f.message else ''}")
    return Explored(outcomes, r.exhausted, r.num_explored, r.stopped_because, odd, time.monotonic() - started)


@dataclass
class Sampled:
    """What the oracle saw: each outcome with the first run that gave it."""

    outcomes: dict[str, Run] = field(default_factory=dict)
    runs: int = 0
    seconds: float = 0.0


def sample(module: ModuleType, schedules: int, seed: int = 0) -> Sampled:
    """``schedules`` oracle runs of the program, policies drawn from
    ``seed``; PCT's horizon is the longest run seen so far."""
    out = Sampled()
    started = time.monotonic()
    horizon = 50
    for i in range(schedules):
        run = run_once(module, Policy.draw(seed * 1_000_003 + i, horizon))
        horizon = max(horizon, run.steps)
        out.outcomes.setdefault(run.outcome, run)
        out.runs += 1
    out.seconds = time.monotonic() - started
    return out


@dataclass
class Verdict:
    """One program checked: ``missing`` are the oracle's outcomes that
    explore_dpor did not report (each with the run that gave it)."""

    program: Program
    explored: Explored
    sampled: Sampled
    missing: dict[str, Run]

    @property
    def conclusive(self) -> bool:
        return self.explored.exhausted and not self.explored.odd_failures

    @property
    def unsound(self) -> bool:
        return self.conclusive and bool(self.missing)

    def report(self) -> str:
        e, s = self.explored, self.sampled
        lines = [
            f"program seed {self.program.seed} (features: {', '.join(self.program.features)})",
            f"explore_dpor: {e.executions} executions, {len(e.outcomes)} outcomes, "
            f"exhausted={e.exhausted}{'' if e.stopped is None else f' ({e.stopped})'}",
            f"oracle: {s.runs} runs, {len(s.outcomes)} outcomes",
        ]
        lines += [f"explore_dpor failure: {f}" for f in e.odd_failures]
        for text, run in self.missing.items():
            lines.append(f"MISSING outcome (oracle run: {run.status}, {run.policy}): {text}")
            lines.append(f"  oracle schedule: {run.schedule()}")
        lines.append("explore_dpor outcomes:")
        lines += [f"  {o}" for o in sorted(e.outcomes)]
        lines.append("source:")
        lines.append(self.program.source)
        return "\n".join(lines)


def check(program: Program, directory: Path, schedules: int, max_executions: int = 1000) -> Verdict:
    module = load(program, directory)
    explored = explore(module, max_executions=max_executions)
    sampled = sample(module, schedules, seed=program.seed)
    missing = {o: r for o, r in sampled.outcomes.items() if o not in explored.outcomes}
    return Verdict(program, explored, sampled, missing)
