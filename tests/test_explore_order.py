"""explore_dpor explores the orders in which operations really happen:
items a queue holds before the threads start, a get that could take an
item before or after a put, a timer that fires before it is cancelled.
Each program's outcomes are compared with the ones that can happen,
worked out by hand."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import racetrace
from record_helpers import cli


class State:
    pass


def _outcomes(setup, threads, outcome) -> set:
    seen: set = set()

    def invariant(s) -> bool:
        seen.add(outcome(s))
        return True

    r = racetrace.explore_dpor(setup, threads, invariant, stop_on_first=False, reproduce_on_failure=1)
    assert r.exhausted and not r.failures and not r.limits, r.explanation
    return seen


def test_items_put_in_setup_are_taken_in_either_order():
    def setup():
        s = State()
        s.q = queue.Queue()
        s.q.put("setup")
        s.got = {}
        return s

    def taker(name):
        def take(s):
            try:
                s.got[name] = s.q.get_nowait()
            except queue.Empty:
                s.got[name] = None

        return take

    seen = _outcomes(setup, [taker("a"), taker("b")], lambda s: tuple(sorted(s.got.items())))
    assert seen == {(("a", "setup"), ("b", None)), (("a", None), ("b", "setup"))}


def test_a_get_may_go_before_a_put_when_an_item_was_there():
    # LIFO: a get before the put takes the item put in setup, one after
    # takes the new one.
    def setup():
        s = State()
        s.q = queue.LifoQueue()
        s.q.put("old")
        return s

    def putter(s):
        s.q.put("new")

    def getter(s):
        s.got = s.q.get()

    assert _outcomes(setup, [putter, getter], lambda s: s.got) == {"old", "new"}


def test_a_consumer_that_comes_after_the_put_may_take_the_item_of_a_woken_waiter():
    def setup():
        s = State()
        s.q = queue.Queue()
        s.got = []
        return s

    def putter(s):
        s.q.put(1)

    def waiter(s):
        try:
            s.got.append(("waiter", s.q.get(timeout=0.5)))
        except queue.Empty:
            s.got.append(("waiter", None))

    def late(s):
        try:
            s.got.append(("late", s.q.get_nowait()))
        except queue.Empty:
            s.got.append(("late", None))

    # (The waiter may also time out before the put, and the late one come
    # before it: the item is then left in the queue.)
    seen = _outcomes(setup, [putter, waiter, late], lambda s: tuple(sorted(s.got)))
    assert seen == {
        (("late", 1), ("waiter", None)),
        (("late", None), ("waiter", 1)),
        (("late", None), ("waiter", None)),
    }


def test_a_timer_may_fire_before_it_is_cancelled():
    def setup():
        s = State()
        s.fired = 0
        return s

    def fire(s):
        s.fired += 1

    def start_and_cancel(s):
        t = threading.Timer(0.5, fire, args=(s,))
        t.start()
        t.cancel()
        t.join()

    assert _outcomes(setup, [start_and_cancel], lambda s: s.fired) == {0, 1}


def test_a_recording_matches_the_gets_of_items_put_before_it(tmp_path: Path):
    jobs: queue.Queue[int] = queue.Queue()
    jobs.put(1)

    def consumer() -> None:
        jobs.get()

    trace = tmp_path / "setup_items.rtrace"
    with racetrace.record(str(trace)):
        t = threading.Thread(target=consumer)
        t.start()
        t.join()
    proc = cli("graph", "-f", "perfetto", trace)
    assert proc.returncode == 0, proc.stderr
    names = {e.get("name", "") for e in json.loads(proc.stdout)["traceEvents"]}
    assert "get jobs" in names, sorted(names)
