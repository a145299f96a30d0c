"""CPython's own thread tests as the yardstick of recording fidelity: each
module runs plainly and under ``racetrace record``; the results must be the
same test by test, the trace readable, and the races reported only the
reviewed ones (``REVIEWED``).

The modules come from the running interpreter's installation (``test``
package); a module that this installation lacks is skipped, saying so.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from record_helpers import info, races

RUNNER = Path(__file__).resolve().parent / "corpus" / "run_unittest.py"

#: Race reports on these modules that are real, with why. Key: (module,
#: key name) as `racetrace races` names it. All are order-only: no
#: atomicity violation is reported on tests that synchronize correctly.
REVIEWED_ORDER_ONLY = {
    # BaseSimpleQueueTest.feed pops from a shared list `seq` in several
    # threads, and consume* append to a shared `results`: each pop/append
    # is one atomic list operation, so only the order of items differs
    # between runs (the test compares sorted results). Unordered, truly.
    ("test.test_queue", "seq (whole)"),
    ("test.test_queue", "results (whole)"),
    # The feeders share one `random.Random(42)` and each draws from it
    # (`rnd.random()`, a C method outside the call table: a write of the
    # instance it is bound to). Which thread gets which number depends on
    # their order: an order-only race on the generator's state.
    ("test.test_queue", "Random (whole)"),
    # test_map_submits_without_iteration: the pool's workers append to a
    # shared list `finished`, one atomic append each, and the test compares
    # it with assertCountEqual: only the order of items differs.
    ("test.test_concurrent_futures.test_thread_pool", "finished (whole)"),
}


def available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def run(cmd: list[str], cwd: Path) -> tuple[int, dict, str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=cwd)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result from {cmd}:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.returncode, json.loads(lines[-1]), proc.stderr


@pytest.mark.parametrize(
    ("module", "include"),
    [
        # The test module itself is traced: its accesses are recorded.
        ("test.test_queue", True),
        ("test.test_thread", True),
        ("test.test_threadedtempfile", True),
        # A package from 3.12 on (the thread pool's tests only: the process
        # pools' are about processes, and slow).
        ("test.test_concurrent_futures.test_thread_pool", True),
        # Recorded with the default filters (the standard library, tests
        # included, is not traced): recording must still change nothing.
        ("test.test_threading_local", False),
        ("test.test_threading", False),
    ],
)
def test_cpython_thread_tests_pass_recorded_as_plainly(
    tmp_path: Path, module: str, include: bool
) -> None:
    if not available(module):
        pytest.skip(f"this Python installation has no {module}")
    plain_code, plain, plain_err = run([sys.executable, str(RUNNER), module], tmp_path)
    trace = tmp_path / "corpus.rtrace"
    options = ["--include", f"*/{module.replace('.', '/')}.py"] if include else []
    if module.startswith("test.test_concurrent_futures."):
        # The package's shared helpers (executor.py, util.py) are its tests too.
        options += ["--include", "*/test/test_concurrent_futures/*.py"]
    cmd = [sys.executable, "-m", "racetrace", "record", "-o", str(trace), *options]
    rec_code, recorded, rec_err = run([*cmd, "--", str(RUNNER), module], tmp_path)
    # On a difference, unittest's own report of the failing tests says why.
    assert (rec_code, recorded) == (plain_code, plain), (
        f"plainly:\n{plain_err[-6000:]}\nrecorded:\n{rec_err[-6000:]}"
    )
    assert plain["run"] >= 1
    summary = info(trace)
    # Complete, with an outcome. Several of these tests let an exception
    # escape a thread on purpose (excepthook tests): then the outcome says
    # which one.
    assert summary["truncated"] is None
    assert summary["outcome"]["kind"] in ("ok", "exception")
    if include:
        assert summary["event_count"] > 100
    report = races(trace)
    violations = [(r["key_name"], r["pairs"][0]) for r in report["races"] if r["class"] == "atomicity-violation"]
    assert violations == []
    order_only = {(module, r["key_name"]) for r in report["races"] if r["class"] == "order-only"}
    assert order_only <= REVIEWED_ORDER_ONLY, sorted(order_only - REVIEWED_ORDER_ONLY)
