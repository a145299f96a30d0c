"""What an exploration cannot claim: executions ended at the step bound
(poll loops), waits the scheduler cannot see (the deadlock_timeout
watchdog), and threads it cannot run (coroutines) refused up front."""

from __future__ import annotations

import asyncio
import os
import queue
import select
import threading
import time

import pytest

import racetrace


class State:
    pass


def _poll_state():
    s = State()
    s.q = queue.Queue()
    s.stop = False
    s.got = []
    return s


def _producer(s):
    s.q.put(1)
    s.stop = True


def _poller(s):
    # Polls until told to stop; a timed get may time out at any step, so
    # some interleavings poll for ever.
    while not s.stop:
        try:
            s.got.append(s.q.get(timeout=0.1))
        except queue.Empty:
            pass


def test_poll_loop_executions_end_at_the_step_bound_and_the_result_says_so():
    r = racetrace.explore_dpor(_poll_state, [_producer, _poller], lambda s: True, max_steps=60, max_executions=40)
    assert r.property_holds, r.explanation
    assert not r.exhausted
    assert any("step bound (max_steps=60)" in text for text in r.limits), r.limits
    assert "step bound (max_steps=60)" in r.explanation
    # Such an execution is not a failure.
    assert not r.failures
    # Timeouts were explored: some execution polled more than once before
    # the item came (get-failed steps), bounded by the step bound.
    assert r.num_explored > 2


def test_poll_loop_without_timeouts_finishes():
    r = racetrace.explore_dpor(_poll_state, [_producer, _poller], lambda s: True, explore_timeouts=False)
    assert r.property_holds, r.explanation
    assert not any("step bound" in text for text in r.limits), r.limits
    assert any("explore_timeouts=False" in text for text in r.limits), r.limits


def _poll_for_ever(s):
    # Nobody ever puts: the poll never ends.
    while True:
        try:
            s.q.get(timeout=0.1)
            return
        except queue.Empty:
            pass


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_random_exploration_reports_the_step_bound_too(strategy):
    r = racetrace.explore_interleavings(
        _poll_state, [_poll_for_ever], lambda s: True, max_attempts=3, seed=3, max_steps=40, strategy=strategy
    )
    assert r.property_holds
    assert any("3 execution(s) stopped at the step bound (max_steps=40)" in text for text in r.limits), r.limits


def test_a_wait_the_scheduler_cannot_see_names_the_actor_and_where_it_is_stuck():
    # A wait in C (select on a pipe nobody writes yet): the watchdog stops
    # the run; every actor so stuck is woken at the end (one byte makes the
    # pipe readable for all), so none is left behind.
    r_fd, w_fd = os.pipe()

    def stuck(s):
        select.select([r_fd], [], [], 10.0)

    try:
        r = racetrace.explore_dpor(State, [stuck], lambda s: True, deadlock_timeout=0.3, reproduce_on_failure=1)
    finally:
        os.write(w_fd, b"x")
        time.sleep(0.3)
        os.close(r_fd)
        os.close(w_fd)
    assert not r.exhausted
    text = "\n".join(r.limits)
    assert "T1 (thread-1)" in text, r.limits
    assert "deadlock_timeout" in text
    assert "test_explore_limits.py:" in text
    assert "select.select([r_fd], [], [], 10.0)" in text
    assert "select.select([r_fd], [], [], 10.0)" in r.explanation


def test_a_lock_held_outside_the_run_is_a_limit():
    outside = threading.Lock()

    def setup():
        s = State()
        s.outside = outside
        return s

    def brief(s):
        # Held by the test's thread: the acquire waits in C (briefly, for
        # real), where the scheduler cannot see.
        s.outside.acquire(timeout=0.05)

    outside.acquire()
    try:
        r = racetrace.explore_dpor(setup, [brief], lambda s: True, deadlock_timeout=2.0)
    finally:
        outside.release()
    assert r.property_holds
    assert not r.exhausted
    assert any("held by a thread outside the run" in text and "T1 (thread-1)" in text for text in r.limits), r.limits


async def _coroutine_worker(s):
    await asyncio.sleep(0)


@pytest.mark.parametrize("explore", [racetrace.explore_dpor, racetrace.explore_interleavings])
def test_async_def_and_plain_workers_mixed_run_as_tasks_and_threads(explore):
    seen = []

    def plain(s):
        seen.append(threading.current_thread().name)

    async def coroutine(s):
        await asyncio.sleep(0)
        seen.append(asyncio.current_task().get_name())

    bound = {"max_executions": 3} if explore is racetrace.explore_dpor else {"max_attempts": 3}
    assert explore(State, [plain, coroutine], lambda s: True, **bound).property_holds
    assert {"thread-1", "task-2"} <= set(seen), seen


def test_a_coroutine_object_is_refused_and_closed():
    coro = _coroutine_worker(State())
    with pytest.raises(TypeError, match=r"threads\[0\] is a coroutine object, not a function: pass the async def"):
        racetrace.explore_dpor(State, [coro], lambda s: True)
    # Closed: no "never awaited" warning, and it cannot run any more.
    assert coro.cr_frame is None


def test_a_thread_that_returns_a_coroutine_is_refused():
    with pytest.raises(TypeError, match="returned a coroutine"):
        racetrace.explore_dpor(State, [lambda s: _coroutine_worker(s)], lambda s: True)
