"""Nothing recorded is lost to an abrupt end: os._exit closes the trace with
an outcome saying so, and a process killed at once still leaves a trace
whose header says what ran."""

from __future__ import annotations

import signal
from pathlib import Path

from record_helpers import PROGRAMS, cli, info, record


def test_os_exit_keeps_the_exit_status_and_closes_the_trace(tmp_path: Path) -> None:
    rec = record(tmp_path, "abrupt/os_exit.py")
    assert rec.code == 3, rec.stderr
    assert rec.stdout == "leaving\n"
    summary = info(rec.trace)
    assert summary["truncated"] is None
    assert summary["outcome"] == {"kind": "aborted", "reason": "the program called os._exit(3)"}
    assert len(summary["actors"]) == 2
    assert summary["event_count"] >= 10


def test_a_process_killed_at_once_leaves_its_header(tmp_path: Path) -> None:
    rec = record(tmp_path, "abrupt/killed_at_once.py")
    assert rec.code == -signal.SIGKILL
    proc = cli("info", "--json", rec.trace)
    assert proc.returncode == 0, proc.stderr
    assert str(PROGRAMS / "abrupt" / "killed_at_once.py") in proc.stdout


def test_forked_children_stop_recording_and_leave_the_parents_trace_alone(tmp_path: Path) -> None:
    own = tmp_path / "child.rtrace"
    rec = record(tmp_path, "abrupt/forks.py", "120", str(own))
    assert rec.code == 0, rec.stderr
    # No child hung on the recorder's state, each left as it meant to.
    assert rec.stdout == "[('50', 1), ('51', 59), ('52', 60)]\n", rec.stderr
    summary = info(rec.trace)
    assert summary["truncated"] is None
    assert summary["outcome"] == {"kind": "ok"}
    # The parent's actors only: main and its two workers (no child's thread).
    assert len(summary["actors"]) == 3
    # A child can record on its own, into its own file.
    child = info(own)
    assert child["truncated"] is None
    assert child["outcome"] == {"kind": "ok"}
    assert len(child["actors"]) == 2
