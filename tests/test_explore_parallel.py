"""explore_dpor with worker processes (``workers=N``) and shards
(``shard=(i, n)``, ``RACETRACE_SHARD``): the same classes as one process,
each exactly once, on the count programs; a worker that dies is reported
as a failure with its schedule and the exploration goes on; Ctrl-C stops
the workers and returns what was explored; a test that cannot be sent to a
worker is explored in this process, with a warning that says why.

Worker processes import the test by its qualified name, so the programs
here are module-level functions (and ``functools.partial`` of them).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

import racetrace
from racetrace.results import CRASH

# --------------------------------------------------------------------------
# Programs


class Shared:
    def __init__(self, n: int = 0) -> None:
        self.n = n
        self.a = [0] * (n + 1)
        self.x = 0
        self.y = 0
        self.res: int | None = None


def scan(s: Shared) -> None:
    i = s.n
    while s.a[i] != 0:
        i -= 1
    s.res = i


def bump(i: int, s: Shared) -> None:
    s.a[i] = s.a[i - 1] + 1


def lastzero(n: int) -> tuple[functools.partial[Shared], list]:
    return functools.partial(Shared, n), [scan] + [functools.partial(bump, i) for i in range(1, n + 1)]


def incr_x(s: Shared) -> None:
    v = s.x
    s.x = v + 1


def incr_both(s: Shared) -> None:
    w = s.y
    s.y = w + 1
    v = s.x
    s.x = v + 1


def always(_s: Shared) -> bool:
    return True


def x_is_count(s: Shared) -> bool:
    return s.x == 3


def exits_on_interleaving(s: Shared) -> None:
    v = s.x
    s.x = v + 1
    if s.x == 1 and v == 0 and s.y == 1:
        os._exit(3)  # a worker process ends without unwinding


def crashes_on_interleaving(s: Shared) -> None:
    v = s.x
    s.x = v + 1
    if s.x == 1 and v == 0 and s.y == 1:
        ctypes.string_at(0)  # a segfault in C


def set_y(s: Shared) -> None:
    s.y = 1
    v = s.x
    s.x = v + 1


def _explore(setup, threads, invariant=always, **kw):
    kw.setdefault("stop_on_first", False)
    kw.setdefault("progress", False)
    return racetrace.explore_dpor(setup, threads, invariant, **kw)


# --------------------------------------------------------------------------
# The same classes as one process


COUNT_PROGRAMS = {
    "lastzero4": lastzero(4),
    "lastzero6": lastzero(6),
    "3x2incr": (Shared, [incr_both] * 3),
    "4incr+2incr2": (Shared, [incr_both, incr_both, incr_x, incr_x]),
}


@pytest.mark.parametrize("name", sorted(COUNT_PROGRAMS))
def test_two_workers_explore_the_same_classes(name: str) -> None:
    setup, threads = COUNT_PROGRAMS[name]
    one = _explore(setup, threads)
    two = _explore(setup, threads, workers=2)
    assert one.exhausted, one.explanation
    assert two.exhausted, two.explanation
    assert two.num_explored == one.num_explored
    # No replayed step may go elsewhere (threads of an abandoned execution
    # once acted in the next one).
    assert (two.stats["diverged"], two.stats["infeasible"]) == (0, 0)
    assert two.stats["workers"] == 2
    assert not two.failures


def test_failing_classes_are_the_same_with_workers() -> None:
    one = _explore(Shared, [incr_x] * 3, x_is_count)
    two = _explore(Shared, [incr_x] * 3, x_is_count, workers=2)
    assert two.num_explored == one.num_explored
    assert len(one.failures) == len(two.failures) > 0
    assert Counter(f.kind for f in one.failures) == Counter(f.kind for f in two.failures)
    # Each failure replays as reported.
    for f in two.failures[:3]:
        assert f.reproduced == f.replays > 0


def test_stop_on_first_with_workers_reports_one_failure() -> None:
    r = racetrace.explore_dpor(Shared, [incr_x] * 3, x_is_count, workers=2, progress=False)
    assert not r.property_holds
    assert len(r.failures) == 1
    assert r.failures[0].reproduced == r.failures[0].replays
    assert "lost update" in r.explanation


# --------------------------------------------------------------------------
# Shards


def _final(seen: set):
    def record(s: Shared) -> bool:
        seen.add((tuple(s.a), s.res, s.x, s.y))
        return True

    return record


@pytest.mark.parametrize("n", [2, 3, 5])
def test_shards_together_explore_the_whole_once(n: int) -> None:
    setup, threads = lastzero(5)
    whole_states: set = set()
    whole = _explore(setup, threads, _final(whole_states))
    total = 0
    states: set = set()
    for i in range(n):
        r = _explore(setup, threads, _final(states), shard=(i, n))
        assert not r.exhausted and f"shard {i} of {n}" in (r.stopped_because or "")
        total += r.num_explored
    assert whole.num_explored == 64, whole.stats
    assert total == whole.num_explored
    assert states == whole_states


def test_shards_with_workers() -> None:
    setup, threads = COUNT_PROGRAMS["3x2incr"]
    whole = _explore(setup, threads)
    parts = [_explore(setup, threads, shard=(i, 2), workers=2).num_explored for i in range(2)]
    assert sum(parts) == whole.num_explored
    assert all(p > 0 for p in parts)


def test_shard_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    setup, threads = lastzero(4)
    direct = _explore(setup, threads, shard=(1, 3)).num_explored
    monkeypatch.setenv("RACETRACE_SHARD", "1/3")
    assert _explore(setup, threads).num_explored == direct
    monkeypatch.setenv("RACETRACE_SHARD", "3/3")
    with pytest.raises(ValueError, match="0 <= i < n"):
        _explore(setup, threads)
    monkeypatch.setenv("RACETRACE_SHARD", "half")
    with pytest.raises(ValueError, match="'i/n'"):
        _explore(setup, threads)


def test_bad_shard_and_workers_are_refused() -> None:
    with pytest.raises(TypeError, match="pair of ints"):
        _explore(Shared, [incr_x], shard=[0, 2])
    with pytest.raises(ValueError, match="0 <= i < n"):
        _explore(Shared, [incr_x], shard=(2, 2))
    with pytest.raises(ValueError, match="workers must be an int >= 0"):
        _explore(Shared, [incr_x], workers=-1)


# --------------------------------------------------------------------------
# Bad input


def test_a_lambda_is_explored_in_this_process_with_a_warning() -> None:
    with pytest.warns(RuntimeWarning, match=r"invariant \(.*lambda.*\) cannot be imported by a worker"):
        r = _explore(Shared, [incr_x] * 2, lambda s: True, workers=2)
    assert r.exhausted and r.num_explored == 4
    assert "workers" not in r.stats


@pytest.mark.parametrize("body", [exits_on_interleaving, crashes_on_interleaving], ids=["os._exit", "segfault"])
def test_a_worker_that_dies_is_a_failure_and_exploration_goes_on(body) -> None:
    r = _explore(Shared, [body, set_y], workers=2)
    crashes = [f for f in r.failures if f.kind == CRASH]
    # Each class that reaches the exit is one (with a schedule of its own).
    assert crashes, r.explanation
    assert len({f.schedule for f in crashes}) == len(crashes)
    f = crashes[0]
    assert f.schedule.startswith("rts1:") and f.schedule != "rts1:"
    assert ("exit status 3" if body is exits_on_interleaving else "SIGSEGV") in f.message
    assert f.replays == 0  # never replayed in this process
    # The other interleavings were explored: more than the crash.
    assert r.num_explored > len(crashes)
    assert not r.exhausted
    assert any("worker process running it died" in line for line in r.limits)
    # Replayed in a process of its own, the schedule dies the same way.
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import racetrace, test_explore_parallel as t
        s = t.Shared()
        def main():
            import threading
            a = threading.Thread(target=t.{body.__name__}, args=(s,), name="thread-1")
            b = threading.Thread(target=t.set_y, args=(s,), name="thread-2")
            a.start(); b.start(); a.join(); b.join()
        racetrace.run(main, schedule={f.schedule!r})
        print("survived")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "survived" not in proc.stdout
    assert proc.returncode != 0


def test_a_script_without_a_main_guard_gets_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            import racetrace, test_explore_parallel as t
            racetrace.explore_dpor(t.Shared, [t.incr_x] * 2, t.always, workers=2, progress=False)
            """
        )
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "WorkerStartError" in proc.stderr and "if __name__ == '__main__':" in proc.stderr


def test_stop_on_first_worker_crash_stops() -> None:
    r = racetrace.explore_dpor(Shared, [exits_on_interleaving, set_y], always, workers=2, progress=False)
    assert [f.kind for f in r.failures] == [CRASH]
    assert r.stopped_because == "stopped at the first failure"


def test_ctrl_c_stops_the_workers_and_returns_what_was_explored(tmp_path: Path) -> None:
    script = tmp_path / "long.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import faulthandler, signal, sys
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            import racetrace, test_explore_parallel as t
            if __name__ == "__main__":
                # (where it is, should it not end: see below)
                faulthandler.register(signal.SIGUSR1, all_threads=True)
                # Ctrl-C as in a terminal: a process started by a background
                # job of a non-interactive shell (CI under nohup) inherits
                # SIGINT ignored, and Python then leaves it ignored.
                signal.signal(signal.SIGINT, signal.default_int_handler)
                print("started", flush=True)
                # (five threads: far more classes than 8 s can explore)
                r = racetrace.explore_dpor(t.Shared, [t.incr_both] * 5, t.always, workers=2, progress=False)
                print("explored", r.num_explored, r.exhausted, r.stopped_because, flush=True)
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    time.sleep(8)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1)
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running 120 s after Ctrl-C; its threads:\n{err}\nstdout: {out}")
    assert proc.returncode == 0, err
    words = out.split()
    assert words[0] == "explored" and int(words[1]) > 0, out
    assert words[2] == "False"
    assert "interrupted (KeyboardInterrupt)" in out


# --------------------------------------------------------------------------
# Progress


def test_progress_estimate_converges() -> None:
    seen: list[tuple[int, int]] = []
    r = _explore(Shared, [incr_both] * 3, on_progress=lambda n, est: seen.append((n, est)))
    assert [n for n, _ in seen] == list(range(1, r.num_explored + 1))
    assert seen[-1] == (r.num_explored, r.num_explored)
    for _n, est in seen[len(seen) * 3 // 4 :]:
        assert r.num_explored / 2 <= est <= r.num_explored * 2


def test_progress_with_workers_reaches_the_total() -> None:
    seen: list[tuple[int, int]] = []
    r = _explore(Shared, [incr_both] * 3, on_progress=lambda n, est: seen.append((n, est)), workers=2)
    assert seen and seen[-1][0] == r.num_explored
    assert all(est >= n for n, est in seen)


def test_progress_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    r = _explore(Shared, [incr_both] * 3, progress=True)
    err = capsys.readouterr().err
    assert "explore_dpor [" in err and "executions" in err and "/s" in err
    # The last line says the total.
    assert f"{r.num_explored:,}/{r.num_explored:,} executions" in err.splitlines()[-1]


def test_a_worker_that_dies_running_an_attempt_is_its_failure() -> None:
    r = racetrace.explore_interleavings(
        Shared, [exits_on_interleaving, set_y], always, workers=2, seed=3, max_attempts=300, progress=False
    )
    assert [f.kind for f in r.failures] == [CRASH], r.explanation
    f = r.failures[0]
    assert f.schedule.startswith("rts1:") and f.schedule != "rts1:"
    assert r.stats["found_by"] in ("random", "pct1", "pct2", "pct3", "pb")
    # Every attempt before it ran and passed.
    assert f.execution == r.num_explored
