"""A timed wait may time out whenever it is blocked: explored as an
alternative for every primitive with a timeout (never by real time), by
explore_dpor and, now and then, by the randomized strategies."""

from __future__ import annotations

import queue
import threading

import pytest

import racetrace


class State:
    pass


def _cond_state():
    s = State()
    s.cond = threading.Condition()
    s.ready = False
    s.saw = None
    return s


def _cond_waiter(s):
    with s.cond:
        if not s.ready:
            s.cond.wait(0.5)
        s.saw = s.ready  # assumes the wait ended by a notify


def _cond_notifier(s):
    with s.cond:
        s.ready = True
        s.cond.notify()


def test_condition_wait_that_times_out_is_found():
    r = racetrace.explore_dpor(_cond_state, [_cond_waiter, _cond_notifier], lambda s: s.saw is True)
    assert not r.property_holds, r.explanation
    off = racetrace.explore_dpor(
        _cond_state, [_cond_waiter, _cond_notifier], lambda s: s.saw is True, explore_timeouts=False
    )
    assert off.property_holds, off.explanation


def test_queue_get_that_times_out_is_found():
    def setup():
        s = State()
        s.q = queue.Queue()
        return s

    def producer(s):
        s.q.put("job")

    def consumer(s):
        s.job = s.q.get(timeout=0.5)  # raises Empty if the producer is late

    r = racetrace.explore_dpor(setup, [producer, consumer], lambda s: True)
    assert not r.property_holds, r.explanation
    f = r.failures[0]
    assert f.kind == "exception in an actor"
    assert "Empty" in f.message
    assert "found the queue" in r.explanation and "empty and gave up" in r.explanation


def test_queue_put_on_a_full_queue_that_times_out_is_found():
    def setup():
        s = State()
        s.q = queue.Queue(maxsize=1)
        return s

    def consumer(s):
        s.q.get()

    def producer(s):
        s.q.put("old")
        s.q.put("new", timeout=0.5)  # raises Full if the consumer is late

    # The put on the full queue is recorded when it has put its item (or
    # gave up), so whether it times out is a choice like any other.
    r = racetrace.explore_dpor(setup, [consumer, producer], lambda s: True)
    assert not r.property_holds, r.explanation
    assert r.failures[0].kind == "exception in an actor"
    assert "Full" in r.failures[0].message
    everything = racetrace.explore_dpor(setup, [consumer, producer], lambda s: True, stop_on_first=False)
    assert everything.exhausted and everything.limits == []
    assert len(everything.failures) < everything.num_explored


def test_join_that_times_out_is_found():
    def setup():
        s = State()
        s.done = False
        s.after_join = None
        return s

    def child(s):
        s.done = True

    def parent(s):
        t = threading.Thread(target=child, args=(s,))
        t.start()
        t.join(0.5)
        s.after_join = s.done  # assumes the join saw the child finish

    r = racetrace.explore_dpor(setup, [parent], lambda s: s.after_join is True)
    assert not r.property_holds, r.explanation
    assert "timed out waiting for" in r.explanation


def test_barrier_wait_that_times_out_is_found():
    def setup():
        s = State()
        s.barrier = threading.Barrier(2)
        return s

    def early(s):
        s.barrier.wait(timeout=0.5)

    def late(s):
        s.barrier.wait()

    r = racetrace.explore_dpor(setup, [early, late], lambda s: True)
    assert not r.property_holds, r.explanation
    assert "BrokenBarrierError" in r.failures[0].message


def test_safe_timed_waits_with_a_fallback_are_exhausted():
    def setup():
        s = State()
        s.q = queue.Queue()
        s.ev = threading.Event()
        s.results = []
        return s

    def producer(s):
        s.q.put(1)
        s.ev.set()

    def consumer(s):
        try:
            s.results.append(s.q.get(timeout=0.5))
        except queue.Empty:
            s.results.append(None)
        s.ev.wait(0.5)

    r = racetrace.explore_dpor(setup, [producer, consumer], lambda s: s.results in ([1], [None]))
    assert r.property_holds and r.exhausted, r.explanation
    assert not r.limits


# --------------------------------------------------------------------------
# Randomized exploration picks timeouts and failed tries too


def _lock_state():
    s = State()
    s.lock = threading.Lock()
    s.count = 0
    return s


def _holder(s):
    with s.lock:
        s.count += 1


def _timed(s):
    if s.lock.acquire(timeout=1.0):
        try:
            s.count += 1
        finally:
            s.lock.release()
    else:
        s.count += 1


def _trier(s):
    if s.lock.acquire(blocking=False):
        try:
            s.count += 1
        finally:
            s.lock.release()
    else:
        s.count += 1


def _sem_state():
    s = State()
    s.sem = threading.Semaphore(2)
    s.count = 0
    return s


def _sem_incr(s):
    with s.sem:
        v = s.count
        s.count = v + 1


@pytest.mark.parametrize("strategy", ["pct", "random"])
@pytest.mark.parametrize(
    ("setup", "threads", "word"),
    [
        (_lock_state, [_holder, _timed], "acquire-failed"),
        (_lock_state, [_holder, _trier], "acquire-failed"),
        (_sem_state, [_sem_incr, _sem_incr], "sem-acquire"),
    ],
    ids=["timeout", "try", "semaphore"],
)
def test_randomized_exploration_finds_them(strategy, setup, threads, word):
    r = racetrace.explore_interleavings(
        setup, threads, lambda s: s.count == 2, strategy=strategy, seed=1, max_attempts=300, reproduce_on_failure=2
    )
    assert not r.property_holds, r.explanation
    assert word in r.explanation


def test_randomized_exploration_can_leave_timeouts_alone():
    r = racetrace.explore_interleavings(
        _lock_state, [_holder, _timed], lambda s: s.count == 2, strategy="random", seed=1, max_attempts=100,
        explore_timeouts=False,
    )
    assert r.property_holds
    assert any("explore_timeouts=False" in text for text in r.limits), r.limits
