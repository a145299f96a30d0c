"""explore_dpor on real Python programs under real control.

Counts: for small programs, the number of Mazurkiewicz traces is computed
here independently, by brute force over every interleaving of the
programs' visible operations (two interleavings are equivalent when they
order every pair of conflicting operations the same way); the exploration
must run exactly that many executions and say it covered everything.
"""

from __future__ import annotations

import queue
import threading
import time

import pytest

import racetrace


class State:
    pass


def _interleavings(threads):
    """Every interleaving of the threads' operation lists, as (thread, op)."""
    n = [len(t) for t in threads]
    total = sum(n)

    def rec(pos, acc):
        if len(acc) == total:
            yield list(acc)
            return
        for i, t in enumerate(threads):
            if pos[i] < n[i]:
                acc.append((i, t[pos[i]]))
                pos[i] += 1
                yield from rec(pos, acc)
                pos[i] -= 1
                acc.pop()

    yield from rec([0] * len(threads), [])


def mazurkiewicz_count(threads):
    """Number of classes of interleavings of `threads` (lists of
    (key, is_write)) up to swapping adjacent independent operations: the
    class is fixed by the order of every conflicting pair (same key, one
    write, different threads)."""
    classes = set()
    for order in _interleavings(threads):
        tagged = []
        seen = [0] * len(threads)
        for t, op in order:
            tagged.append((t, seen[t], op))
            seen[t] += 1
        sig = []
        for i, (t1, k1, (key1, w1)) in enumerate(tagged):
            for t2, k2, (key2, w2) in tagged[i + 1 :]:
                if t1 != t2 and key1 == key2 and (w1 or w2):
                    sig.append(((t1, k1), (t2, k2)))
        classes.add(frozenset(sig))
    return len(classes)


def _always(_s):
    return True


def _explore(setup, threads, invariant=_always, **kw):
    kw.setdefault("stop_on_first", False)
    return racetrace.explore_dpor(setup, threads, invariant, **kw)


# --------------------------------------------------------------------------
# Counts


def _fresh():
    s = State()
    s.x = 0
    s.cells = [0, 0, 0, 0]
    return s


@pytest.mark.parametrize("n", [2, 3, 4])
def test_count_own_attributes(n):
    def writer(i):
        def f(s):
            setattr(s, f"own{i}", i)

        return f

    expected = mazurkiewicz_count([[(f"own{i}", True)] for i in range(n)])
    assert expected == 1
    r = _explore(_fresh, [writer(i) for i in range(n)])
    assert (r.num_explored, r.exhausted) == (expected, True)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_count_readers_of_one_attribute(n):
    def reader(s):
        return s.x

    expected = mazurkiewicz_count([[("x", False)] for _ in range(n)])
    assert expected == 1
    r = _explore(_fresh, [reader] * n)
    assert (r.num_explored, r.exhausted) == (expected, True)


def test_count_read_then_write():
    def rw(s):
        v = s.x
        s.x = v + 1

    expected = mazurkiewicz_count([[("x", False), ("x", True)]] * 2)
    r = _explore(_fresh, [rw, rw])
    assert (r.num_explored, r.exhausted) == (expected, True)
    assert expected == 4
    # No redundant, infeasible or diverged execution.
    assert (r.stats["sleep_blocked"], r.stats["infeasible"], r.stats["diverged"]) == (0, 0, 0)


@pytest.mark.parametrize("writers", [1, 2, 3])
def test_count_writers_and_one_reader(writers):
    def writer(s):
        s.x = 1

    def reader(s):
        return s.x

    model = [[("x", True)]] * writers + [[("x", False)]]
    expected = mazurkiewicz_count(model)
    r = _explore(_fresh, [writer] * writers + [reader])
    assert (r.num_explored, r.exhausted) == (expected, True)


def test_count_scan_of_cells_written_by_others():
    def writer(i):
        def f(s):
            s.cells[i] = 1

        return f

    def scan(s):
        total = 0
        for i in range(3):
            total += s.cells[i]
        return total

    model = [[(("c", i), True)] for i in range(3)] + [[(("c", i), False) for i in range(3)]]
    # The scanner reads the list object (to subscript it) as well: reads
    # commute with each other, so only the cell accesses count.
    expected = mazurkiewicz_count(model)
    assert expected == 8
    r = _explore(_fresh, [writer(0), writer(1), writer(2), scan])
    assert (r.num_explored, r.exhausted) == (expected, True)


# --------------------------------------------------------------------------
# Finds


def _fails(r, kind=None):
    assert not r.property_holds, r.explanation
    assert r.failures
    f = r.failures[0]
    if kind is not None:
        assert f.kind == kind, r.explanation
    assert f.schedule.startswith("rts1:")
    return f


def _counter():
    s = State()
    s.count = 0
    return s


def _incr(s):
    v = s.count
    s.count = v + 1


@pytest.mark.parametrize("n", [2, 3])
def test_finds_lost_update(n):
    r = racetrace.explore_dpor(_counter, [_incr] * n, lambda s: s.count == n)
    f = _fails(r, "invariant violation")
    assert f.reproduced == f.replays == 10
    assert f.trace is not None
    assert "lost update" in r.explanation
    assert "s.count = v + 1" in r.explanation


def test_finds_check_then_act_on_dict():
    def setup():
        s = State()
        s.d = {}
        s.created = 0
        return s

    def put(s):
        if "k" not in s.d:
            s.d["k"] = 1
            s.created += 1

    r = racetrace.explore_dpor(setup, [put, put], lambda s: s.created == 1)
    _fails(r, "invariant violation")


def test_finds_lazy_init_without_recheck():
    def setup():
        s = State()
        s.lock = threading.Lock()
        s.instance = None
        s.inits = 0
        return s

    def get(s):
        if s.instance is None:
            with s.lock:
                s.inits += 1
                s.instance = object()
        return s.instance

    r = racetrace.explore_dpor(setup, [get, get], lambda s: s.inits == 1)
    _fails(r, "invariant violation")


def test_finds_closure_race():
    def setup():
        box = {"n": 0}
        count = 0

        def bump():
            nonlocal count
            c = count
            count = c + 1

        def value():
            return count

        box["bump"], box["value"] = bump, value
        return box

    r = racetrace.explore_dpor(
        setup, [lambda b: b["bump"](), lambda b: b["bump"]()], lambda b: b["value"]() == 2
    )
    _fails(r, "invariant violation")


GLOBAL_TOTAL = 0


def test_finds_global_race():
    def setup():
        global GLOBAL_TOTAL
        GLOBAL_TOTAL = 0
        return None

    def add(_s):
        global GLOBAL_TOTAL
        t = GLOBAL_TOTAL
        GLOBAL_TOTAL = t + 1

    r = racetrace.explore_dpor(setup, [add, add], lambda _s: GLOBAL_TOTAL == 2)
    _fails(r, "invariant violation")


def test_finds_race_with_grandchild():
    def child(s):
        g = threading.Thread(target=_incr, args=(s,))
        g.start()
        _incr(s)
        g.join()

    r = racetrace.explore_dpor(_counter, [child, _incr], lambda s: s.count == 3)
    _fails(r, "invariant violation")


def test_finds_bug_needing_three_preemptions():
    # Fails only if B's three steps each land between A's: A must be
    # preempted three times.
    def setup():
        s = State()
        s.x = 0
        s.seen = []
        return s

    def a(s):
        s.x = 1
        s.seen.append(s.y if hasattr(s, "y") else 0)
        s.x = 2
        s.x = 3

    def b(s):
        r1 = s.x
        r2 = s.x
        r3 = s.x
        s.order = (r1, r2, r3)

    r = racetrace.explore_dpor(setup, [a, b], lambda s: s.order != (1, 2, 3))
    f = _fails(r, "invariant violation")
    assert f.reproduced == f.replays


def test_finds_aba_stale_read():
    def setup():
        s = State()
        s.top = "A"
        s.version = 0
        s.ok = True
        return s

    def popper(s):
        seen = s.top
        # Compare-and-set by value only: blind to A -> B -> A.
        if s.top == seen:
            s.top = "C"
            if s.version != 0:
                s.ok = False

    def changer(s):
        s.top = "B"
        s.version += 1
        s.top = "A"
        s.version += 1

    r = racetrace.explore_dpor(setup, [popper, changer], lambda s: s.ok)
    _fails(r, "invariant violation")


def test_finds_lock_order_deadlock():
    def setup():
        s = State()
        s.a, s.b = threading.Lock(), threading.Lock()
        return s

    def ab(s):
        with s.a:
            with s.b:
                pass

    def ba(s):
        with s.b:
            with s.a:
                pass

    t0 = time.monotonic()
    r = racetrace.explore_dpor(setup, [ab, ba], _always)
    assert time.monotonic() - t0 < 5.0
    _fails(r, "deadlock")
    assert "deadlock cycle" in r.explanation


def test_finds_missed_event_signal():
    # The setter signals only if the waiter said it is waiting: when it
    # looks too early, the signal is never sent and the waiter waits forever.
    def setup():
        s = State()
        s.waiting = False
        s.ev = threading.Event()
        return s

    def waiter(s):
        s.waiting = True
        s.ev.wait()

    def setter(s):
        if s.waiting:
            s.ev.set()

    r = racetrace.explore_dpor(setup, [waiter, setter], _always)
    _fails(r, "deadlock")
    assert "missed signal" in r.explanation
    assert "ev.wait()" in r.explanation or "event" in r.explanation


def test_collects_every_failing_class_when_asked():
    r = racetrace.explore_dpor(_counter, [_incr, _incr], lambda s: s.count == 2, stop_on_first=False)
    assert r.exhausted and r.num_explored == 4
    # Of the 4 classes, the two where both read before either writes lose
    # an update (in either order of the writes).
    assert len(r.failures) == 2
    assert all(f.reproduced == f.replays == 10 for f in r.failures)


# --------------------------------------------------------------------------
# Safe programs: no false alarm, no hang, exhausted


def _safe(setup, threads, invariant):
    r = racetrace.explore_dpor(setup, threads, invariant, total_timeout=60)
    assert r.property_holds, r.explanation
    assert r.exhausted, r.explanation
    assert r.num_explored >= 1
    assert "no failure" in r.explanation
    # No execution wasted or lost: none redundant, none that could not
    # follow its schedule (a sign of a class missed).
    assert (r.stats["sleep_blocked"], r.stats["infeasible"], r.stats["diverged"]) == (0, 0, 0), r.stats
    return r


def test_safe_locked_counter():
    def setup():
        s = _counter()
        s.lock = threading.Lock()
        return s

    def incr(s):
        with s.lock:
            s.count += 1

    r = _safe(setup, [incr] * 3, lambda s: s.count == 3)
    # Three critical sections in every order, nothing else.
    assert r.num_explored == 6


def test_safe_two_locks_consistent_order():
    def setup():
        s = _counter()
        s.a, s.b = threading.Lock(), threading.Lock()
        return s

    def both(s):
        with s.a:
            with s.b:
                s.count += 1

    _safe(setup, [both, both], lambda s: s.count == 2)


def test_safe_queue_handoff():
    def setup():
        s = State()
        s.q = queue.Queue()
        s.got = []
        return s

    def producer(s):
        for i in range(2):
            s.q.put(i)

    def consumer(s):
        for _ in range(2):
            s.got.append(s.q.get())

    _safe(setup, [producer, consumer], lambda s: s.got == [0, 1])


def test_safe_condition_producer_consumer():
    def setup():
        s = State()
        s.cond = threading.Condition()
        s.items = []
        s.got = []
        return s

    def producer(s):
        for i in range(3):
            with s.cond:
                s.items.append(i)
                s.cond.notify()

    def consumer(s):
        for _ in range(3):
            with s.cond:
                while not s.items:
                    s.cond.wait()
                s.got.append(s.items.pop(0))

    _safe(setup, [producer, consumer], lambda s: s.got == [0, 1, 2])


def test_safe_barrier_exchange():
    def setup():
        s = State()
        s.barrier = threading.Barrier(2)
        s.slots = [None, None]
        s.seen = [None, None]
        return s

    def party(i):
        def f(s):
            s.slots[i] = i + 10
            s.barrier.wait()
            s.seen[i] = s.slots[1 - i]

        return f

    _safe(setup, [party(0), party(1)], lambda s: s.seen == [11, 10])


def test_safe_double_checked_init():
    def setup():
        s = State()
        s.lock = threading.Lock()
        s.instance = None
        s.inits = 0
        return s

    def get(s):
        if s.instance is None:
            with s.lock:
                if s.instance is None:
                    s.inits += 1
                    s.instance = object()
        return s.instance

    _safe(setup, [get, get], lambda s: s.inits == 1)


# --------------------------------------------------------------------------
# The offline backtrack command, bad input, budgets, progress


def test_backtrack_cli_prints_the_prefixes_to_explore(racetrace, tmp_path):
    import racetrace as rt

    r = rt.explore_dpor(_counter, [_incr, _incr], lambda s: s.count == 2)
    trace = r.failures[0].trace
    out = racetrace("backtrack", trace)
    assert out.code == 0, out.stderr
    assert "reversible race" in out.stdout
    assert "explore: rts1:" in out.stdout
    js = racetrace("backtrack", "--json", trace)
    import json

    points = json.loads(js.stdout)["backtrack_points"]
    assert points and all(p["prefix"].startswith("rts1:") for p in points)
    bad = racetrace("backtrack", tmp_path / "missing.rtt")
    assert bad.code == 2 and "error:" in bad.stderr


@pytest.mark.parametrize(
    "threads, message",
    [
        ([], "threads is empty"),
        ([1, 2], "threads[0] must be callable"),
        (_incr, "threads must be a sequence"),
    ],
)
def test_bad_threads_are_named(threads, message):
    with pytest.raises((TypeError, ValueError), match=re_escape(message)):
        racetrace.explore_dpor(_counter, threads, _always)


def re_escape(s):
    import re

    return re.escape(s)


def test_bad_setup_and_invariant_are_named():
    with pytest.raises(TypeError, match="setup must be callable"):
        racetrace.explore_dpor(42, [_incr], _always)
    with pytest.raises(TypeError, match="invariant must be callable"):
        racetrace.explore_dpor(_counter, [_incr], None)

    def broken_setup():
        raise KeyError("nope")

    with pytest.raises(RuntimeError, match="setup raised KeyError"):
        racetrace.explore_dpor(broken_setup, [_incr], _always)
    with pytest.raises(TypeError, match="invariant must return a bool"):
        racetrace.explore_dpor(_counter, [_incr], lambda s: s.count)


def test_invariant_raising_is_a_failure_with_traceback():
    def inv(s):
        return 1 / (s.count - 2) > 0 or True

    r = racetrace.explore_dpor(_counter, [_incr, _incr], inv)
    f = _fails(r, "invariant violation")
    assert "ZeroDivisionError" in f.message and "Traceback" in f.message


def test_exception_in_an_actor_is_a_failure():
    def boom(s):
        if s.count == 1:
            raise ValueError("saw one")

    r = racetrace.explore_dpor(_counter, [_incr, boom], _always)
    f = _fails(r, "exception in an actor")
    assert "ValueError: saw one" in f.message


def test_progress_is_reported_and_can_stop_the_exploration():
    calls = []

    def progress(done, total):
        calls.append((done, total))

    r = racetrace.explore_dpor(_counter, [_incr] * 3, lambda s: True, on_progress=progress)
    assert r.exhausted
    assert [c[0] for c in calls] == list(range(1, r.num_explored + 1))
    assert all(total >= done for done, total in calls)
    assert calls[-1][1] == r.num_explored

    def stop(done, _total):
        if done == 2:
            raise RuntimeError("enough")

    r = racetrace.explore_dpor(_counter, [_incr] * 3, lambda s: True, on_progress=stop)
    assert r.num_explored == 2 and not r.exhausted and r.partial
    assert "on_progress raised RuntimeError: enough" in r.stopped_because
    assert "partial" in r.explanation


def test_budgets_give_a_partial_result_that_says_so():
    r = racetrace.explore_dpor(_counter, [_incr] * 3, lambda s: True, max_executions=3)
    assert (r.num_explored, r.exhausted) == (3, False)
    assert "max_executions" in r.explanation and "partial" in r.explanation
    r = racetrace.explore_dpor(_counter, [_incr] * 3, lambda s: True, total_timeout=0.0)
    assert not r.exhausted and "total_timeout" in r.stopped_because
    r = racetrace.explore_dpor(_counter, [_incr] * 3, lambda s: True, preemption_bound=0)
    assert r.property_holds and not r.exhausted
    assert "preemption_bound" in r.stopped_because


def test_readme_example():
    class Counter:
        def __init__(self):
            self.value = 0

    def increment(c):
        v = c.value
        c.value = v + 1

    result = racetrace.explore_dpor(Counter, [increment, increment], lambda c: c.value == 2)
    assert not result.property_holds
    assert "lost update" in result.explanation and "reproduced 10/10" in result.explanation
    failure = result.failures[0]
    assert failure.kind == "invariant violation" and failure.trace
