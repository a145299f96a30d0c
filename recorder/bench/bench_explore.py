"""explore_dpor: executions per second, and explored/optimal on the count
programs.

    python recorder/bench/bench_explore.py [--repeat R]

1. **Executions per second** on a program with a few hundred Mazurkiewicz
   traces: four threads each read then write one shared attribute
   (`v = s.x; s.x = v + 1`; 4! * 4! = 576 classes), invariant always true
   so that the whole space is run. Everything is included: a controlled
   run per execution (its OS threads, the scheduler), the DPOR step, setup
   and the invariant. Baseline, same run: the same executions done plainly
   (setup, start and join the threads, invariant) without racetrace.
2. **Explored / optimal** on the count programs of the tests, the optimal
   number being computed by brute force over every interleaving of each
   program's visible operations (see `tests/test_explore_dpor.py`; for
   semaphores, tries and timed acquires, `tests/test_explore_sync.py`).

`--rate-only` measures executions per second only (to measure another
build of racetrace, without the newer count programs, in the same run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import racetrace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from test_explore_dpor import mazurkiewicz_count  # noqa: E402
from test_explore_sync import mazurkiewicz_count as sync_count  # noqa: E402


class State:
    pass


def fresh() -> State:
    s = State()
    s.x = 0
    s.cells = [0, 0, 0, 0]
    return s


def rw(s: State) -> None:
    v = s.x
    s.x = v + 1


def reader(s: State) -> int:
    return s.x


def writer(s: State) -> None:
    s.x = 1


def own(i: int):
    def f(s: State) -> None:
        setattr(s, f"own{i}", i)

    return f


def cell(i: int):
    def f(s: State) -> None:
        s.cells[i] = 1

    return f


def scan(s: State) -> int:
    total = 0
    for i in range(3):
        total += s.cells[i]
    return total


def always(_s: State) -> bool:
    return True


def plain(threads, n: int) -> float:
    """Seconds for n plain executions."""
    t0 = time.perf_counter()
    for _ in range(n):
        s = fresh()
        ts = [threading.Thread(target=fn, args=(s,)) for fn in threads]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        always(s)
    return time.perf_counter() - t0


COUNTS = [
    ("4 threads, own attributes", [own(i) for i in range(4)], [[(f"o{i}", True)] for i in range(4)]),
    ("4 readers of one attribute", [reader] * 4, [[("x", False)]] * 4),
    ("2 threads read-then-write", [rw] * 2, [[("x", False), ("x", True)]] * 2),
    ("3 threads read-then-write", [rw] * 3, [[("x", False), ("x", True)]] * 3),
    ("3 writers + 1 reader", [writer] * 3 + [reader], [[("x", True)]] * 3 + [[("x", False)]]),
    (
        "scan of cells written by 3 threads",
        [cell(0), cell(1), cell(2), scan],
        [[(("c", i), True)] for i in range(3)] + [[(("c", i), False) for i in range(3)]],
    ),
]


def sync_fresh() -> State:
    s = State()
    s.sem = threading.Semaphore(2)
    s.lock = threading.Lock()
    s.count = 0
    s.skipped = 0
    return s


def sem_incr(s: State) -> None:
    with s.sem:
        v = s.count
        s.count = v + 1


def holder(s: State) -> None:
    with s.lock:
        s.count += 1


def trier(s: State) -> None:
    if s.lock.acquire(blocking=False):
        try:
            s.count += 1
        finally:
            s.lock.release()
    else:
        s.skipped += 1


def timed(s: State) -> None:
    if s.lock.acquire(timeout=1.0):
        try:
            s.count += 1
        finally:
            s.lock.release()
    else:
        s.skipped += 1


_SECTION = [("sacq", "S"), ("r", "c"), ("w", "c"), ("srel", "S")]
_HOLDER = [("acq", "L"), ("r", "c"), ("w", "c"), ("rel", "L")]
_TRY = [("try", "L", [("r", "c"), ("w", "c"), ("rel", "L")], [("r", "k"), ("w", "k")])]
SYNC_COUNTS = [
    ("2 threads in a Semaphore(2)", [sem_incr] * 2, ([_SECTION] * 2, {"S": 2})),
    ("3 threads in a Semaphore(2)", [sem_incr] * 3, ([_SECTION] * 3, {"S": 2})),
    ("holder + try-acquire", [holder, trier], ([_HOLDER, _TRY], {})),
    ("holder + timed acquire", [holder, timed], ([_HOLDER, _TRY], {})),
    ("2 try-acquires", [trier, trier], ([_TRY, _TRY], {})),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rate-only", action="store_true")
    args = ap.parse_args()

    threads = [rw] * 4
    optimal = mazurkiewicz_count([[("x", False), ("x", True)]] * 4)
    rates, plain_rates = [], []
    r = None
    for _ in range(args.repeat):
        r = racetrace.explore_dpor(fresh, threads, always, total_timeout=600)
        assert r.exhausted and r.num_explored == optimal, (r.num_explored, optimal, r.stats)
        rates.append(r.num_explored / r.elapsed)
        plain_rates.append(optimal / plain(threads, optimal))
    print(f"executions per second, 4 threads read-then-write ({optimal} executions, {args.repeat} runs):")
    print(f"  explore_dpor: median {statistics.median(rates):,.0f}/s  (runs: {', '.join(f'{x:,.0f}' for x in rates)})")
    print(f"  plain:        median {statistics.median(plain_rates):,.0f}/s")
    print(f"  ms per explored execution: {1000 / statistics.median(rates):.3f}")
    if args.rate_only:
        return
    print()
    print("explored / optimal:")
    for name, fns, model in COUNTS:
        opt = mazurkiewicz_count(model)
        c = racetrace.explore_dpor(fresh, fns, always)
        print(f"  {name:<38} {c.num_explored:>4} / {opt:<4} = {c.num_explored / opt:.2f}  exhausted={c.exhausted}")
    # The executions-per-second program, from its last run above.
    print(f"  {'4 threads read-then-write':<38} {r.num_explored:>4} / {optimal:<4} = {r.num_explored / optimal:.2f}  exhausted={r.exhausted}")
    for name, fns, (model, sems) in SYNC_COUNTS:
        opt = sync_count(model, sems)
        c = racetrace.explore_dpor(sync_fresh, fns, always)
        print(f"  {name:<38} {c.num_explored:>4} / {opt:<4} = {c.num_explored / opt:.2f}  exhausted={c.exhausted}")


if __name__ == "__main__":
    main()
