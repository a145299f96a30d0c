"""End-to-end tests of the recorder: real programs from tests/programs/ are
recorded by ``racetrace record`` and analyzed by the ``racetrace`` CLI.
Expected locations come from ``# MARK: name`` comments in the programs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import console_script
from record_helpers import (
    PROGRAMS,
    deadlocks,
    graph_edge_kinds,
    info,
    line_of,
    race_lines,
    races,
    record,
)


def test_lost_update_race_on_the_read_and_write_lines(tmp_path: Path) -> None:
    rec = record(tmp_path, "lost_update.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    assert report["race_count"] >= 1
    names = {r["key_name"] for r in report["races"]}
    assert names == {"Counter.value"}
    src = PROGRAMS / "lost_update.py"
    lines = race_lines(report, "Counter.value")
    assert f"{src}:{line_of(src, 'read')}" in lines
    assert f"{src}:{line_of(src, 'write')}" in lines


def test_lock_protected_counter_has_no_race(tmp_path: Path) -> None:
    rec = record(tmp_path, "locked_update.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    assert report["race_count"] == 0, report


def test_closure_cell_race(tmp_path: Path) -> None:
    rec = record(tmp_path, "closure_race.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    src = PROGRAMS / "closure_race.py"
    assert [r["key_name"] for r in report["races"]] == ["closure count in make_counter"]
    assert race_lines(report, "closure count in make_counter") == {f"{src}:{line_of(src, 'bump')}"}


def test_global_race_and_builtins_are_not_globals(tmp_path: Path) -> None:
    rec = record(tmp_path, "global_race.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    src = PROGRAMS / "global_race.py"
    assert [r["key_name"] for r in report["races"]] == ["global counter"]
    assert race_lines(report, "global counter") == {f"{src}:{line_of(src, 'update')}"}


def test_dict_check_then_insert_race(tmp_path: Path) -> None:
    rec = record(tmp_path, "dict_race.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    src = PROGRAMS / "dict_race.py"
    assert [r["key_name"] for r in report["races"]] == ["cache['k']"]
    lines = race_lines(report, "cache['k']")
    assert f"{src}:{line_of(src, 'check')}" in lines
    assert f"{src}:{line_of(src, 'insert')}" in lines


def test_list_append_against_len_race(tmp_path: Path) -> None:
    rec = record(tmp_path, "list_race.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    src = PROGRAMS / "list_race.py"
    assert [r["key_name"] for r in report["races"]] == ["items (whole)"]
    assert race_lines(report, "items (whole)") == {
        f"{src}:{line_of(src, 'append')}",
        f"{src}:{line_of(src, 'len')}",
    }


def test_race_between_main_and_a_grandchild_thread(tmp_path: Path) -> None:
    rec = record(tmp_path, "grandchild.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    src = PROGRAMS / "grandchild.py"
    assert race_lines(report, "Shared.value") == {
        f"{src}:{line_of(src, 'main')}",
        f"{src}:{line_of(src, 'grandchild')}",
    }
    actors = {a["name"]: a for a in info(rec.trace)["actors"]}
    assert actors["grandchild"]["parent"] == actors["worker"]["id"]
    assert actors["worker"]["parent"] == actors["MainThread"]["id"]


def test_lock_order_inversion_reported_from_a_run_that_did_not_deadlock(tmp_path: Path) -> None:
    rec = record(tmp_path, "lock_order.py")
    assert rec.code == 0, rec.stderr
    report = deadlocks(rec.trace)
    assert report["deadlock_count"] == 1
    (cycle,) = report["deadlocks"]
    assert {lock["name"] for lock in cycle["locks"]} == {"lock_a", "lock_b"}
    src = PROGRAMS / "lock_order.py"
    locations = {e["acquire_location"] for e in cycle["edges"]} | {
        e["held_location"] for e in cycle["edges"]
    }
    expected = {f"{src}:{line_of(src, m)}" for m in ("a-then", "then-b", "b-then", "then-a")}
    assert locations == expected
    assert races(rec.trace)["race_count"] == 0


def test_lock_created_before_recording_orders_critical_sections(tmp_path: Path) -> None:
    trace = tmp_path / "module_lock.rtrace"
    proc = subprocess.run(
        [sys.executable, str(PROGRAMS / "module_lock.py"), str(trace)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "100"
    assert races(trace)["race_count"] == 0
    # Without the lock events this program would race on Box.n: make sure
    # the accesses were recorded at all.
    assert info(trace)["event_count"] > 200


def test_handoffs_through_event_condition_semaphore_queue_barrier_order_accesses(
    tmp_path: Path,
) -> None:
    rec = record(tmp_path, "handoffs.py")
    assert rec.code == 0, rec.stderr
    assert races(rec.trace)["race_count"] == 0
    edges = graph_edge_kinds(rec.trace)
    for kind in ("set-wait", "notify-wake", "put-get", "barrier", "release-acquire"):
        assert kind in edges, edges


def test_include_and_exclude_patterns(tmp_path: Path) -> None:
    main = str(PROGRAMS / "filtered" / "main.py")

    def raced(*options: str) -> set[str]:
        rec = record(tmp_path, main, options=options)
        assert rec.code == 0, rec.stderr
        return {r["key_name"] for r in races(rec.trace)["races"]}

    # site-packages is not traced by default; generated/ is user code.
    assert raced() == {"Obj.own", "Obj.gen_value"}
    assert raced("--include", "*/mylib/*") == {"Obj.own", "Obj.gen_value", "Obj.lib_value"}
    assert raced("--include", "*/mylib/*", "--exclude", "*/generated/*") == {
        "Obj.own",
        "Obj.lib_value",
    }


def test_killed_process_leaves_a_readable_truncated_trace(tmp_path: Path) -> None:
    trace = tmp_path / "forever.rtrace"
    proc = subprocess.Popen(
        [sys.executable, "-m", "racetrace", "record", "-o", str(trace), "--", str(PROGRAMS / "forever.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    data = info(trace)
    assert data["truncated"] is not None
    assert data["event_count"] > 1000
    assert races(trace)["race_count"] >= 1


def test_worker_exception_is_recorded_and_still_reported(tmp_path: Path) -> None:
    rec = record(tmp_path, "worker_exception.py")
    assert rec.code == 0
    assert "main done" in rec.stdout
    # threading.excepthook still ran.
    assert "Exception in thread" in rec.stderr
    assert "ValueError: boom in worker" in rec.stderr
    data = info(rec.trace)
    assert data["truncated"] is None
    outcome = data["outcome"]
    assert outcome["kind"] == "exception"
    assert outcome["type_name"] == "ValueError"
    assert outcome["message"] == "boom in worker"
    assert "boom in worker" in outcome["traceback"]
    assert f"line {line_of(PROGRAMS / 'worker_exception.py', 'raise')}" in outcome["traceback"]


def test_unwritable_trace_path_fails_before_the_program_runs(tmp_path: Path) -> None:
    bad = tmp_path / "missing-dir" / "x.rtrace"
    proc = subprocess.run(
        [sys.executable, "-m", "racetrace", "record", "-o", str(bad), "--", str(PROGRAMS / "worker_exception.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "cannot record into" in proc.stderr and str(bad) in proc.stderr
    assert "main done" not in proc.stdout
    assert not bad.exists()


def test_record_api_errors_and_record_call(tmp_path: Path) -> None:
    code = f"""
import threading, racetrace
a = {str(tmp_path / 'a.rtrace')!r}
b = {str(tmp_path / 'b.rtrace')!r}
with racetrace.record(a):
    try:
        with racetrace.record(b):
            pass
    except RuntimeError as e:
        print("nested:", e)
try:
    racetrace.record({str(tmp_path / 'no' / 'c.rtrace')!r}).__enter__()
except OSError as e:
    print("unwritable:", e)

class C:
    v = 0
def work(c):
    c.v += 1
    return 7
def main(c):
    t = threading.Thread(target=work, args=(c,))
    t.start()
    r = work(c)
    t.join()
    return r
print("result:", racetrace.record_call(main, C(), path=b))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "nested: racetrace is already recording" in proc.stdout
    assert "unwritable: cannot record into" in proc.stdout
    assert "result: 7" in proc.stdout
    assert races(tmp_path / "b.rtrace")["race_count"] == 1


def test_console_script_default_output_and_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        [console_script(), "record", "--", str(PROGRAMS / "exit_code.py"), "3"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 3, proc.stderr
    trace = tmp_path / "exit_code.rtrace"
    assert trace.is_file()
    # Class attributes are shared state.
    report = races(trace)
    src = PROGRAMS / "exit_code.py"
    assert race_lines(report, "State.hits") == {f"{src}:{line_of(src, 'hit')}"}


@pytest.mark.parametrize("version", [(3, 10), (3, 14)])
def test_unsupported_python_version_fails_at_import_with_a_clear_message(version: tuple[int, int]) -> None:
    major, minor = version
    code = f"import sys; sys.version_info = ({major}, {minor}, 0, 'final', 0); import racetrace"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "ImportError: racetrace supports CPython 3.11, 3.12 and 3.13" in proc.stderr
    assert f"this is cpython {major}.{minor}" in proc.stderr


def test_readme_demo_records_the_lost_update_and_shows_both_lines() -> None:
    root = PROGRAMS.parent.parent
    proc = subprocess.run(
        [sys.executable, str(root / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    section = proc.stdout.split("## Which accesses race in that run?")[1].split("## ")[0]
    source = (root / "examples" / "lost_update.py").read_text().splitlines()
    read = 1 + next(i for i, s in enumerate(source) if s.strip() == "current = self.value")
    write = 1 + next(i for i, s in enumerate(source) if s.strip() == "self.value = current + 1")
    assert "Data race on Counter.value" in section
    assert f"examples/lost_update.py:{read} " in section
    assert f"examples/lost_update.py:{write} " in section
    # The README says the demo also replays the run and explores every
    # interleaving: the lost update is found, explained and replayed 10/10.
    replay = proc.stdout.split("## Replay that run")[1].split("## ")[0]
    assert "[exit code 0]" in replay
    explored = proc.stdout.split("## Explore every interleaving")[1].split("\n## ")[0]
    assert "pattern: lost update" in explored
    assert "reproduced 10/10 times when replayed" in explored
    assert f"lost_update.py:{read} " in explored and f"lost_update.py:{write} " in explored


def test_builtins_and_container_methods_are_accesses_with_readable_names(tmp_path: Path) -> None:
    rec = record(tmp_path, "containers.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    src = PROGRAMS / "containers.py"

    def at(*marks: str) -> set[str]:
        return {f"{src}:{line_of(src, m)}" for m in marks}

    expected = {
        "Config.mode": at("setattr", "getattr"),
        "Config.level": at("object-setattr", "hasattr"),
        "Config.flag": at("dict-write", "attr-read"),
        "queue_ (whole)": at("deque-append", "deque-popleft"),
        "registry['user']": at("setdefault", "dict-get"),
        "seen (whole)": at("set-add", "sorted"),
        "scores[2]": at("list-item", "list-read"),
        "Config.gone": at("delattr", "getattr-gone"),
        "names (whole)": at("names-append", "names-in"),
        "global flag_global": at("module-attr", "global-read"),
    }
    assert {r["key_name"] for r in report["races"]} == set(expected)
    for key, lines in expected.items():
        assert race_lines(report, key) == lines, key


def test_timed_out_waits_and_failed_acquires_do_not_order(tmp_path: Path) -> None:
    rec = record(tmp_path, "timed_ops.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    src = PROGRAMS / "timed_ops.py"
    for key, marks in {
        "Data.e": ("event-write", "event-other"),
        "Data.l": ("lock-write", "lock-other"),
        "Data.s": ("sem-write", "sem-other"),
    }.items():
        assert race_lines(report, key) == {f"{src}:{line_of(src, m)}" for m in marks}, key


def test_thread_pool_submit_and_result_order_accesses(tmp_path: Path) -> None:
    rec = record(tmp_path, "futures.py")
    assert rec.code == 0, rec.stderr
    assert races(rec.trace)["race_count"] == 0
    assert info(rec.trace)["event_count"] > 50


def run_python(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=60
    )


def test_trace_function_is_removed_from_all_threads_when_recording_stops(tmp_path: Path) -> None:
    proc = run_python(PROGRAMS / "hook_removal.py", tmp_path / "t.rtrace")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(
        {
            "main while recording": True,
            "program sees while recording": None,
            "hooked after stop": False,
            "main after stop": None,
            "worker after stop": None,
            "thread started later": None,
        }
    )


def test_recording_left_open_is_closed_as_aborted_at_exit(tmp_path: Path) -> None:
    trace = tmp_path / "open.rtrace"
    proc = run_python(PROGRAMS / "left_open.py", trace)
    assert proc.returncode == 0, proc.stderr
    data = info(trace)
    assert data["truncated"] is None
    assert data["outcome"]["kind"] == "aborted"
    assert "exited while recording" in data["outcome"]["reason"]


def test_thread_local_attributes_are_not_shared(tmp_path: Path) -> None:
    rec = record(tmp_path, "thread_local.py")
    assert rec.code == 0, rec.stderr
    assert races(rec.trace)["race_count"] == 0


def test_lifo_priority_queues_barrier_generations_reentrant_condition(tmp_path: Path) -> None:
    rec = record(tmp_path, "sync_more.py")
    assert rec.code == 0, rec.stderr
    assert races(rec.trace)["race_count"] == 0
    edges = graph_edge_kinds(rec.trace)
    for kind in ("put-get", "barrier", "notify-wake", "release-acquire"):
        assert kind in edges, edges


def test_thread_running_before_recording_is_recorded(tmp_path: Path) -> None:
    trace = tmp_path / "running.rtrace"
    proc = run_python(PROGRAMS / "running_before.py", trace)
    assert proc.returncode == 0, proc.stderr
    report = races(trace)
    src = PROGRAMS / "running_before.py"
    assert [r["key_name"] for r in report["races"]] == ["Shared.after"]
    assert race_lines(report, "Shared.after") == {
        f"{src}:{line_of(src, 'main')}",
        f"{src}:{line_of(src, 'server')}",
    }
    actors = {a["name"]: a for a in info(trace)["actors"]}
    assert actors["server"]["parent"] is None


def test_forked_child_does_not_write_into_the_parents_trace(tmp_path: Path) -> None:
    rec = record(tmp_path, "forks.py")
    assert rec.code == 0, rec.stderr
    assert "child status 0" in rec.stdout
    data = info(rec.trace)
    assert data["truncated"] is None
    assert data["outcome"]["kind"] == "ok"
    # The child's 100 000 increments (200 000 accesses) are not in the trace.
    assert data["event_count"] < 5_000


def test_copying_constructor_reads_the_whole_container(tmp_path: Path) -> None:
    rec = record(tmp_path, "copy_race.py")
    assert rec.code == 0, rec.stderr
    src = PROGRAMS / "copy_race.py"
    assert race_lines(races(rec.trace), "items (whole)") == {
        f"{src}:{line_of(src, 'append')}",
        f"{src}:{line_of(src, 'copy')}",
    }


def test_in_place_operator_on_a_list_is_a_write_of_the_list(tmp_path: Path) -> None:
    rec = record(tmp_path, "inplace_race.py")
    assert rec.code == 0, rec.stderr
    src = PROGRAMS / "inplace_race.py"
    report = races(rec.trace)
    assert race_lines(report, "Holder.items (whole)") == {
        f"{src}:{line_of(src, 'extend')}",
        f"{src}:{line_of(src, 'len')}",
    }


def test_short_lived_objects_are_neither_confused_nor_kept_alive(tmp_path: Path) -> None:
    trace = tmp_path / "short.rtrace"
    proc = run_python(PROGRAMS / "short_lived.py", trace)
    assert proc.returncode == 0, proc.stderr
    assert "finalized while recording: 4000" in proc.stdout
    assert races(trace)["race_count"] == 0
    assert info(trace)["event_count"] > 8000


def test_previous_trace_function_is_restored_when_recording_stops(tmp_path: Path) -> None:
    proc = run_python(PROGRAMS / "keeps_tracer.py", tmp_path / "t.rtrace")
    assert proc.returncode == 0, proc.stderr
    assert "restored: True" in proc.stdout
    assert "called after: ['probe']" in proc.stdout


def test_calls_with_star_arguments_are_inspected(tmp_path: Path) -> None:
    rec = record(tmp_path, "star_calls.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    src = PROGRAMS / "star_calls.py"
    assert [r["key_name"] for r in report["races"]] == ["Obj.v"]
    assert race_lines(report, "Obj.v") == {
        f"{src}:{line_of(src, 'star-setattr')}",
        f"{src}:{line_of(src, 'getattr')}",
    }
