"""explore_dpor over asyncio tasks: executions per second, against the
same program written with threads, measured in the same run.

    python recorder/bench/bench_async.py [--repeat R]

1. **A tiny two-task program**: two tasks each do `v = s.x; await
   asyncio.sleep(0); s.x = v + 1` (4 classes); the exploration is run
   again and again and every execution of every exploration counts
   (setup, one controlled run with its event loop, the DPOR step, the
   invariant). Baseline: two threads doing `v = s.x; s.x = v + 1` (4
   classes), explored the same way.
2. **576 classes**: four tasks each doing the same (4!·4! classes, as four
   threads reading then writing one attribute), against four threads.
3. **Recording slowdown**: an asyncio program of 10 tasks that each do
   2,000 small awaits (`await asyncio.sleep(0)` between two accesses),
   recorded with `racetrace.record`, against the plain run in the same
   process.

Prints the median executions/s of R runs of each (and the runs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import racetrace


class State:
    def __init__(self) -> None:
        self.x = 0


async def rw_task(s: State) -> None:
    v = s.x
    await asyncio.sleep(0)
    s.x = v + 1


def rw_thread(s: State) -> None:
    v = s.x
    s.x = v + 1


def rate(workers: list, rounds: int) -> tuple[float, int]:
    """Executions per second of `rounds` explorations of `workers`."""
    total = 0
    start = time.perf_counter()
    for _ in range(rounds):
        res = racetrace.explore_dpor(State, workers, lambda s: True, shrink=False)
        assert res.exhausted and not res.failures
        total += res.num_explored
    return total / (time.perf_counter() - start), total


class Shared:
    def __init__(self) -> None:
        self.total = 0


async def many_awaits(s: Shared, n: int) -> None:
    for _ in range(n):
        v = s.total
        await asyncio.sleep(0)
        s.total = v + 1


async def program(n: int) -> None:
    s = Shared()
    await asyncio.gather(*(many_awaits(s, n) for _ in range(10)))


def recording_slowdown(path: str, n: int = 2000) -> tuple[float, float]:
    """Seconds of the plain run and of the recorded one."""
    start = time.perf_counter()
    asyncio.run(program(n))
    plain = time.perf_counter() - start
    start = time.perf_counter()
    with racetrace.record(path):
        asyncio.run(program(n))
    return plain, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    cases = [
        ("2 tasks, 4 classes (x100 explorations)", [rw_task] * 2, 100),
        ("2 threads, 4 classes (x100 explorations)", [rw_thread] * 2, 100),
        ("4 tasks, 576 classes", [rw_task] * 4, 1),
        ("4 threads, 576 classes", [rw_thread] * 4, 1),
    ]
    rate(cases[0][1], 5)  # warm up (imports, thread pool)
    results: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for _ in range(args.repeat):
        # Alternated within each repeat, so that load affects all alike.
        for name, workers, rounds in cases:
            r, _n = rate(workers, rounds)
            results[name].append(r)
    print(f"{'program':<45} {'median exec/s':>14}   runs")
    for name, runs in results.items():
        print(f"{name:<45} {statistics.median(runs):>14,.0f}   {', '.join(f'{r:,.0f}' for r in runs)}")
    for a, b in ((0, 1), (2, 3)):
        ta = statistics.median(results[cases[a][0]])
        tb = statistics.median(results[cases[b][0]])
        print(f"tasks/threads, {cases[a][0].split(',')[1].strip()}: {ta / tb:.2f}")
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        runs = [recording_slowdown(f"{d}/bench.rtrace") for _ in range(args.repeat)]
    ratios = [rec / plain for plain, rec in runs]
    plain = statistics.median(p for p, _ in runs)
    rec = statistics.median(r for _, r in runs)
    print(
        f"recording 10 tasks x 2,000 awaits: plain {plain * 1000:.0f} ms, recorded {rec * 1000:.0f} ms, "
        f"slowdown median {statistics.median(ratios):.2f}x ({', '.join(f'{r:.2f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()
