"""Controlled execution: replay, deadlock detection, every threading
primitive under control, replay scripts. Programs live in
tests/programs/control/; expected lines come from `# MARK: name` comments."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import racetrace
from record_helpers import PROGRAMS, info, line_of, record

CONTROL = PROGRAMS / "control"
sys.path.insert(0, str(CONTROL))
import programs  # noqa: E402

FLAKY = CONTROL / "flaky_counter.py"
SEEDS = range(30)


def record_until_failure(tmp_path: Path, attempts: int = 80) -> Path:
    """Records the flaky counter freely until a run fails (bounded)."""
    for _ in range(attempts):
        rec = record(tmp_path, str(FLAKY))
        if rec.code != 0:
            assert "AssertionError: lost updates" in rec.stderr, rec.stderr
            return rec.trace
        rec.trace.unlink()
    pytest.fail(f"the flaky counter never lost an update in {attempts} free runs")


def expand(schedule: str) -> list[int]:
    """The steps of an `rts1:` schedule."""
    steps: list[int] = []
    for run in schedule.split(":", 1)[1].split(","):
        actor, _, n = run.partition("*")
        steps += [int(actor)] * int(n or 1)
    return steps


def run_cli(*args: str | Path, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "racetrace", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


# --- replay -------------------------------------------------------------


@pytest.fixture(scope="module")
def failing_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_until_failure(tmp_path_factory.mktemp("flaky"))


def test_free_recording_that_failed_replays_failing_100_times(failing_trace: Path) -> None:
    assert info(failing_trace)["outcome"]["kind"] == "exception"
    failures = 0
    for _ in range(100):
        with pytest.raises(AssertionError, match="lost updates"):
            racetrace.replay(failing_trace, script=str(FLAKY))
        failures += 1
    assert failures == 100


def test_replay_cli_fails_the_same_way(failing_trace: Path) -> None:
    proc = run_cli("replay", failing_trace, "--", FLAKY)
    assert proc.returncode == 1, proc.stderr
    assert "AssertionError: lost updates" in proc.stderr
    # The script is taken from the trace when not given.
    proc = run_cli("replay", failing_trace, cwd=FLAKY.parent.parent.parent.parent)
    assert proc.returncode in (1, 2), proc.stderr


def test_generated_script_fails_100_times_and_under_pytest(failing_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "repro_flaky.py"
    proc = run_cli("script", failing_trace, "-o", out)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    # The interleaving is readable: step, actor, file:line, source, access.
    read_line = line_of(FLAKY, "read")
    assert f"flaky_counter.py:{read_line}" in text
    assert "current = self.value" in text
    assert "read Counter.value" in text and "write Counter.value" in text
    assert "T1 (" in text and "T2 (" in text
    spec = importlib.util.spec_from_file_location("repro_flaky", out)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for _ in range(100):
        with pytest.raises(AssertionError, match="lost updates"):
            mod.test_replay()
    proc = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "AssertionError: lost updates" in proc.stderr, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout
    assert "1 failed" in proc.stdout and "lost updates" in proc.stdout


def test_recorded_pytest_node_replays_and_its_script_fails(tmp_path: Path) -> None:
    node = f"{CONTROL / 'flaky_node_check.py'}::test_counter"
    for _ in range(40):
        trace = tmp_path / "node.rtrace"
        proc = run_cli(
            "record", "-o", trace, "--", "pytest", "-q", "-p", "no:cacheprovider", node, cwd=tmp_path
        )
        if proc.returncode == 1:
            break
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:
        pytest.fail("the flaky test never failed in 40 recorded runs")
    assert info(trace)["program"].startswith("pytest ")
    proc = run_cli("replay", trace, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed" in proc.stdout
    out = tmp_path / "repro_node.py"
    assert run_cli("script", trace, "-o", out).returncode == 0
    for _ in range(3):
        proc = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "1 failed" in proc.stdout and "assert" in proc.stdout, proc.stdout
        assert "Divergence" not in proc.stderr, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout
    assert "the replayed pytest run failed" in proc.stdout and "1 failed" in proc.stdout


def test_replay_after_editing_reports_the_diverging_step(tmp_path: Path) -> None:
    prog = tmp_path / FLAKY.name
    prog.write_text(FLAKY.read_text())
    rec = record(tmp_path, str(prog))
    assert rec.trace.exists(), rec.stderr
    read_line = line_of(prog, "read")
    # Edit the program in place: one more access before the read.
    prog.write_text(
        FLAKY.read_text().replace(
            "        current = self.value  # MARK: read\n",
            "        self.touched = True; current = self.value  # MARK: read\n",
        )
    )
    with pytest.raises(racetrace.DivergenceError) as e:
        racetrace.replay(rec.trace, script=str(prog))
    msg = str(e.value)
    assert "the program took another path at step" in msg
    assert f"expected: read Counter.value at {prog}:{read_line} in Counter.increment" in msg
    assert f"actual:   write at {prog}:{read_line} in Counter.increment" in msg
    # The command line knows the source changed (the trace holds a digest
    # of it): it refuses, naming the file, before running anything.
    proc = run_cli("replay", rec.trace, "--", prog)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"racetrace replay: error: {prog} (changed since recording)"), proc.stderr


def test_schedule_replay_is_deterministic() -> None:
    first = racetrace.run(programs.tiny, seed=3)
    for _ in range(10):
        again = racetrace.run(programs.tiny, schedule=first.schedule)
        assert (again.schedule, again.value) == (first.schedule, first.value)
    lost = [racetrace.run(programs.tiny, seed=s).value for s in range(20)]
    assert set(lost) == {1, 2}, "random schedules find the lost update"


# --- deadlocks and timeouts ---------------------------------------------


def test_lock_order_deadlock_is_reported_at_once() -> None:
    src = Path(programs.__file__)
    found = 0
    for seed in SEEDS:
        start = time.monotonic()
        try:
            racetrace.run(programs.lock_order, seed=seed, deadlock_timeout=5.0)
        except racetrace.DeadlockError as e:
            elapsed = time.monotonic() - start
            assert elapsed < 1.0, elapsed
            msg = str(e)
            assert "every live actor is blocked" in msg
            assert f"{src}:{line_of(src, 'transfer-waits')}" in msg
            assert f"{src}:{line_of(src, 'audit-waits')}" in msg
            assert f"held by T2 (audit), acquired at {src}:{line_of(src, 'audit-holds')}" in msg
            assert "cycle: T1 -> T2 -> T1" in msg
            found += 1
    assert found > 0
    # Without preemption there is no deadlock.
    assert racetrace.run(programs.lock_order).status == "ok"


def test_missed_event_signal_is_a_deadlock_naming_the_waiting_line() -> None:
    src = Path(programs.__file__)
    start = time.monotonic()
    with pytest.raises(racetrace.DeadlockError) as e:
        racetrace.run(programs.missed_signal, deadlock_timeout=5.0)
    assert time.monotonic() - start < 1.0
    msg = str(e.value)
    assert f"waits at {src}:{line_of(src, 'wait')} for event `ready` to be set" in msg
    assert "no other actor can set it" in msg


def test_wait_in_c_longer_than_deadlock_timeout_is_a_clear_timeout() -> None:
    start = time.monotonic()
    with pytest.raises(racetrace.ControlTimeout) as e:
        racetrace.run(programs.c_level_block, 1.0, deadlock_timeout=0.2)
    assert time.monotonic() - start < 3.0
    msg = str(e.value)
    assert "timeout" in msg and "deadlock_timeout" in msg and "cannot see" in msg
    assert racetrace.run(programs.c_level_block, 0.5, deadlock_timeout=5.0).value == "done"


# --- primitives ---------------------------------------------------------


def test_every_primitive_behaves_as_the_real_one_under_every_schedule() -> None:
    expected = programs.primitives()  # without racetrace
    for seed in [None, *range(12)]:
        result = racetrace.run(programs.primitives, seed=seed, deadlock_timeout=5.0)
        assert result.value == expected, seed


@pytest.mark.parametrize("program", ["barrier_rounds", "producer_consumer"])
def test_barrier_and_condition_programs_complete_under_every_schedule(program: str) -> None:
    fn = getattr(programs, program)
    expected = fn()
    schedules = set()
    for seed in SEEDS:
        result = racetrace.run(fn, seed=seed, deadlock_timeout=5.0)
        assert result.status == "ok"
        schedules.add(result.schedule)
        if program == "barrier_rounds":
            assert [r for r, _ in result.value] == sorted(r for r, _ in expected)
        else:
            assert result.value == expected
    assert len(schedules) > 10


def test_primitive_exceptions_reach_the_program() -> None:
    assert racetrace.run(programs.broken_barrier).value == ["BrokenBarrierError"] * 2
    assert racetrace.run(programs.queue_timeout).value == "Empty"


def test_timeouts_use_virtual_time() -> None:
    start = time.monotonic()
    racetrace.run(programs.queue_timeout)  # a 1 s timeout
    racetrace.run(programs.broken_barrier)  # 0.5 s timeouts
    assert time.monotonic() - start < 0.9


# --- bad input ----------------------------------------------------------


@pytest.mark.parametrize(
    "schedule, message",
    [
        ("rts1:0,,1", "invalid schedule at column 8"),
        ("rts9:0", "schedule format version 9 is not supported"),
        ("rts1:3,0", "step 0 names actor 3"),
        ("hello", "No such file"),
    ],
)
def test_bad_schedules_are_refused_before_running(schedule: str, message: str) -> None:
    ran = []
    with pytest.raises(racetrace.ScheduleError, match=message):
        racetrace.run(lambda: ran.append(1), schedule=schedule)
    assert ran == []


def test_schedule_naming_an_actor_never_created_stops_with_a_clear_error() -> None:
    # Actor 7 cannot exist before step 7: refused before running.
    with pytest.raises(racetrace.ScheduleError, match="step 3 names actor 7"):
        racetrace.run(programs.tiny, schedule="rts1:0*3,7")
    # It could, but the program never creates it: stopped at that step,
    # before anything of it runs.
    steps = expand(racetrace.run(programs.tiny).schedule)
    prefix = ",".join(map(str, steps[:10]))
    with pytest.raises(racetrace.DivergenceError, match="has not created actor T7") as e:
        racetrace.run(programs.tiny, schedule=f"rts1:{prefix},7")
    assert "step 10" in str(e.value)
    proc = run_cli("replay", "rts1:0,x", "--", FLAKY)
    assert proc.returncode == 2 and "invalid schedule" in proc.stderr


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_exception_in_an_actor_is_reported_and_does_not_hang_others(tmp_path: Path) -> None:
    trace = tmp_path / "worker.rtrace"
    result = racetrace.run(programs.worker_exception, deadlock_timeout=5.0, trace=trace)
    assert result.value == ["good finished"]
    assert result.status == "exception"
    ((name, exc),) = result.worker_exceptions
    assert isinstance(exc, ValueError) and str(exc) == "boom in worker"
    outcome = info(trace)["outcome"]
    assert outcome["kind"] == "exception" and outcome["type_name"] == "ValueError"
    assert 'raise ValueError("boom in worker")' in outcome["traceback"]
    # Printed as without racetrace, by threading.excepthook.
    src = tmp_path / "worker.py"
    src.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(CONTROL)!r})\n"
        "import programs, racetrace\n"
        "print(racetrace.run(programs.worker_exception).value)\n"
    )
    proc = subprocess.run([sys.executable, str(src)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "['good finished']" in proc.stdout
    assert "Traceback" in proc.stderr and 'raise ValueError("boom in worker")' in proc.stderr


def test_runs_cannot_be_nested() -> None:
    def inner():
        racetrace.run(programs.tiny)

    with pytest.raises(RuntimeError, match="cannot be nested"):
        racetrace.run(inner)


@pytest.mark.parametrize(
    "program", ["sync_more", "handoffs", "timed_ops", "futures", "grandchild", "containers", "worker_exception"]
)
def test_free_recordings_of_the_recorder_programs_replay_as_they_are(program: str, tmp_path: Path) -> None:
    src = PROGRAMS / f"{program}.py"
    # Barrier and condition hand-offs: internal wake-up orders vary from run
    # to run, and the replay must follow each recorded one.
    for _ in range(3 if program == "sync_more" else 1):
        rec = record(tmp_path, str(src))
        proc = run_cli("replay", rec.trace, "--", src, cwd=tmp_path)
        assert proc.returncode == rec.code, proc.stderr
        assert "divergence" not in proc.stderr, proc.stderr


def test_cli_refuses_what_is_not_a_trace(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.rtrace"
    bogus.write_text("print('hello')\n")
    proc = run_cli("replay", bogus, "--", FLAKY)
    assert proc.returncode == 2 and "bad magic: not a racetrace trace file" in proc.stderr
    proc = run_cli("script", bogus)
    assert proc.returncode == 2 and "bad magic" in proc.stderr
    proc = run_cli("replay", tmp_path / "missing.rtrace", "--", FLAKY)
    assert proc.returncode == 2 and "cannot open trace file" in proc.stderr


def test_threads_reused_between_runs_start_with_fresh_thread_state() -> None:
    for seed in range(5):
        result = racetrace.run(programs.fresh_thread_state, seed=seed)
        assert result.value == [("unset", "unset")] * 2


def test_a_forked_child_explores_with_threads_of_its_own(tmp_path: Path) -> None:
    # The parent's pooled threads (kept between runs) do not exist in a
    # forked child: its runs start threads of their own instead of waiting
    # for threads that will never run (a timeout after deadlock_timeout).
    script = tmp_path / "fork_explore.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, time
            import racetrace

            class S:
                def __init__(self):
                    self.x = 0

            def bump(s):
                v = s.x
                s.x = v + 1

            def explore():
                start = time.monotonic()
                res = racetrace.explore_dpor(S, [bump, bump], lambda s: s.x == 2, deadlock_timeout=20)
                return res, time.monotonic() - start

            first, _ = explore()
            assert first.failures, first
            pid = os.fork()
            if pid == 0:
                res, took = explore()
                ok = res.failures and res.num_explored == first.num_explored and took < 10
                os._exit(0 if ok else 3)
            _, status = os.waitpid(pid, 0)
            print("child", os.waitstatus_to_exitcode(status))
            """
        )
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "child 0" in proc.stdout, proc.stdout + proc.stderr


def test_threads_are_made_as_plainly_and_thread_init_is_put_back() -> None:
    """`Thread.__init__` runs untraced during a run (3.11): a subclass that
    extends it, its signature and its keyword arguments behave as plainly,
    the lost update of the threads it makes is still found, and the class
    has its own `__init__` again after the run."""
    import inspect
    import threading

    before = threading.Thread.__dict__["__init__"]
    signature = inspect.signature(threading.Thread)

    class Counter(threading.Thread):
        def __init__(self, box: list[int], *, name: str) -> None:
            super().__init__(name=name, daemon=True)
            self.box = box

        def run(self) -> None:
            v = self.box[0]
            self.box[0] = v + 1

    seen: list[object] = []

    def program() -> list[int]:
        seen.append(inspect.signature(threading.Thread))
        box = [0]
        ts = [Counter(box, name=f"counter-{i}") for i in range(2)]
        seen.append([(t.name, t.daemon) for t in ts])
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return box

    res = racetrace.explore_dpor(lambda: None, [lambda s: program()], lambda s: True, shrink=False)
    assert res.exhausted
    assert seen[0] == signature
    assert seen[1] == [("counter-0", True), ("counter-1", True)]
    assert threading.Thread.__dict__["__init__"] is before
    lost = racetrace.explore_interleavings(
        lambda: [0],
        [lambda box: Counter(box, name="a").run(), lambda box: Counter(box, name="b").run()],
        lambda box: box[0] == 2,
        strategy="random",
        seed=1,
        max_attempts=200,
    )
    assert not lost.property_holds
