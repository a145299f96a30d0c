"""explore_dpor on real Python programs under real control.

Counts: for small programs, the number of Mazurkiewicz traces is computed
here independently, by brute force over every interleaving of the
programs' visible operations (two interleavings are equivalent when they
order every pair of conflicting operations the same way); the exploration
must run exactly that many executions and say it covered everything.
"""

from __future__ import annotations

import itertools
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
