"""A recorded program behaves as it does plainly: programs that save and
restore the trace function (doctest, debuggers), and objects whose lifetime
the program observes (``__del__``, weakref callbacks, thread-local data).
Each program runs plainly and under ``racetrace record``; the outputs and
exit codes must be the same, and the recording must go on where it should.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from record_helpers import PROGRAMS, cli, info, line_of, race_lines, races, record

HERE = PROGRAMS / "transparency"


def plain(program: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=120
    )


def same_as_plain(tmp_path: Path, name: str):
    program = HERE / name
    expected = plain(program)
    assert expected.returncode == 0, expected.stderr
    rec = record(tmp_path, str(program))
    assert rec.stderr.count("Traceback") == expected.stderr.count("Traceback"), rec.stderr
    assert (rec.code, rec.stdout) == (expected.returncode, expected.stdout), rec.stderr
    return rec


def test_doctest_passes_recorded_as_plainly(tmp_path: Path) -> None:
    rec = same_as_plain(tmp_path, "doctests.py")
    assert "TestResults(failed=0, attempted=7)" in rec.stdout
    assert "TestResults(failed=0, attempted=36)" in rec.stdout
    # The worker thread started inside an example was recorded too.
    assert len(info(rec.trace)["actors"]) >= 2


def test_restoring_the_saved_trace_function_resumes_recording(tmp_path: Path) -> None:
    rec = same_as_plain(tmp_path, "save_restore.py")
    # A Python tracer installed for a while saw exactly its calls.
    assert "tracer saw: ['probe', 'probe']" in rec.stdout
    # Both workers were still recorded after their save/restore: the lost
    # update on the lines after it is found.
    src = HERE / "save_restore.py"
    assert race_lines(races(rec.trace), "Counter.value") == {
        f"{src}:{line_of(src, 'read')}",
        f"{src}:{line_of(src, 'write')}",
    }


def test_objects_die_when_the_program_drops_them(tmp_path: Path) -> None:
    rec = same_as_plain(tmp_path, "lifetimes.py")
    log = rec.stdout.splitlines()
    # Finalizers ran right where the last reference went, not at the end.
    for holder in ("dict", "list", "box"):
        at = log.index(f"dropping {holder}")
        assert log[at + 1] == f"del in-{holder}", log
    assert log.index("weakref callback") < log.index("after pop")
    # Thread-local data dies with its thread (as CPython's own
    # test_threading_local checks): only the last thread's may remain.
    assert "thread-local objects alive: 1" in rec.stdout or "alive: 0" in rec.stdout
    assert "deep list freed" in rec.stdout
    assert info(rec.trace)["event_count"] > 200_000


def test_the_programs_own_tracers_work_while_it_is_recorded(tmp_path: Path) -> None:
    rec = same_as_plain(tmp_path, "program_tracers.py")
    # bdb stepped through `compute` and changed `total` at its return line.
    assert "debugged: 100" in rec.stdout
    assert "('line', 4), ('return', 100)" in rec.stdout
    assert "thread hook saw: [('new thread', 'run', 'call')" in rec.stdout
    assert "tracer error reached the program: the tracer failed | tracer now: None" in rec.stdout
    # The thread started under the program's hook was recorded as well.
    assert "hooked" in {a["name"] for a in info(rec.trace)["actors"]}
    # sys.settrace(None) in the workers turned off the program's tracing,
    # not the recorder: their unsynchronized update is found.
    src = HERE / "program_tracers.py"
    assert race_lines(races(rec.trace), "Counter.value") == {
        f"{src}:{line_of(src, 'read')}",
        f"{src}:{line_of(src, 'write')}",
    }


def test_a_tracer_installed_before_recording_keeps_running(tmp_path: Path) -> None:
    program = HERE / "traced_before.py"
    expected = plain(program)
    assert expected.stdout == "['probe_before', 'probe_during', 'probe_after'] True\n", expected.stderr
    trace = tmp_path / "before.rtrace"
    proc = subprocess.run(
        [sys.executable, str(program), str(trace)], capture_output=True, text=True, timeout=120
    )
    assert (proc.returncode, proc.stdout) == (0, expected.stdout), proc.stderr
    assert race_lines(races(trace), "Box.value") == {f"{program}:{line_of(program, 'bump')}"}


def test_a_thread_whose_tracer_is_replaced_from_c_is_marked_in_the_trace(tmp_path: Path) -> None:
    rec = same_as_plain(tmp_path, "replaced_from_c.py")
    assert rec.stdout == "done 3\n"
    src = HERE / "replaced_from_c.py"
    actors = {a["name"]: a for a in info(rec.trace)["actors"]}
    if sys.version_info >= (3, 12):
        # The recorder is a sys.monitoring tool: a thread's trace function
        # is not its, and replacing it changes nothing.
        assert actors["unhooked"]["detached_at"] is None
        assert info(rec.trace)["event_count"] > 0
        return
    assert actors["unhooked"]["detached_at"] == f"{src}:{line_of(src, 'replaced')}"
    assert actors["MainThread"]["detached_at"] is None
    assert not actors["unhooked"]["running_at_end"]
    text = cli("info", rec.trace).stdout
    assert f"not recorded after {src}:{line_of(src, 'replaced')}: its trace function was replaced from C" in text
