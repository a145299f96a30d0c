"""The flaky-test post-mortem, end to end, as a developer does it: a test
that loses an update in a small fraction of runs (the sample project in
``tests/flaky_project``) is run under ``pytest --racetrace
--racetrace-rerun=200`` until it fails; that one trace is kept, the summary
names the race on the right lines, ``racetrace explain`` names the two
accesses first, ``racetrace replay`` fails the same way every time, and
the shrunk replay script fails on every run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from flaky_helpers import cli, explain_json, line_of, project_copy, pytest_run, summary, summary_blocks, traces

NODE = "test_counter.py::test_counter"


@dataclass
class Caught:
    project: Path
    output: str
    trace: Path
    #: The failing assertion's message, e.g. ``assert 4128 == (2 * 3000)``.
    assertion: str


@pytest.fixture(scope="module")
def caught(tmp_path_factory: pytest.TempPathFactory) -> Caught:
    project = project_copy(tmp_path_factory.mktemp("flaky"))
    r = pytest_run(project, "--racetrace", "--racetrace-rerun=200", "test_counter.py", "test_safe.py")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    kept = traces(project)
    assert [t.name for t in kept] == ["test_counter.py__test_counter.rtrace"], out
    m = re.search(r"E\s+(assert \d+ == \(2 \* 3000\))", out)
    assert m, out
    return Caught(project, out, kept[0], m.group(1))


def test_rerun_keeps_exactly_the_failing_trace_and_the_summary_names_the_race(caught: Caught) -> None:
    counter = caught.project / "counter.py"
    read_line = line_of(counter, "current = self.value")
    write_line = line_of(counter, "self.value = successor(current)")
    blocks = summary_blocks(caught.output)
    assert list(blocks) == [NODE], summary(caught.output)
    block = blocks[NODE]
    assert "trace:   .racetrace/test_counter.py__test_counter.rtrace" in block
    assert re.search(r"failed on recorded run \d+ of up to 200", block)
    assert f"outcome: AssertionError: {caught.assertion}" in block
    assert "most relevant: data race on Counter.value, atomicity violation" in block
    # Both racing accesses, on their lines, with their source text.
    assert f"counter.py:{read_line}: current = self.value" in block
    assert f"counter.py:{write_line}: self.value = successor(current)" in block
    assert "explain: racetrace explain .racetrace/test_counter.py__test_counter.rtrace" in block
    assert "replay:  racetrace replay .racetrace/test_counter.py__test_counter.rtrace" in block
    # The passing tests left nothing, and passed all their runs.
    assert "passed every recorded run (2 tests; no trace kept):" in summary(caught.output)
    assert "test_safe.py::test_locked_counter: 200 runs" in summary(caught.output)


def test_explain_names_the_two_accesses_first(caught: Caught) -> None:
    counter = caught.project / "counter.py"
    lines = {line_of(counter, "current = self.value"), line_of(counter, "self.value = successor(current)")}
    x = explain_json(caught.project, caught.trace)
    assert x["test"].endswith(NODE)
    assert x["outcome"]["kind"] == "exception"
    assert x["outcome"]["type_name"] == "AssertionError"
    assert x["outcome"]["failing"]["line"] == line_of(caught.project / "test_counter.py", "assert counter.value")
    top = x["findings"][0]
    assert top["kind"] == "race" and top["key_name"] == "Counter.value"
    assert "failing line" in top["relevance"]
    sides = [top["first"], top["second"]]
    assert {s["line"] for s in sides} == lines
    assert {s["kind"] for s in sides} <= {"read", "write"} and "write" in {s["kind"] for s in sides}
    assert {s["actor_name"] for s in sides} == {"T1 (worker-0)", "T2 (worker-1)"}
    assert all(s["state"]["locks_held"] == [] for s in sides)
    assert "no happens-before edge orders them" in top["why_unordered"]
    assert all(any("was started by T0 (MainThread)" in f for f in s["stack"]) for s in sides)
    # The steps that matter show both accesses, highlighted.
    marked = [s for s in x["steps"] if s["highlighted"]]
    assert {s["event"] for s in marked} == {s["event"] for s in sides}
    assert all(s["source"] for s in marked)
    # The test failed because an update was lost: the steps show one.
    lost = x["lost_update"]
    assert lost["key"] == "Counter.value"
    assert lost["read_location"].endswith(f"counter.py:{line_of(counter, 'current = self.value')}")
    assert lost["read"] < lost["other_write"] < lost["stale_write"]
    assert x["reproduce"]["replay"] == f"racetrace replay {caught.trace}"
    assert x["sources"] and all(s["status"] == "unchanged" for s in x["sources"])

    text = cli(caught.project, "explain", caught.trace).stdout
    first_finding = text.split("== Findings, most relevant first ==")[1].split("\n 2)")[0]
    assert " 1) data race on Counter.value" in first_finding
    for line in lines:
        assert f"counter.py:{line} in Counter.increment" in first_finding


def test_replay_fails_the_same_way_every_time(caught: Caught) -> None:
    for _ in range(10):
        r = cli(caught.project, "replay", caught.trace)
        out = r.stdout + r.stderr
        assert r.returncode == 1, out
        assert f"E       {caught.assertion}" in out, out
        assert "1 failed" in out


def test_shrunk_script_fails_every_run(caught: Caught) -> None:
    r = cli(caught.project, "shrink", caught.trace, "--jobs", "2", "--script", "repro_shrunk.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fails with AssertionError at" in r.stdout
    m = re.search(r"-> (\d+) preemption", r.stdout)
    assert m and int(m.group(1)) <= 2, r.stdout
    script = caught.project / "repro_shrunk.py"
    assert script.is_file()
    for _ in range(5):
        p = pytest_run(caught.project, "-q", "repro_shrunk.py", timeout=300)
        assert p.returncode == 1, p.stdout + p.stderr
        assert "AssertionError" in p.stdout
    # Run as a script, it raises the test's own failure.
    import subprocess
    import sys

    p = subprocess.run([sys.executable, str(script)], cwd=caught.project, capture_output=True, text=True, timeout=300)
    assert p.returncode == 1
    assert "AssertionError: assert" in p.stderr


def test_xdist_summary_names_the_same_race(caught: Caught, tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    r = pytest_run(project, "-p", "xdist", "-n", "2", "--racetrace", "--racetrace-rerun=200", "test_counter.py",
                   "test_safe.py")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert [t.name for t in traces(project)] == ["test_counter.py__test_counter.rtrace"]
    local, dist = summary_blocks(caught.output), summary_blocks(out)
    assert list(dist) == list(local) == [NODE]

    def shape(block: str) -> list[str]:
        # The same lines but for the run-dependent numbers and paths.
        out = []
        for line in block.splitlines():
            line = re.sub(r"\d+ == \(2", "N == (2", line)
            line = re.sub(r"recorded run \d+", "recorded run K", line)
            out.append(line.replace(str(project), "P").replace(str(caught.project), "P"))
        return out

    assert shape(dist[NODE]) == shape(local[NODE])


def test_a_passing_suite_leaves_no_files(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    before = sorted(p.relative_to(project) for p in project.rglob("*") if "__pycache__" not in p.parts)
    r = pytest_run(project, "--racetrace", "test_safe.py")
    assert r.returncode == 0, r.stdout + r.stderr
    after = sorted(p.relative_to(project) for p in project.rglob("*") if "__pycache__" not in p.parts)
    assert after == before
    assert summary(r.stdout) == ""
    # With xdist too.
    r = pytest_run(project, "-p", "xdist", "-n", "2", "--racetrace", "test_safe.py")
    assert r.returncode == 0, r.stdout + r.stderr
    after = sorted(p.relative_to(project) for p in project.rglob("*") if "__pycache__" not in p.parts)
    assert after == before


def test_keep_all_and_none(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    r = pytest_run(project, "--racetrace", "--racetrace-keep=all", "--racetrace-dir=traces", "test_safe.py")
    assert r.returncode == 0, r.stdout + r.stderr
    kept = sorted(p.name for p in (project / "traces").glob("*.rtrace"))
    assert kept == ["test_safe.py__test_locked_counter.rtrace", "test_safe.py__test_no_threads.rtrace"]
    x = explain_json(project, project / "traces" / kept[0])
    assert x["outcome"]["kind"] == "ok" and x["findings"] == []
    assert "2 traces kept" in summary(r.stdout)
    # Tests that never failed say how many recorded runs they passed.
    r = pytest_run(project, "--racetrace", "--racetrace-rerun=3", "test_safe.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "passed every recorded run (2 tests; no trace kept):" in summary(r.stdout)
    assert "test_safe.py::test_no_threads: 3 runs" in summary(r.stdout)
    assert not (project / ".racetrace").exists()
    r = pytest_run(project, "--racetrace", "--racetrace-keep=none", "--racetrace-rerun=200", "test_counter.py")
    assert r.returncode == 1
    assert not (project / ".racetrace").exists()
    assert summary(r.stdout) == ""
