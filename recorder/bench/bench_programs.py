"""Recording slowdown on whole programs: each is run plainly and under
``racetrace record`` in turn (plain, recorded, plain, recorded, ...), as
separate processes, and timed from outside.

    python recorder/bench/bench_programs.py [--repeat R] [--only NAME]

Prints per program the median wall time of each, their ratio, and for the
recorded runs the events written, events per second and bytes per event of
the trace. Programs:

- ``test_queue``: CPython's own ``test.test_queue`` (from the interpreter's
  installation), the test module traced, run by ``tests/corpus/run_unittest.py``;
  much of its time is spent in timed waits, so the slowdown is low;
- ``cpu_threads``: four threads running a numeric loop, with a locked
  update of a shared dict every 64 iterations (``cpu_threads.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RUNNER = ROOT / "tests" / "corpus" / "run_unittest.py"

PROGRAMS: dict[str, tuple[list[str], list[str]]] = {
    # name: (program and arguments, racetrace record options)
    "test_queue": ([str(RUNNER), "test.test_queue"], ["--include", "*/test/test_queue.py"]),
    "cpu_threads": ([str(HERE / "cpu_threads.py")], []),
}


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def events_of(trace: Path) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "racetrace", "info", "--json", str(trace)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(json.loads(out.stdout)["event_count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=sorted(PROGRAMS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "bench.rtrace"
        for name, (program, options) in PROGRAMS.items():
            if args.only and name != args.only:
                continue
            plain_cmd = [sys.executable, *program]
            rec_cmd = [sys.executable, "-m", "racetrace", "record", "-o", str(trace), *options, "--", *program]
            timed(plain_cmd)  # warm-up: page cache, .pyc files
            plain, recorded = [], []
            for _ in range(args.repeat):
                plain.append(timed(plain_cmd))
                recorded.append(timed(rec_cmd))
            events = events_of(trace)
            size = os.path.getsize(trace)
            p, r = statistics.median(plain), statistics.median(recorded)
            ratios = sorted(b / a for a, b in zip(plain, recorded, strict=True))
            print(
                f"{name}: plain {p:.2f} s, recorded {r:.2f} s (medians of {args.repeat}), "
                f"slowdown {r / p:.2f}x (pairwise {ratios[0]:.2f}-{ratios[-1]:.2f}x); "
                f"{events:,} events, {events / r:,.0f} events/s, {size / max(events, 1):.2f} bytes/event"
            )


if __name__ == "__main__":
    main()
