"""Runs that end while some of their actors are still busy (stopped runs,
abandoned executions, actors unwinding) leave nothing behind: the next
run's trace gets no event of theirs, and no traceback is printed for
them."""

from __future__ import annotations

import threading
import time
import warnings

import racetrace


class Waits:
    def __init__(self) -> None:
        self.a = 0
        self.cv = threading.Condition()


def _waiter(s: Waits) -> None:
    with s.cv:
        s.cv.wait_for(lambda: s.a > 0, timeout=0.05)
    with s.cv:
        s.cv.wait(0.05)


def _setter(s: Waits) -> None:
    with s.cv:
        s.cv.wait_for(lambda: s.a > 0, timeout=0.05)
    with s.cv:
        s.a = 2
        s.cv.notify()


def test_back_to_back_explorations_write_complete_traces() -> None:
    # Timed condition waits explored with their timeouts: some executions
    # are abandoned while an actor is inside a wait, and the next one
    # begins at once. An actor of an earlier run once wrote an event into
    # the next run's trace (with ids that trace never defined: "refers to
    # an undefined id"), which stopped that trace there; it happened in
    # about one exploration of this program in six.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(30):
            r = racetrace.explore_dpor(
                Waits, [_waiter, _setter], lambda s: True, stop_on_first=False, shrink=False, reproduce_on_failure=1
            )
            assert r.exhausted and not r.failures


class Locks:
    def __init__(self) -> None:
        self.a = threading.Lock()
        self.b = threading.Lock()


def _slow_to_unwind(first: threading.Lock, second: threading.Lock) -> None:
    try:
        with first:
            with second:
                pass
    except BaseException:
        # Stopped by the deadlock: unwinds for longer than the explorer
        # waits for its actors after a run.
        time.sleep(1.5)
        raise


def test_actors_of_stopped_runs_unwind_quietly() -> None:
    # The exception that unwinds an actor of a stopped run (RunAborted)
    # ends its thread without reaching threading.excepthook, whichever
    # hook is installed when the thread gets there (a test framework puts
    # its own back after each test).
    seen: list[BaseException | None] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        seen.append(args.exc_value)

    before = threading.excepthook
    threading.excepthook = hook
    try:
        r = racetrace.explore_dpor(
            Locks,
            [lambda s: _slow_to_unwind(s.a, s.b), lambda s: _slow_to_unwind(s.b, s.a)],
            lambda s: True,
            shrink=False,
            reproduce_on_failure=1,
        )
        assert [f.kind for f in r.failures] == ["deadlock"]
        threading.excepthook = hook
        time.sleep(2.5)
        assert seen == []
    finally:
        threading.excepthook = before


class Counts:
    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.z = 0


def _xyz(s: Counts) -> None:
    s.x += 1
    s.y += 1
    s.z += 1


def _xy(s: Counts) -> None:
    s.x += 1
    s.y += 1


def _x(s: Counts) -> None:
    s.x += 1


def test_threads_of_an_abandoned_execution_take_no_part_in_the_next() -> None:
    # A split exploration (deeply, as a shard's) abandons many executions,
    # often while a thread waits for the turn of its exit; woken, it needs
    # the GIL back, and the next execution may begin first. Such a thread
    # once marked the next run's actor of the same id as exited (or took a
    # turn in its place), so that a replayed prefix went elsewhere (the
    # engine's `diverged`/`infeasible`): in about one exploration of this
    # program in eight on a loaded machine.
    from racetrace import _native
    from racetrace.dpor_run import explore_here
    from racetrace.run_result import RunResult
    from racetrace.runs import run_options

    threads = [_xyz, _xy, _x]
    whole = racetrace.explore_dpor(Counts, threads, lambda s: True, progress=False).num_explored
    common = run_options(5.0, None, 10_000, [], [])
    for _ in range(6):
        dpor = _native.DporExplorer(None, False, split=8)
        counted: list[object] = []

        def count(res: RunResult, failure: object, counted: list[object] = counted) -> None:
            counted.append(res.status)

        stopped = explore_here(
            Counts,
            threads,
            lambda s: True,
            common,
            dpor,
            claim=lambda key, leaf: True,
            counted=count,
        )
        stats = dict(dpor.stats())
        assert stopped is None
        assert (stats["diverged"], stats["infeasible"]) == (0, 0), stats
        assert len(counted) == whole and set(counted) == {"ok"}, (len(counted), whole)
