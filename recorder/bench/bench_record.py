"""Recorder overhead: a tight pure-Python loop of attribute updates, run
plainly and under ``racetrace.record`` in the same process.

    python recorder/bench/bench_record.py [--iterations N] [--repeat R]

Prints the median times, the slowdown, the number of events, events per
second and bytes per event of the trace. The loop body (`p.x += 1`) is 10
bytecode instructions, two of them visible (a read and a write of `P.x`).

Two more workloads put the headline figure in context: `locals` (the same
loop on a local variable: every instruction invisible, so this is the cost
of the trace hook alone) and `mixed` (a method call, a function call and a
dict built and updated per iteration).
"""

from __future__ import annotations

import argparse
import dis
import os
import statistics
import sys
import tempfile
import time

import racetrace


class P:
    def __init__(self) -> None:
        self.x = 0


def loop(p: P, n: int) -> None:
    for _ in range(n):
        p.x += 1


def loop_locals(p: P, n: int) -> None:
    x = 0
    for _ in range(n):
        x += 1
    p.x = x


class Q:
    def __init__(self) -> None:
        self.x = 0

    def inc(self) -> None:
        self.x += 1


def add(a: int, b: int) -> int:
    return a + b


def loop_mixed(p: P, n: int) -> None:
    q, s = Q(), 0
    for i in range(n):
        q.inc()
        s = add(s, i)
        d = {"a": i}
        d["a"] += 1
    p.x = s


def instructions_per_iteration(fn=loop) -> int:
    body = [i for i in dis.get_instructions(fn) if i.offset >= 0]
    start = next(i.offset for i in body if i.opname == "FOR_ITER")
    end = next(i.offset for i in body if i.opname == "JUMP_BACKWARD")
    return sum(1 for i in body if start <= i.offset <= end)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(fn, n: int, repeat: int, path: str) -> tuple[float, float, float, float]:
    """Median plain time, median recorded time, events, trace bytes."""
    plain, recorded, events, sizes = [], [], [], []
    for _ in range(repeat):
        plain.append(timed(lambda: fn(P(), n)))
        rec = racetrace.record(path)

        def run() -> None:
            with rec:
                fn(P(), n)

        recorded.append(timed(run))
        events.append(rec.events)
        sizes.append(os.path.getsize(path))
    return (
        statistics.median(plain),
        statistics.median(recorded),
        statistics.median(events),
        statistics.median(sizes),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    n = args.iterations
    per_iter = instructions_per_iteration()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.rtrace")
        t_plain, t_rec, ev, size = measure(loop, n, args.repeat, path)
        others = {
            name: measure(fn, n, args.repeat, path)
            for name, fn in (("locals", loop_locals), ("mixed", loop_mixed))
        }

    print(f"python:            {sys.version.split()[0]}")
    print(f"loop:              {n} iterations x {per_iter} instructions = {n * per_iter} instructions")
    print(f"plain (median):    {t_plain * 1e3:.1f} ms")
    print(f"recorded (median): {t_rec * 1e3:.1f} ms")
    print(f"slowdown:          {t_rec / t_plain:.1f}x")
    print(f"events:            {ev:.0f} ({ev / t_rec / 1e6:.2f} M events/s recorded)")
    print(f"trace size:        {size:.0f} bytes ({size / ev:.2f} bytes/event)")
    for name, (p, r, e, b) in others.items():
        print(
            f"{name + ':':<19}{p * 1e3:.1f} ms plain, {r * 1e3:.1f} ms recorded, "
            f"{r / p:.1f}x, {e:.0f} events, {b / max(e, 1):.2f} bytes/event"
        )


if __name__ == "__main__":
    main()
