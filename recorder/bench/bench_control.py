"""Controlled execution: context-switch rate and the cost of one execution.

    python recorder/bench/bench_control.py [--rounds N] [--executions E]

1. **Context switches per second.** Two actors ping-pong on a shared
   attribute (`box.value += 1`, a read and a write per round), under a
   schedule that alternates between them at every step, so that every
   step is a switch from one OS thread to the other (condition variable
   handoff, GIL released and re-taken). Baseline, same run: the same
   program under the default policy, which switches only when an actor
   finishes (steps per second without switches).
2. **One controlled execution of a tiny two-thread program** (main starts
   two threads that each increment a counter once, then joins them; about
   20 steps), with a random schedule per execution, as exploration runs
   them: wall time per execution, everything included (trace file, thread
   creation, Python setup). Baseline, same run: the same function run
   plainly. Target: at most 0.5 ms per execution.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import racetrace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "programs" / "control"))
import programs  # noqa: E402


def alternating(rounds: int) -> str:
    """A schedule for `programs.ping_pong`: main's steps, then T1 and T2 one
    step each in turn, then main again (default policy)."""
    base = racetrace.run(programs.ping_pong, rounds).schedule
    steps: list[int] = []
    for run in base.split(":", 1)[1].split(","):
        actor, _, n = run.partition("*")
        steps += [int(actor)] * int(n or 1)
    first = next(i for i, a in enumerate(steps) if a != 0)
    ones = [i for i, a in enumerate(steps) if a == 1]
    twos = [i for i, a in enumerate(steps) if a == 2]
    # Main runs until both children are started and it waits in join; then
    # the children alternate.
    head = [a for a in steps[:first] if a == 0]
    tail = [a for a in steps[first:] if a == 0]
    mixed: list[int] = []
    for k in range(max(len(ones), len(twos))):
        if k < len(ones):
            mixed.append(1)
        if k < len(twos):
            mixed.append(2)
    out = head + mixed + tail
    return "rts1:" + ",".join(map(str, out))


def switches(schedule: str) -> int:
    runs = schedule.split(":", 1)[1].split(",")
    return len(runs) - 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5000)
    ap.add_argument("--executions", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ns = ap.parse_args()

    print(f"python {sys.version.split()[0]}, racetrace {racetrace.__version__}")
    # 1. Context switches.
    sched = alternating(ns.rounds)
    rates, base_rates = [], []
    for _ in range(ns.repeat):
        r = racetrace.run(programs.ping_pong, ns.rounds, schedule=sched)
        rates.append((switches(r.schedule) / r.elapsed, r.steps / r.elapsed))
        b = racetrace.run(programs.ping_pong, ns.rounds)
        base_rates.append(b.steps / b.elapsed)
    sw = statistics.median(x[0] for x in rates)
    st = statistics.median(x[1] for x in rates)
    base = statistics.median(base_rates)
    print(
        f"ping-pong: {sw:,.0f} context switches/s ({st:,.0f} steps/s, every step a switch); "
        f"baseline without switches: {base:,.0f} steps/s (ratio {st / base:.2f})"
    )

    # 2. Cost of one execution.
    per_exec = []
    for _ in range(ns.repeat):
        start = time.perf_counter()
        for seed in range(ns.executions):
            racetrace.run(programs.tiny, seed=seed)
        per_exec.append((time.perf_counter() - start) / ns.executions)
    plain = []
    for _ in range(ns.repeat):
        start = time.perf_counter()
        for _ in range(ns.executions):
            programs.tiny()
        plain.append((time.perf_counter() - start) / ns.executions)
    steps = racetrace.run(programs.tiny, seed=0).steps
    pe, pl = statistics.median(per_exec), statistics.median(plain)
    print(
        f"tiny two-thread program ({steps} steps): {pe * 1e3:.3f} ms per controlled execution "
        f"({1 / pe:,.0f} executions/s); plain run {pl * 1e3:.3f} ms (ratio {pe / pl:.1f}); "
        f"target <= 0.5 ms"
    )
    assert threading.active_count() < 10


if __name__ == "__main__":
    main()
