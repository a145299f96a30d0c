"""Synchronization with its real semantics under explore_dpor, on real
programs: counting semaphores, tries (``acquire(blocking=False)``) and
timed waits, each a bug found and a safe counterpart explored to the end.

Counts: the number of Mazurkiewicz classes of each small program is
computed here by brute force over a model of its visible operations (a
semaphore counts and blocks at 0, a try takes the lock if free and fails
otherwise, a timed wait succeeds if what it waits for is there and times
out otherwise); exploring must run exactly that many executions.
"""

from __future__ import annotations

import threading

import pytest

import racetrace


class State:
    pass


# --------------------------------------------------------------------------
# The brute-force model.
#
# A thread is a list of operations: ("r", key), ("w", key), ("acq", lock),
# ("rel", lock), ("sacq", sem), ("srel", sem), ("set", event), and the
# operations whose outcome depends on the order: ("try", lock, then, else)
# (a try, or a timed acquire) and ("twait", event, then, else) (a timed
# wait), each followed by the operations of the outcome. A timed wait that
# finds the event cleared first looks ("look": it begins to wait), then
# either times out or, once the event is set, returns True.

# Operations that only look at what they wait for: they commute.
_LOOKS = {"failed", "wait", "timeout", "look"}


def _enabled(op, st):
    kind = op[0]
    if kind == "acq":
        return op[1] not in st["held"]
    if kind == "sacq":
        return st["sems"][op[1]] > 0
    return True


def _step(op, st):
    """Runs `op` on `st` (a copy); returns (event, follow-up operations)."""
    kind = op[0]
    if kind in ("r", "w"):
        return (kind, op[1]), []
    if kind == "acq":
        st["held"].add(op[1])
        return ("lock", op[1]), []
    if kind == "rel":
        st["held"].discard(op[1])
        return ("lock", op[1]), []
    if kind == "sacq":
        st["sems"][op[1]] -= 1
        return ("sem", op[1]), []
    if kind == "srel":
        st["sems"][op[1]] += 1
        return ("sem", op[1]), []
    if kind == "set":
        st["set"].add(op[1])
        return ("set", op[1]), []
    if kind == "try":
        if op[1] in st["held"]:
            return ("failed", op[1]), list(op[3])
        st["held"].add(op[1])
        return ("lock", op[1]), list(op[2])
    if kind == "twait":
        if op[1] in st["set"]:
            return ("wait", op[1]), list(op[2])
        return ("look", op[1]), [("waiting", *op[1:])]
    if kind == "waiting":
        if op[1] in st["set"]:
            return ("wait", op[1]), list(op[2])
        return ("timeout", op[1]), list(op[3])
    raise ValueError(op)


def _dependent(a, b):
    (ka, ta), (kb, tb) = a, b
    if ta != tb:
        return False
    if ka in ("r", "w") or kb in ("r", "w"):
        return ka in ("r", "w") and kb in ("r", "w") and "w" in (ka, kb)
    return not (ka in _LOOKS and kb in _LOOKS)


def _class(events):
    counts: dict[int, int] = {}
    tagged = []
    for t, e in events:
        tagged.append((t, counts.get(t, 0), e))
        counts[t] = counts.get(t, 0) + 1
    per_thread = tuple(sorted((t, n, e) for t, n, e in tagged))
    pairs = frozenset(
        ((t1, n1), (t2, n2))
        for i, (t1, n1, e1) in enumerate(tagged)
        for t2, n2, e2 in tagged[i + 1 :]
        if t1 != t2 and _dependent(e1, e2)
    )
    return per_thread, pairs


def mazurkiewicz_count(threads, sems=None):
    """Classes of the complete executions (every thread done or blocked)."""
    classes = set()

    def rec(progs, st, events):
        moves = [i for i, p in enumerate(progs) if p and _enabled(p[0], st)]
        if not moves:
            classes.add(_class(events))
            return
        for i in moves:
            nst = {"held": set(st["held"]), "sems": dict(st["sems"]), "set": set(st["set"])}
            ev, follow = _step(progs[i][0], nst)
            nprogs = list(progs)
            nprogs[i] = follow + progs[i][1:]
            rec(nprogs, nst, events + [(i, ev)])

    rec([list(t) for t in threads], {"held": set(), "sems": dict(sems or {}), "set": set()}, [])
    return len(classes)


def _explore(setup, threads, invariant=lambda _s: True, **kw):
    kw.setdefault("stop_on_first", False)
    kw.setdefault("reproduce_on_failure", 1)
    return racetrace.explore_dpor(setup, threads, invariant, **kw)


def _exact(r, expected):
    assert (r.num_explored, r.exhausted) == (expected, True), r.explanation
    assert (r.stats["sleep_blocked"], r.stats["infeasible"], r.stats["diverged"]) == (0, 0, 0)


# --------------------------------------------------------------------------
# Counting semaphores


def _sem_state(n):
    def setup():
        s = State()
        s.sem = threading.Semaphore(n)
        s.count = 0
        return s

    return setup


def _sem_incr(s):
    with s.sem:
        v = s.count
        s.count = v + 1


def test_semaphore_of_two_lets_two_threads_race_inside():
    r = racetrace.explore_dpor(_sem_state(2), [_sem_incr, _sem_incr], lambda s: s.count == 2)
    assert not r.property_holds, r.explanation
    assert r.failures[0].kind == "invariant violation"
    assert r.failures[0].reproduced == r.failures[0].replays == 10
    assert "lost update" in r.explanation
    # The steps name the semaphore both threads are inside.
    assert "sem-acquire S.sem" in r.explanation or "sem-acquire State.sem" in r.explanation, r.explanation
    assert "v = s.count" in r.explanation


def test_semaphore_of_one_protects_the_update():
    r = _explore(_sem_state(1), [_sem_incr, _sem_incr], lambda s: s.count == 2)
    assert r.property_holds, r.explanation
    section = [("sacq", "S"), ("r", "c"), ("w", "c"), ("srel", "S")]
    _exact(r, mazurkiewicz_count([section] * 2, {"S": 1}))
    assert "(all of them)" in r.explanation


@pytest.mark.parametrize(("value", "threads"), [(2, 2), (2, 3), (3, 3), (1, 3)])
def test_count_semaphore_sections(value, threads):
    r = _explore(_sem_state(value), [_sem_incr] * threads)
    section = [("sacq", "S"), ("r", "c"), ("w", "c"), ("srel", "S")]
    _exact(r, mazurkiewicz_count([section] * threads, {"S": value}))


def test_count_semaphore_signal():
    """A semaphore at 0 as a signal: the waiter goes only after a release."""

    def setup():
        s = State()
        s.sem = threading.Semaphore(0)
        s.x = 0
        return s

    def signaller(s):
        s.x = 1
        s.sem.release()

    def waiter(s):
        s.sem.acquire()
        return s.x

    r = _explore(setup, [signaller, waiter, waiter])
    # One release, two waiters: one of them is left blocked (a deadlock
    # class each way).
    model = [[("w", "x"), ("srel", "S")], [("sacq", "S"), ("r", "x")], [("sacq", "S"), ("r", "x")]]
    assert r.num_explored == mazurkiewicz_count(model, {"S": 0}) == 2
    assert all(f.kind == "deadlock" for f in r.failures)


def test_bounded_semaphore_over_release_raises_value_error():
    def setup():
        s = State()
        s.sem = threading.BoundedSemaphore(1)
        return s

    def over(s):
        s.sem.acquire()
        s.sem.release()
        s.sem.release()

    r = racetrace.explore_dpor(setup, [over], lambda s: True)
    assert not r.property_holds
    f = r.failures[0]
    assert f.kind == "exception in an actor"
    assert "ValueError: Semaphore released too many times" in f.message
    # The same as without racetrace, plainly.
    with pytest.raises(ValueError, match="Semaphore released too many times"):
        racetrace.run(lambda: over(setup()))


def test_semaphore_try_and_timed_acquire_give_up_at_zero():
    def setup():
        s = State()
        s.sem = threading.Semaphore(1)
        s.count = 0
        s.skipped = 0
        return s

    def holder(s):
        with s.sem:
            s.count += 1

    def trier(s):
        if s.sem.acquire(timeout=0.5):
            s.count += 1
            s.sem.release()
        else:
            s.skipped += 1

    r = _explore(setup, [holder, trier], lambda s: s.count + s.skipped == 2)
    assert r.property_holds and r.exhausted, r.explanation
    model = [
        [("sacq", "S"), ("r", "c"), ("w", "c"), ("srel", "S")],
        [("try", "S", [("r", "c"), ("w", "c"), ("srel", "S")], [("r", "k"), ("w", "k")])],
    ]
    # A timed semaphore acquire is modelled as a try on the semaphore.
    assert r.num_explored == _sem_try_count(model)
    # The timeout was explored: some execution skipped.
    r2 = racetrace.explore_dpor(setup, [holder, trier], lambda s: s.skipped == 0)
    assert not r2.property_holds, "the timeout was never explored"
    assert "sem-acquire-failed" in r2.explanation


def _sem_try_count(model):
    """The model above with the try on a semaphore of 1 (as a lock)."""
    lockish = [[("acq", "S") if op == ("sacq", "S") else ("rel", "S") if op == ("srel", "S") else op for op in t]
               for t in model]
    lockish[1] = [("try", "S", [("r", "c"), ("w", "c"), ("rel", "S")], [("r", "k"), ("w", "k")])]
    return mazurkiewicz_count(lockish)


# --------------------------------------------------------------------------
# Tries: lock.acquire(blocking=False)


def _lock_state():
    s = State()
    s.lock = threading.Lock()
    s.count = 0
    s.skipped = 0
    return s


def _holder(s):
    with s.lock:
        s.count += 1


def _try_then_update_anyway(s):
    if s.lock.acquire(blocking=False):
        try:
            s.count += 1
        finally:
            s.lock.release()
    else:
        s.count += 1  # the bug: the fallback updates without the lock


def _try_then_skip(s):
    if s.lock.acquire(blocking=False):
        try:
            s.count += 1
        finally:
            s.lock.release()
    else:
        s.skipped += 1


_HOLDER = [("acq", "L"), ("r", "c"), ("w", "c"), ("rel", "L")]


def test_failed_try_acquire_with_unlocked_fallback_is_found():
    r = racetrace.explore_dpor(_lock_state, [_holder, _try_then_update_anyway], lambda s: s.count == 2)
    assert not r.property_holds, r.explanation
    assert "lost update" in r.explanation
    assert "acquire-failed S" in r.explanation or "acquire-failed State" in r.explanation, r.explanation
    assert "gave up" in r.explanation
    assert r.failures[0].reproduced == r.failures[0].replays


def test_try_acquire_with_correct_fallback_is_safe_and_exact():
    r = _explore(_lock_state, [_holder, _try_then_skip], lambda s: s.count + s.skipped == 2)
    assert r.property_holds, r.explanation
    trier = [("try", "L", [("r", "c"), ("w", "c"), ("rel", "L")], [("r", "k"), ("w", "k")])]
    _exact(r, mazurkiewicz_count([_HOLDER, trier]))


def test_count_two_tries():
    r = _explore(_lock_state, [_try_then_skip, _try_then_skip])
    trier = [("try", "L", [("r", "c"), ("w", "c"), ("rel", "L")], [("r", "k"), ("w", "k")])]
    _exact(r, mazurkiewicz_count([trier, trier]))


# --------------------------------------------------------------------------
# Timed waits


def _timed_then_update_anyway(s):
    if s.lock.acquire(timeout=1.0):
        try:
            s.count += 1
        finally:
            s.lock.release()
    else:
        s.count += 1  # gave up waiting: updates without the lock


def _timed_then_skip(s):
    if s.lock.acquire(timeout=1.0):
        try:
            s.count += 1
        finally:
            s.lock.release()
    else:
        s.skipped += 1


def test_timed_acquire_that_gives_up_is_found():
    r = racetrace.explore_dpor(_lock_state, [_holder, _timed_then_update_anyway], lambda s: s.count == 2)
    assert not r.property_holds, r.explanation
    assert "lost update" in r.explanation
    assert "acquire(timeout=1.0)" in r.explanation
    assert "timed out" in r.explanation


def test_timed_acquire_with_correct_fallback_is_safe_and_exact():
    r = _explore(_lock_state, [_holder, _timed_then_skip], lambda s: s.count + s.skipped == 2)
    assert r.property_holds, r.explanation
    timed = [("try", "L", [("r", "c"), ("w", "c"), ("rel", "L")], [("r", "k"), ("w", "k")])]
    _exact(r, mazurkiewicz_count([_HOLDER, timed]))


def test_timeouts_can_be_left_unexplored():
    r = _explore(_lock_state, [_holder, _timed_then_update_anyway], lambda s: s.count == 2, explore_timeouts=False)
    # Without timeouts the lock is always had: no failure, fewer executions,
    # and the result says what it left out.
    assert r.property_holds
    assert not r.exhausted
    assert any("explore_timeouts=False" in text for text in r.limits), r.limits
    assert "explore_timeouts=False" in r.explanation
    full = _explore(_lock_state, [_holder, _timed_then_skip], lambda s: True)
    assert r.num_explored < full.num_explored
    # A program without timed waits loses nothing.
    plain = _explore(_lock_state, [_holder, _holder], lambda s: s.count == 2, explore_timeouts=False)
    assert plain.exhausted and not plain.limits


def test_count_timed_event_wait():
    def setup():
        s = State()
        s.ev = threading.Event()
        s.x = 0
        s.y = 0
        return s

    def setter(s):
        s.x = 1
        s.ev.set()

    def waiter(s):
        if s.ev.wait(0.5):
            return s.x
        s.y = 1
        return None

    r = _explore(setup, [setter, waiter])
    model = [[("w", "x"), ("set", "E")], [("twait", "E", [("r", "x")], [("w", "y")])]]
    _exact(r, mazurkiewicz_count(model))
    timed_out = racetrace.explore_dpor(setup, [setter, waiter], lambda s: s.y == 0)
    assert not timed_out.property_holds
    assert "event-wait-timeout" in timed_out.explanation
