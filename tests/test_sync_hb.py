"""Happens-before through the standard library's synchronization, in record
mode and in controlled runs: no false race on the patterns the primitives
exist for, and the real race once the program gets the pattern wrong."""

from __future__ import annotations

import queue
from pathlib import Path

import racetrace
from record_helpers import PROGRAMS, line_of, race_lines, races, record


def test_queue_join_orders_the_workers_updates_before_the_read(tmp_path: Path) -> None:
    rec = record(tmp_path, "queue_join.py")
    assert rec.code == 0, rec.stderr
    assert "total 3" in rec.stdout
    assert races(rec.trace)["race_count"] == 0


def test_task_done_before_the_update_races_with_the_read_after_join(tmp_path: Path) -> None:
    rec = record(tmp_path, "queue_join.py", "early")
    assert rec.code == 0, rec.stderr
    src = PROGRAMS / "queue_join.py"
    lines = race_lines(races(rec.trace), "State.total")
    assert f"{src}:{line_of(src, 'read')}" in lines
    assert f"{src}:{line_of(src, 'update')}" in lines


class Jobs:
    def __init__(self) -> None:
        self.q: queue.Queue[int] = queue.Queue()
        self.total = 0
        self.seen: int | None = None
        for i in (1, 2):
            self.q.put(i)


def consume_then_done(j: Jobs) -> None:
    for _ in range(2):
        item = j.q.get()
        j.total += item
        j.q.task_done()


def done_then_consume(j: Jobs) -> None:
    for _ in range(2):
        item = j.q.get()
        j.q.task_done()
        j.total += item


def wait_all(j: Jobs) -> None:
    j.q.join()
    j.seen = j.total


def test_explore_dpor_knows_join_waits_for_every_task_done() -> None:
    ok = racetrace.explore_dpor(Jobs, [consume_then_done, wait_all], lambda j: j.seen == 3)
    assert not ok.failures and ok.exhausted, ok
    bad = racetrace.explore_dpor(Jobs, [done_then_consume, wait_all], lambda j: j.seen == 3)
    assert bad.failures, bad


def test_futures_wait_and_as_completed_order_the_jobs_before_the_caller(tmp_path: Path) -> None:
    rec = record(tmp_path, "futures_wait.py")
    assert rec.code == 0, rec.stderr
    assert "a 1" in rec.stdout and "b 1" in rec.stdout
    assert races(rec.trace)["race_count"] == 0


def test_first_completed_orders_only_the_finished_future(tmp_path: Path) -> None:
    rec = record(tmp_path, "futures_wait.py", "first")
    assert rec.code == 0, rec.stderr
    src = PROGRAMS / "futures_wait.py"
    assert race_lines(races(rec.trace), "State.c") == {
        f"{src}:{line_of(src, 'slow write')}",
        f"{src}:{line_of(src, 'early read')}",
    }


def test_locks_taken_in_excluded_code_still_order_accesses(tmp_path: Path) -> None:
    src = PROGRAMS / "excluded_sync" / "app.py"
    for how in ("with", "explicit"):
        rec = record(tmp_path, str(src), how, options=("--exclude", "*guard.py"))
        assert rec.code == 0, rec.stderr
        assert "value 6" in rec.stdout
        assert races(rec.trace)["race_count"] == 0, how
    rec = record(tmp_path, str(src), "unlocked", options=("--exclude", "*guard.py"))
    assert race_lines(races(rec.trace), "Counter.value") == {f"{src}:{line_of(src, 'bump')}"}
