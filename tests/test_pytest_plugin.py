"""The pytest plugin beyond the flaky counter: it does not break tests that
use threads, asyncio, fixtures or ``capsys``; the marker, the explore mode
and the explore fixture; tests that kill their process, hang or leave
threads running: their traces are kept, readable, and the summary says
what is missing."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from flaky_helpers import cli, explain_json, project_copy, pytest_run, summary, summary_blocks, traces


def write(project: Path, name: str, source: str) -> Path:
    path = project / name
    path.write_text(textwrap.dedent(source))
    return path


def test_threads_asyncio_fixtures_and_capsys_still_work(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    write(
        project,
        "test_kinds.py",
        """
        import asyncio
        import threading

        import pytest


        @pytest.fixture
        def shared():
            box = {"n": 0, "lock": threading.Lock()}
            yield box
            assert box["n"] == 4


        def bump(box):
            with box["lock"]:
                box["n"] += 1


        def test_fixture_and_threads(shared):
            ts = [threading.Thread(target=bump, args=(shared,)) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()


        def test_capsys_sees_threads(capsys):
            t = threading.Thread(target=print, args=("from a thread",))
            t.start()
            t.join()
            print("from the test")
            out = capsys.readouterr().out
            assert out == "from a thread\\nfrom the test\\n"


        @pytest.mark.asyncio
        async def test_asyncio():
            async def one(i):
                await asyncio.sleep(0)
                return i

            assert await asyncio.gather(one(1), one(2)) == [1, 2]


        @pytest.mark.parametrize("n", [1, 2])
        def test_params(n):
            assert n in (1, 2)
        """,
    )
    r = pytest_run(project, "--racetrace", "-p", "asyncio", "test_kinds.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 passed" in r.stdout
    assert traces(project) == [] and not (project / ".racetrace").exists()
    # Every call was recorded: keep them all and look.
    r = pytest_run(project, "--racetrace", "--racetrace-keep=all", "-p", "asyncio", "test_kinds.py")
    assert r.returncode == 0, r.stdout + r.stderr
    names = sorted(t.name for t in traces(project))
    assert names == [
        "test_kinds.py__test_asyncio.rtrace",
        "test_kinds.py__test_capsys_sees_threads.rtrace",
        "test_kinds.py__test_fixture_and_threads.rtrace",
        "test_kinds.py__test_params_1_.rtrace",
        "test_kinds.py__test_params_2_.rtrace",
    ]
    x = explain_json(project, project / ".racetrace" / "test_kinds.py__test_fixture_and_threads.rtrace")
    assert x["outcome"]["kind"] == "ok"
    assert len(x["actors"]) == 5 and x["findings"] == []


def test_the_marker_records_one_test_without_the_option(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    src = (project / "test_counter.py").read_text()
    marker = "@pytest.mark.racetrace(rerun=200, exclude=['*/nothing/*'])\n"
    src = src.replace("def test_counter()", marker + "def test_counter()")
    (project / "test_counter.py").write_text("import pytest\n" + src)
    r = pytest_run(project, "test_counter.py", "test_safe.py")
    assert r.returncode == 1, r.stdout + r.stderr
    assert [t.name for t in traces(project)] == ["test_counter.py__test_counter.rtrace"]
    assert "data race on Counter.value" in summary_blocks(r.stdout)["test_counter.py::test_counter"]
    bad = write(project, "test_bad_marker.py", "import pytest\n\n@pytest.mark.racetrace(5)\ndef test_x():\n    pass\n")
    r = pytest_run(project, bad.name)
    assert r.returncode != 0
    assert "takes include=, exclude= and rerun= only" in r.stdout + r.stderr


def test_explore_mode_finds_and_replays_the_lost_update(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    src = (project / "test_counter.py").read_text().replace("TIMES = 3000", "TIMES = 3")
    (project / "test_counter.py").write_text(src)
    r = pytest_run(project, "--racetrace-explore", "--racetrace-rerun=100", "--racetrace-seed=7", "test_counter.py")
    assert r.returncode == 1, r.stdout + r.stderr
    [trace] = traces(project)
    x = explain_json(project, trace)
    assert x["mode"] == "explore"
    assert x["findings"][0]["key_name"] == "Counter.value"
    for _ in range(3):
        rr = cli(project, "replay", trace)
        assert rr.returncode == 1, rr.stdout + rr.stderr
        assert "AssertionError" in rr.stdout


def test_the_explore_fixture_keeps_the_failing_interleaving(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    write(
        project,
        "test_fixture.py",
        """
        from counter import Counter, LockedCounter


        def test_unlocked(racetrace_explore):
            racetrace_explore.dpor(Counter, [Counter.increment, Counter.increment], lambda c: c.value == 2)


        def test_locked(racetrace_explore):
            result = racetrace_explore.dpor(
                LockedCounter, [LockedCounter.increment, LockedCounter.increment], lambda c: c.value == 2
            )
            assert result.exhausted
        """,
    )
    r = pytest_run(project, "test_fixture.py")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "1 failed, 1 passed" in out
    assert "pattern: lost update" in out
    blocks = summary_blocks(out)
    assert list(blocks) == ["test_fixture.py::test_unlocked"]
    assert "data race on Counter.value" in blocks["test_fixture.py::test_unlocked"]
    assert [t.name for t in traces(project)] == ["test_fixture.py__test_unlocked-dpor.rtrace"]
    # With --racetrace too (the explorers make their own traces), and with
    # xdist (the summary comes with the report).
    for extra in (["--racetrace"], ["-p", "xdist", "-n", "2", "--racetrace"]):
        r = pytest_run(project, *extra, "test_fixture.py")
        out = r.stdout + r.stderr
        assert r.returncode == 1 and "1 failed, 1 passed" in out, out
        assert list(summary_blocks(out)) == ["test_fixture.py::test_unlocked"], out


BAD = """
import os
import signal
import threading
import time

import pytest


def test_exits():
    threading.Thread(target=time.sleep, args=(0.01,)).start()
    os._exit(3)


def test_killed():
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.timeout(2, method="signal")
def test_hangs():
    gate = threading.Event()
    threading.Thread(target=gate.wait, name="waiter", daemon=True).start()
    gate.wait()


def test_leaves_a_thread():
    stop = threading.Event()
    threading.Thread(target=stop.wait, name="leftover", daemon=True).start()
    assert False, "fails with a thread still running"
"""


def test_crashes_hangs_and_leftover_threads_keep_readable_traces(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    write(project, "test_bad.py", BAD)
    # One worker process per test crash: xdist reports the crash and the
    # summary (in the controller) still lists the trace.
    r = pytest_run(project, "-p", "xdist", "-n", "1", "-p", "timeout", "--racetrace", "test_bad.py", timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    names = sorted(t.name for t in traces(project))
    assert names == [
        "test_bad.py__test_exits.rtrace",
        "test_bad.py__test_hangs.rtrace",
        "test_bad.py__test_killed.rtrace",
        "test_bad.py__test_leaves_a_thread.rtrace",
    ], out
    blocks = summary_blocks(out)
    assert sorted(blocks) == [
        "test_bad.py::test_exits",
        "test_bad.py::test_hangs",
        "test_bad.py::test_killed",
        "test_bad.py::test_leaves_a_thread",
    ], summary(out)
    assert "aborted: the program called os._exit(3)" in blocks["test_bad.py::test_exits"]
    assert "the test's process died" in blocks["test_bad.py::test_exits"]
    assert "TRUNCATED" in blocks["test_bad.py::test_killed"]
    assert "the test's process died" in blocks["test_bad.py::test_killed"]
    assert "Timeout" in blocks["test_bad.py::test_hangs"]
    assert "T1 (waiter) was still running when recording stopped" in blocks["test_bad.py::test_hangs"]
    # The waiter of test_hangs, still blocked, may be listed too (a thread
    # running when recording starts is an actor), so the leftover's number
    # is not fixed.
    leftover = blocks["test_bad.py::test_leaves_a_thread"]
    assert re.search(r"T\d+ \(leftover\) was still running when recording stopped", leftover), leftover
    # Each is readable: explain says what is missing.
    for t in traces(project):
        x = explain_json(project, t)
        assert x["incomplete"], t
    killed = cli(project, "explain", project / ".racetrace" / "test_bad.py__test_killed.rtrace")
    assert killed.returncode == 0
    assert "INCOMPLETE: TRUNCATED at offset" in killed.stdout
    assert killed.stderr.startswith("warning:") and "truncated at offset" in killed.stderr


def test_a_replay_that_takes_another_path_says_where(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    (project / "mode.txt").write_text("a")
    write(
        project,
        "test_path.py",
        """
        import threading
        from pathlib import Path


        class Box:
            a = 0
            b = 0


        def test_path():
            box = Box()
            mode = (Path(__file__).parent / "mode.txt").read_text()

            def work():
                if mode == "a":
                    box.a += 1
                else:
                    box.b += 1

            t = threading.Thread(target=work, name="worker")
            t.start()
            t.join()
            assert box.a == 0, "took path a"
        """,
    )
    r = pytest_run(project, "--racetrace", "test_path.py")
    assert r.returncode == 1, r.stdout + r.stderr
    [trace] = traces(project)
    ok = cli(project, "replay", trace)
    assert ok.returncode == 1 and "took path a" in ok.stdout, ok.stdout + ok.stderr
    # Not a source file: the replay runs, and stops where the path differs.
    (project / "mode.txt").write_text("b")
    r = cli(project, "replay", trace)
    assert r.returncode == 3, r.stdout + r.stderr
    lines = (project / "test_path.py").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "box.b += 1" in text)
    msg = r.stderr
    assert msg.startswith("racetrace replay: divergence:"), msg
    assert "T1 (worker)" in msg and f"test_path.py:{line}" in msg, msg


def test_a_test_that_exits_its_process_leaves_its_trace_and_says_so(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    write(project, "test_exit.py", "import os\n\ndef test_exits():\n    os._exit(3)\n")
    r = pytest_run(project, "--racetrace", "test_exit.py")
    assert r.returncode == 3, r.stdout + r.stderr
    trace = project / ".racetrace" / "test_exit.py__test_exits.rtrace"
    assert (
        f"racetrace: test_exit.py::test_exits called os._exit(3); its trace is closed and kept in {trace}"
        in r.stderr
    ), r.stderr
    x = explain_json(project, trace)
    assert x["outcome"]["kind"] == "aborted"
    assert "the run was stopped: the program called os._exit(3)" in x["incomplete"]
