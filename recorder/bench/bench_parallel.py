"""Exploration at scale: executions per second with one and two worker
processes, and the time the portfolio and each strategy take to find bugs
that need three preemptions.

    python recorder/bench/bench_parallel.py [--repeat R] [--part rate|find]

1. **Workers.** A four-thread program whose Mazurkiewicz classes are known
   exactly: two threads increment `x`, `y` and `z` (each a read then a
   write), one `x` and `y`, one `x`; the orders of the four `x`
   increments, the three `y` and the two `z` are independent, so there are
   4!*4! * 3!*3! * 2!*2! / (...)= 576 * 36 * 4 = 82,944 classes.
   `explore_dpor(workers=1)` and `workers=2` run alternately, R times
   each; the figures are medians, with the load average before and after
   (the machine is shared). Both must explore exactly 82,944 classes (a
   limit the result reports is printed).
2. **Finding depth-3 bugs.** The three bugs of `tests/test_portfolio.py`
   (ping-pong, a pair read torn twice, a relay through a list), each
   needing three preemptions, under `explore_interleavings` with each
   strategy and seeds 0-4 (up to 500 attempts): attempts and seconds to the
   first failure (shrinking and replays off), medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import racetrace

CLASSES = 82_944


class S:
    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.z = 0


def xyz(s: S) -> None:
    v = s.x
    s.x = v + 1
    v = s.y
    s.y = v + 1
    v = s.z
    s.z = v + 1


def xy(s: S) -> None:
    v = s.x
    s.x = v + 1
    v = s.y
    s.y = v + 1


def x(s: S) -> None:
    v = s.x
    s.x = v + 1


def always(_s: S) -> bool:
    return True


def rate(workers: int) -> tuple[float, int, dict]:
    t0 = time.perf_counter()
    r = racetrace.explore_dpor(S, [xyz, xyz, xy, x], always, workers=workers, progress=False)
    dt = time.perf_counter() - t0
    assert r.num_explored == CLASSES, (r.num_explored, r.explanation)
    if not r.exhausted:
        print("   ", r.explanation.splitlines()[-1].strip())
    return r.num_explored / dt, r.num_explored, r.stats


def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def part_rate(repeat: int) -> None:
    print(f"explore_dpor, {CLASSES:,} classes, four threads; load average {load()}")
    rates: dict[int, list[float]] = {1: [], 2: []}
    for i in range(repeat):
        for w in (1, 2):
            r, n, stats = rate(w)
            rates[w].append(r)
            blocked = stats.get("sleep_blocked", 0)
            print(f"  round {i + 1} workers={w}: {r:,.0f} executions/s ({n:,} explored, {blocked:,} abandoned as redundant); load {load()}")
    m1, m2 = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"median workers=1: {m1:,.0f}/s; workers=2: {m2:,.0f}/s; ratio {m2 / m1:.2f}x")


def part_find() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    from test_portfolio import BUGS  # noqa: PLC0415

    print("explore_interleavings, depth-3 bugs, seeds 0-4, up to 500 attempts: median attempts / seconds (found)")
    for name, (setup, threads, invariant) in sorted(BUGS.items()):
        for strategy in ("portfolio", "random", "pct", "pb"):
            attempts, seconds, found = [], [], 0
            for seed in range(5):
                t0 = time.perf_counter()
                r = racetrace.explore_interleavings(
                    setup, threads, invariant, strategy=strategy, seed=seed, max_attempts=500,
                    shrink=False, reproduce_on_failure=1, progress=False,
                )
                seconds.append(time.perf_counter() - t0)
                attempts.append(r.num_explored)
                found += not r.property_holds
            print(
                f"  {name:10} {strategy:9}: {statistics.median(attempts):5.0f} attempts,"
                f" {statistics.median(seconds):6.3f} s ({found}/5 found)"
            )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--part", choices=["rate", "find", "all"], default="all")
    args = ap.parse_args()
    if args.part in ("find", "all"):
        part_find()
    if args.part in ("rate", "all"):
        part_rate(args.repeat)
