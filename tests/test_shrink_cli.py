"""``racetrace shrink TRACE -- program``: a recorded failing run of a real
script shrinks to one preemption, its trace and replay script are written,
and the script fails every time; bad input is refused clearly."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from record_helpers import record
from test_control import FLAKY, record_until_failure, run_cli


def test_a_recorded_lost_update_shrinks_to_one_preemption_and_its_script_fails_100_times(tmp_path: Path) -> None:
    trace = record_until_failure(tmp_path)
    out = tmp_path / "min.rtrace"
    script = tmp_path / "repro_min.py"
    proc = run_cli(
        "shrink", trace, "--jobs", "2", "--json", "-o", out, "--script", script, "--", FLAKY, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["preemptions"] == 1, res
    assert res["original_preemptions"] > 1, res
    assert res["candidates_run"] <= 100, res
    assert res["kind"] == "AssertionError" and res["location"].endswith("flaky_counter.py:36"), res
    assert out.is_file() and script.is_file()
    spec = importlib.util.spec_from_file_location("repro_min", script)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for _ in range(100):
        with pytest.raises(AssertionError, match="lost updates"):
            mod.test_replay()


def test_shrinking_a_run_that_does_not_fail_says_so_and_exits_non_zero(tmp_path: Path) -> None:
    ok = tmp_path / "fine.py"
    ok.write_text("import threading\nt = threading.Thread(target=print, args=('hi',))\nt.start()\nt.join()\n")
    rec = record(tmp_path, str(ok))
    assert rec.code == 0, rec.stderr
    proc = run_cli("shrink", rec.trace, "--", ok)
    assert proc.returncode == 1
    assert "nothing to shrink" in proc.stderr and "does not fail" in proc.stderr


def test_bad_input_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rtrace"
    bad.write_bytes(b"not a trace")
    proc = run_cli("shrink", bad, "--", FLAKY)
    assert proc.returncode == 2 and "racetrace shrink: error" in proc.stderr
    proc = run_cli("shrink", "rts1:0*3", "--", tmp_path / "missing.py")
    assert proc.returncode == 2 and "no such script" in proc.stderr


def test_a_hanging_candidate_is_stopped_by_its_timeout_and_counts_as_not_failing(tmp_path: Path) -> None:
    from racetrace.shrink_cli import Runner

    hang = tmp_path / "hang.py"
    # Blocks in C where the scheduler cannot see it.
    hang.write_text("import os\nr, w = os.pipe()\nos.read(r, 1)\n")
    runner = Runner([str(hang)], timeout=2.0, deadlock_timeout=60.0)
    assert runner("rts1:0") == ("pass", "", "", "", [], 0)
