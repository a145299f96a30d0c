"""Recorder overhead: a tight pure-Python loop of attribute updates, run
plainly and under ``racetrace.record`` in the same process.

    python recorder/bench/bench_record.py [--iterations N] [--repeat R]

Prints the median times, the slowdown, the number of events, events per
second and bytes per event of the trace. The loop body (`p.x += 1`) is 10
bytecode instructions, two of them visible (a read and a write of `P.x`).
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


def instructions_per_iteration() -> int:
    body = [i for i in dis.get_instructions(loop) if i.offset >= 0]
    start = next(i.offset for i in body if i.opname == "FOR_ITER")
    end = next(i.offset for i in body if i.opname == "JUMP_BACKWARD")
    return sum(1 for i in body if start <= i.offset <= end)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    n = args.iterations
    per_iter = instructions_per_iteration()

    plain, recorded, events, sizes = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.rtrace")
        for _ in range(args.repeat):
            plain.append(timed(lambda: loop(P(), n)))
            rec = racetrace.record(path)

            def run() -> None:
                with rec:
                    loop(P(), n)

            recorded.append(timed(run))
            events.append(rec.events)
            sizes.append(os.path.getsize(path))

    t_plain = statistics.median(plain)
    t_rec = statistics.median(recorded)
    ev = statistics.median(events)
    size = statistics.median(sizes)
    print(f"python:            {sys.version.split()[0]}")
    print(f"loop:              {n} iterations x {per_iter} instructions = {n * per_iter} instructions")
    print(f"plain (median):    {t_plain * 1e3:.1f} ms")
    print(f"recorded (median): {t_rec * 1e3:.1f} ms")
    print(f"slowdown:          {t_rec / t_plain:.1f}x")
    print(f"events:            {ev:.0f} ({ev / t_rec / 1e6:.2f} M events/s recorded)")
    print(f"trace size:        {size} bytes ({size / ev:.2f} bytes/event)")


if __name__ == "__main__":
    main()
