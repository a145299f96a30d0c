"""Nothing recorded is lost to an abrupt end: os._exit closes the trace with
an outcome saying so, and a process killed at once still leaves a trace
whose header says what ran."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from record_helpers import PROGRAMS, cli, info, line_of, race_lines, races, record


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


FATAL = PROGRAMS / "abrupt" / "fatal.py"


@pytest.mark.parametrize(
    ("how", "sig", "reason"),
    [
        ("segv", signal.SIGSEGV, "the program crashed (segmentation fault): signal SIGSEGV"),
        ("abort", signal.SIGABRT, "the program aborted: signal SIGABRT"),
        ("term", signal.SIGTERM, "the program was terminated: signal SIGTERM"),
    ],
)
def test_a_fatal_signal_closes_the_trace_then_ends_the_process_as_plainly(
    tmp_path: Path, how: str, sig: signal.Signals, reason: str
) -> None:
    plain = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(FATAL), how], capture_output=True, text=True, timeout=60
    )
    assert plain.returncode == -sig, plain.stderr
    rec = record(tmp_path, str(FATAL), how)
    # The same end: killed by the same signal, after the same output.
    assert rec.code == -sig, rec.stderr
    assert rec.stdout == plain.stdout == f"ending by {how}\n"
    summary = info(rec.trace)
    assert summary["truncated"] is None
    assert summary["outcome"] == {"kind": "aborted", "reason": reason}
    # What ran before the signal is there: the workers' unlocked updates.
    assert race_lines(races(rec.trace), "State.v") == {
        f"{FATAL}:{line_of(FATAL, 'read')}",
        f"{FATAL}:{line_of(FATAL, 'write')}",
    }


def test_a_signal_the_program_handles_is_left_to_it(tmp_path: Path) -> None:
    plain = subprocess.run([sys.executable, str(FATAL), "handled"], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 7, plain.stderr
    rec = record(tmp_path, str(FATAL), "handled")
    assert (rec.code, rec.stdout) == (7, plain.stdout), rec.stderr
    assert "handled SIGTERM" in rec.stdout
    summary = info(rec.trace)
    assert summary["truncated"] is None
    # The program's own exit: sys.exit(7) from its handler.
    assert summary["outcome"]["kind"] in ("ok", "exception"), summary["outcome"]
    assert race_lines(races(rec.trace), "State.v")


def test_an_external_sigterm_closes_the_trace(tmp_path: Path) -> None:
    trace = tmp_path / "waits.rtrace"
    program = tmp_path / "waits.py"
    program.write_text(
        "import threading, time\n"
        "items = []\n"
        "def work():\n"
        "    items.append(1)\n"
        "t = threading.Thread(target=work)\n"
        "t.start(); t.join()\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "racetrace", "record", "-o", str(trace), "--", str(program)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGTERM
    summary = info(trace)
    assert summary["truncated"] is None
    assert summary["outcome"] == {"kind": "aborted", "reason": "the program was terminated: signal SIGTERM"}
    assert len(summary["actors"]) == 2


def test_a_crash_still_reaches_faulthandler(tmp_path: Path) -> None:
    """The signal goes on to the handler that was there before racetrace's
    (here Python's faulthandler, as under pytest): its report is printed."""
    trace = tmp_path / "segv.rtrace"
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-m", "racetrace", "record", "-o", str(trace), "--", str(FATAL), "segv"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in proc.stderr
    assert f'File "{FATAL}", line' in proc.stderr
    assert info(trace)["outcome"]["reason"] == "the program crashed (segmentation fault): signal SIGSEGV"


def test_threads_left_running_and_sys_exit_in_a_thread_end_as_plainly(tmp_path: Path) -> None:
    program = PROGRAMS / "abrupt" / "lingering.py"
    plain = subprocess.run([sys.executable, str(program)], capture_output=True, text=True, timeout=60)
    rec = record(tmp_path, str(program))
    assert (rec.code, rec.stdout, rec.stderr.count("Traceback")) == (
        plain.returncode,
        plain.stdout,
        plain.stderr.count("Traceback"),
    ) == (0, "main ends\n", 0), rec.stderr
    summary = info(rec.trace)
    # sys.exit in a thread is no failure (threading ends it silently).
    assert summary["outcome"] == {"kind": "ok"}
    running = {a["name"]: a["running_at_end"] for a in summary["actors"]}
    assert running == {"MainThread": False, "daemon": True, "leaves": False}
    text = cli("info", rec.trace).stdout
    assert "(daemon)" in text and "still running when recording stopped" in text
