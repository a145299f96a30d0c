"""``pytest --racetrace`` against plain ``pytest`` on a CPU-bound test
module, in one run: the plugin should cost what the recorder costs, no
more.

    python recorder/bench/bench_pytest.py [--repeat R]

The module (written to a temporary directory) has a few tests, each
running four threads over a numeric loop with a locked update of a shared
histogram (as ``cpu_threads.py``). Timed from outside, alternately:

- ``pytest`` and ``pytest --racetrace`` on the module (all tests pass, so
  no trace is kept: the plugin's whole cost is recording);
- the same test bodies called in a plain ``python`` process, unrecorded
  and inside ``racetrace.record`` (the recorder's own slowdown, the
  baseline the plugin's ratio is compared with);
- ``pytest --racetrace --racetrace-keep=all``: the disk used per kept
  trace (bytes, and bytes per event).

Prints the medians and the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

TESTS = 4

MODULE_TEMPLATE = textwrap.dedent(
    '''
    import threading

    N = {n}


    def run(seed):
        histogram = {}
        lock = threading.Lock()

        def work(s):
            x = s
            for i in range(N):
                x = (x * 1103515245 + 12345) % 2147483648
                if i % 64 == 0:
                    with lock:
                        histogram[x % 16] = histogram.get(x % 16, 0) + 1

        threads = [threading.Thread(target=work, args=(seed + k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(histogram.values())
    '''
) + "".join(
    f"\n\ndef test_cpu_{i}():\n    assert run({i}) == 4 * ((N + 63) // 64)\n" for i in range(TESTS)
).replace("{{", "{").replace("}}", "}")

DIRECT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    import test_cpu
    recorded = sys.argv[2] == "recorded"
    if recorded:
        import racetrace
    for i in range({tests}):
        if recorded:
            with racetrace.record(sys.argv[1] + "/direct.rtrace"):
                getattr(test_cpu, f"test_cpu_{{i}}")()
        else:
            getattr(test_cpu, f"test_cpu_{{i}}")()
    """
).format(tests=TESTS)


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n", type=int, default=300_000, help="loop iterations per thread and test")
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        (work / "test_cpu.py").write_text(MODULE_TEMPLATE.replace("{n}", str(args.n)))
        (work / "direct.py").write_text(DIRECT)
        pytest = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_cpu.py"]
        runs: dict[str, list[float]] = {k: [] for k in ("pytest", "pytest --racetrace", "direct", "direct recorded")}
        for _ in range(args.repeat):
            runs["pytest"].append(timed(pytest, work))
            runs["pytest --racetrace"].append(timed([*pytest, "--racetrace"], work))
            runs["direct"].append(timed([py, "direct.py", str(work), "plain"], work))
            runs["direct recorded"].append(timed([py, "direct.py", str(work), "recorded"], work))
        assert not (work / ".racetrace").exists(), "a passing run kept a trace"
        med = {k: statistics.median(v) for k, v in runs.items()}
        for k, v in runs.items():
            print(f"{k:<22} median {med[k]:.3f} s  runs {', '.join(f'{x:.3f}' for x in v)}")
        plugin = med["pytest --racetrace"] / med["pytest"]
        recorder = med["direct recorded"] / med["direct"]
        print(f"pytest --racetrace / pytest: {plugin:.2f}x")
        print(f"recorded / plain (same tests, no pytest): {recorder:.2f}x")
        print(f"plugin ratio / recorder ratio: {plugin / recorder:.2f}")
        print(
            f"time added: by the plugin {med['pytest --racetrace'] - med['pytest']:.3f} s, "
            f"by recording the same tests directly {med['direct recorded'] - med['direct']:.3f} s"
        )

        timed([*pytest, "--racetrace", "--racetrace-keep=all"], work)
        kept = sorted((work / ".racetrace").glob("*.rtrace"))
        assert len(kept) == TESTS, kept
        sizes = [t.stat().st_size for t in kept]
        events = []
        for t in kept:
            out = subprocess.run([py, "-m", "racetrace", "info", "--json", str(t)], capture_output=True, text=True)
            events.append(int(json.loads(out.stdout)["event_count"]))
        per_event = [s / e for s, e in zip(sizes, events, strict=True)]
        print(
            f"kept traces: median {statistics.median(sizes) / 1024:.1f} KiB per test, "
            f"{statistics.median(events)} events, {statistics.median(per_event):.2f} B/event"
        )


if __name__ == "__main__":
    main()
