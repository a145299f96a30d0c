"""``racetrace record`` on an asyncio program: its tasks are actors of the
trace (kind "task", created by the task that made them), each step of a
task begins with a switch at the ``await`` it resumed from, and
``racetrace races`` reports an atomicity violation across an await (the
read, the await, the other task's write in between, the write), never for
code with no await between its read and its write. The program runs as
without racetrace."""

from __future__ import annotations

import subprocess
import sys

from record_helpers import PROGRAMS, cli, info, line_of, races, record

PROGRAM = PROGRAMS / "async_lost_update.py"


def test_the_program_runs_as_without_racetrace(tmp_path):
    plain = subprocess.run([sys.executable, str(PROGRAM)], capture_output=True, text=True, timeout=60)
    rec = record(tmp_path, "async_lost_update.py")
    assert rec.code == plain.returncode == 0, rec.stderr
    assert rec.stdout == plain.stdout == "1 2\n"


def test_tasks_are_actors_created_by_their_creator(tmp_path):
    rec = record(tmp_path, "async_lost_update.py")
    assert rec.code == 0, rec.stderr
    actors = info(rec.trace)["actors"]
    by_name = {a["name"]: a for a in actors}
    tasks = [a for a in actors if a["kind"] == "task"]
    names = [a["name"] for a in tasks]
    assert names.count("increment") == 2 and names.count("increment_at_once") == 2, names
    main = by_name["main"]
    assert all(a["parent"] == main["id"] for a in tasks if a["name"].startswith("increment")), tasks


def test_races_reports_the_atomicity_violation_across_the_await(tmp_path):
    rec = record(tmp_path, "async_lost_update.py")
    report = races(rec.trace)
    violations = report["await_violations"]
    assert len(violations) == 1, violations
    v = violations[0]
    name = PROGRAM.name
    assert v["key_name"] == "Counter.value"
    assert v["read_location"].endswith(f"{name}:{line_of(PROGRAM, 'read')}")
    assert v["await_location"].endswith(f"{name}:{line_of(PROGRAM, 'await')}")
    assert v["other_location"].endswith(f"{name}:{line_of(PROGRAM, 'write')}")
    assert v["write_location"].endswith(f"{name}:{line_of(PROGRAM, 'write')}")
    assert v["actor_name"] != v["other_name"]
    # Tasks of one loop never race in the data-race sense (steps are
    # atomic): the increments with no await between their read and write
    # are not reported at all.
    assert report["races"] == []
    text = cli("races", rec.trace)
    assert text.returncode == 1
    assert "Atomicity violation across an await on Counter.value" in text.stdout
    assert f"awaited at {PROGRAM}:{line_of(PROGRAM, 'await')}" in text.stdout


def test_no_await_between_read_and_write_is_no_finding(tmp_path):
    program = tmp_path / "at_once.py"
    program.write_text(
        PROGRAM.read_text().replace(
            "await asyncio.gather(increment(split), increment(split))", "pass"
        )
    )
    rec = record(tmp_path, str(program))
    assert rec.code == 0 and rec.stdout == "0 2\n", rec.stderr
    report = races(rec.trace)
    assert report["await_violations"] == [] and report["races"] == []
    assert cli("races", rec.trace).returncode == 0


def test_a_task_using_a_threads_result_after_awaiting_it_is_no_race(tmp_path):
    rec = record(tmp_path, "async_to_thread.py")
    assert rec.code == 0 and rec.stdout == "42\n", rec.stderr
    report = races(rec.trace)
    assert report["races"] == [] and report["await_violations"] == [], report
