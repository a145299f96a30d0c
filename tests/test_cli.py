"""The installed ``racetrace`` command on bundled trace files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import DATA, ROOT, first_chunk_offset


def test_help_documents_exit_codes(racetrace):
    result = racetrace("--help")
    assert result.code == 0
    assert "Exit codes:" in result.stdout
    assert "0  nothing found" in result.stdout
    assert "1  findings: data races or potential deadlocks" in result.stdout
    assert "2  bad usage" in result.stdout
    for sub in ("info", "races", "deadlocks", "graph"):
        assert sub in result.stdout


def test_version(racetrace):
    result = racetrace("--version")
    assert result.code == 0
    assert result.stdout.startswith("racetrace ")


def test_bad_usage_exits_2(racetrace):
    result = racetrace("races")
    assert result.code == 2
    assert "TRACE" in result.stderr
    assert racetrace("frobnicate").code == 2


def test_corrupt_file_is_one_line_exit_2(racetrace, lost_update_trace, tmp_path):
    data = bytearray(lost_update_trace.read_bytes())
    chunk = first_chunk_offset(data)
    data[chunk + 30] ^= 0xFF  # a byte inside the first chunk
    bad = tmp_path / "corrupt.rtrace"
    bad.write_bytes(bytes(data))
    result = racetrace("races", bad)
    assert result.code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(bad) in lines[0]
    assert f"offset {chunk}" in lines[0]
    assert "corrupt chunk" in lines[0]


def test_not_a_trace_is_one_line_exit_2(racetrace, tmp_path):
    path = tmp_path / "program.py"
    path.write_text("print('hello')\n")
    result = racetrace("info", path)
    assert result.code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and "offset 0" in lines[0] and "bad magic" in lines[0]


def test_missing_file_exit_2(racetrace, tmp_path):
    path = tmp_path / "nope.rtrace"
    result = racetrace("deadlocks", path)
    assert result.code == 2
    assert len(result.stderr.splitlines()) == 1
    assert str(path) in result.stderr


def test_info(racetrace, lost_update_trace):
    result = racetrace("info", lost_update_trace)
    assert result.code == 0
    assert "program:    examples/lost_update.py" in result.stdout
    assert "outcome:    ok" in result.stdout
    assert "T1 (worker-0)" in result.stdout and "T2 (worker-1)" in result.stdout


def test_info_truncated(racetrace, lost_update_trace, tmp_path):
    data = lost_update_trace.read_bytes()
    # Drop the footer and trailer, as a killed recorder would.
    cut = tmp_path / "killed.rtrace"
    cut.write_bytes(data[:-40])
    result = racetrace("info", cut)
    assert result.code == 0, result.stderr
    assert "TRUNCATED at offset" in result.stdout
    assert result.stderr.startswith("warning: ")
    assert len(result.stderr.splitlines()) == 1


def test_races_on_lost_update(racetrace, lost_update_trace):
    result = racetrace("races", lost_update_trace)
    assert result.code == 1, result.stderr
    assert "Data race on counter.value" in result.stdout
    assert "examples/lost_update.py:17" in result.stdout
    assert "examples/lost_update.py:18" in result.stdout
    assert "T1 (worker-0)" in result.stdout and "T2 (worker-1)" in result.stdout


def test_races_json(racetrace, lost_update_trace):
    result = racetrace("races", "--json", lost_update_trace)
    assert result.code == 1
    report = json.loads(result.stdout)
    assert report["race_count"] == 1
    (group,) = report["races"]
    assert group["key_name"] == "counter.value"
    locations = {side["location"] for pair in group["pairs"] for side in (pair["first"], pair["second"])}
    assert locations == {"examples/lost_update.py:17", "examples/lost_update.py:18"}


def test_deadlocks(racetrace, lost_update_trace, lock_order_trace):
    assert racetrace("deadlocks", lost_update_trace).code == 0
    result = racetrace("deadlocks", lock_order_trace)
    assert result.code == 1
    assert "lock_a -> lock_b -> lock_a" in result.stdout
    assert "examples/lock_order.py:18" in result.stdout
    assert "examples/lock_order.py:25" in result.stdout
    report = json.loads(racetrace("deadlocks", "--json", lock_order_trace).stdout)
    assert report["deadlock_count"] == 1


def test_graph_formats(racetrace, lost_update_trace, tmp_path):
    dot = racetrace("graph", lost_update_trace, "--format", "dot")
    assert dot.code == 0, dot.stderr
    assert dot.stdout.startswith("digraph")
    out = tmp_path / "graph.json"
    perfetto = racetrace("graph", lost_update_trace, "--format", "perfetto", "-o", out)
    assert perfetto.code == 0, perfetto.stderr
    assert perfetto.stdout == ""
    events = json.loads(out.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    names = [e for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"]
    assert len(names) == 3  # main and the two workers


def test_python_subcommand_dispatch(monkeypatch, tmp_path, capfd):
    """Subcommands listed in PYTHON_SUBCOMMANDS run Python, the rest run natively."""
    from racetrace import cli

    (tmp_path / "rt_fake_sub.py").write_text(
        "def main(argv):\n    print('fake', *argv)\n    return 7\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.PYTHON_SUBCOMMANDS, "fake", ("rt_fake_sub:main", "A fake subcommand"))
    assert cli.run(["fake", "a", "b"]) == 7
    assert capfd.readouterr().out == "fake a b\n"
    # The native help lists it with the native subcommands.
    assert cli.run(["--help"]) == 0
    help_text = capfd.readouterr().out
    assert "fake" in help_text and "A fake subcommand" in help_text and "races" in help_text
    assert cli.run(["--version"]) == 0


def test_demo_runs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Data race on counter.value" in result.stdout
    assert "Potential deadlock #1: lock_a -> lock_b -> lock_a" in result.stdout
    assert "digraph" in result.stdout
    assert "demo: all steps behaved as expected" in result.stdout


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
def test_fixtures_are_current(tmp_path):
    """tests/data/*.rtrace are exactly what the generator writes today."""
    subprocess.run(
        ["cargo", "run", "-q", "-p", "racetrace-analyzer", "--example", "make_demo_traces", "--", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=1800,
    )
    for name in ("lost_update.rtrace", "lock_order.rtrace"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), (
            f"tests/data/{name} is stale: regenerate it with "
            "cargo run -p racetrace-analyzer --example make_demo_traces -- tests/data"
        )
