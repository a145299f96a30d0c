"""Every effect of a Python operation is visible: container protocols run
in C (truth tests, iteration steps, comparisons), the builtin containers'
methods, calls into code that is not traced, and threads made by library
code (thread pools, timers) are seen by recordings and explored by
explore_dpor. Real programs, the real recorder and explorer."""

from __future__ import annotations

import collections
import concurrent.futures
import heapq
import random
import threading
from pathlib import Path

import pytest

import racetrace
from racetrace import tables
from racetrace.results import EXCEPTION
from record_helpers import PROGRAMS, line_of, race_lines, races, record


class State:
    pass


def _explore(setup, threads, invariant=lambda _s: True, **kw):
    kw.setdefault("stop_on_first", True)
    return racetrace.explore_dpor(setup, threads, invariant, **kw)


def _no_failure(r) -> None:
    assert r.property_holds, r.explanation
    assert r.exhausted, r.explanation
    assert r.explanation.startswith("no failure: explored")


def _steps_text(r) -> str:
    """The "steps that matter" part of the first failure's explanation."""
    assert not r.property_holds, r.explanation
    text = r.explanation
    assert "the steps that matter:" in text, text
    return text.split("the steps that matter:", 1)[1]


# --------------------------------------------------------------------------
# Truth test, then pop: `if q:` reads the deque.


def _one_job():
    s = State()
    s.q = collections.deque([1])
    s.done = []
    return s


def _check_then_pop(s):
    if s.q:
        s.done.append(s.q.popleft())


def _locked_check_then_pop(s):
    with s.lock:
        if s.q:
            s.done.append(s.q.popleft())


def test_check_then_pop_on_a_deque_is_found_with_the_check_and_the_pop():
    r = _explore(_one_job, [_check_then_pop, _check_then_pop])
    f = r.failures[0]
    assert f.kind == EXCEPTION, r.explanation
    assert "IndexError: pop from an empty deque" in r.explanation
    steps = _steps_text(r)
    assert "read State.q (whole)" in steps and "if s.q:" in steps
    assert "write State.q (whole)" in steps and "s.q.popleft()" in steps
    assert f.reproduced == f.replays


def test_check_then_pop_under_a_lock_is_exhausted_without_failure():
    def setup():
        s = _one_job()
        s.lock = threading.Lock()
        return s

    r = _explore(setup, [_locked_check_then_pop, _locked_check_then_pop], lambda s: len(s.done) == 1)
    _no_failure(r)


def test_len_and_not_on_a_deque_are_reads_too():
    def consumer(s):
        if len(s.q) > 0 and s.q:
            s.done.append(s.q.pop())

    r = _explore(_one_job, [consumer, consumer])
    assert "IndexError" in r.explanation, r.explanation


# --------------------------------------------------------------------------
# Iteration steps: an insert between two steps.


def _table():
    s = State()
    s.d = {1: 1, 2: 2}
    return s


def _iterate(s):
    for _k in s.d:
        pass


def _insert(s):
    s.d[3] = 3


def test_insert_during_iteration_is_found_with_the_iteration_step_and_the_insert():
    r = _explore(_table, [_iterate, _insert])
    assert "RuntimeError: dictionary changed size during iteration" in r.explanation
    steps = _steps_text(r)
    assert "read State.d (whole)" in steps and "for _k in s.d:" in steps
    assert "write State.d[3]" in steps and "s.d[3] = 3" in steps


def test_iterating_a_snapshot_is_exhausted_without_failure():
    def iterate_copy(s):
        for _k in list(s.d):
            pass

    r = _explore(_table, [iterate_copy, _insert])
    _no_failure(r)


@pytest.mark.parametrize(
    "loop",
    [
        lambda s: [k for k in s.d.items()],
        lambda s: [i for i, _k in enumerate(s.d)],
        lambda s: [k for k, _v in zip(s.d, range(5), strict=False)],
        lambda s: [x for x in map(str, s.d.keys())],
    ],
    ids=["items", "enumerate", "zip", "map-of-keys"],
)
def test_iteration_through_views_and_wrappers_steps_the_dict(loop):
    r = _explore(_table, [loop, _insert])
    assert "dictionary changed size during iteration" in r.explanation, r.explanation


def test_list_equality_reads_both_lists():
    def setup():
        s = State()
        s.a, s.b, s.same = [1], [1], []
        return s

    def compare(s):
        s.same.append(s.a == s.b)

    def change(s):
        s.b.append(2)

    r = _explore(setup, [compare, change], stop_on_first=False)
    # The comparison and the append do not commute: two classes.
    assert (r.num_explored, r.exhausted) == (2, True)


# --------------------------------------------------------------------------
# Calls into code that is not traced.


@pytest.mark.parametrize(
    "op",
    [
        lambda s, x: heapq.heappush(s.items, x),
        lambda s, x: random.Random(x).shuffle(s.items),
        lambda s, x: s.items.append(x),
    ],
    ids=["heappush (C, not in the table)", "shuffle (library Python)", "append (table)"],
)
def test_two_writers_through_untraced_calls_are_dependent(op):
    def setup():
        s = State()
        s.items = [5, 3, 1]
        return s

    r = _explore(setup, [lambda s: op(s, 0), lambda s: op(s, 4)], stop_on_first=False)
    assert (r.num_explored, r.exhausted) == (2, True)


@pytest.mark.parametrize(
    "look",
    [
        lambda s: s.items.__len__(),
        lambda s: list.__len__(s.items),
        lambda s: s.items.copy(),
        lambda s: s.items == [1],
        lambda s: [].extend(s.items),
        lambda s: ",".join(map(str, s.items)),
    ],
    ids=["bound-dunder", "unbound-dunder", "copy", "eq", "extend-reads-its-argument", "join"],
)
def test_reads_through_methods_and_operators_conflict_with_a_write(look):
    def setup():
        s = State()
        s.items = [1]
        return s

    r = _explore(setup, [look, lambda s: s.items.append(2)], stop_on_first=False)
    assert (r.num_explored, r.exhausted) == (2, True)


def test_pure_builtins_on_a_shared_list_commute():
    def setup():
        s = State()
        s.items = [1]
        return s

    def look(s):
        return isinstance(s.items, list), id(s.items), type(s.items)

    r = _explore(setup, [look, lambda s: s.items.append(2)], stop_on_first=False)
    assert (r.num_explored, r.exhausted) == (1, True)


def test_thread_private_containers_add_no_interleavings():
    def own(s):
        items = [1, 2, 3]
        pending = collections.deque(items)
        while pending:
            pending.popleft()
        for _x in items:
            pass
        return len(items), items == [1, 2, 3], f"{items}"

    r = _explore(lambda: None, [own, own], stop_on_first=False)
    assert (r.num_explored, r.exhausted) == (1, True)


# --------------------------------------------------------------------------
# Threads made by library code: thread pools and timers.


def _counter():
    s = State()
    s.n = 0
    s.lock = threading.Lock()
    return s


def _bump(s):
    v = s.n
    s.n = v + 1


def _locked_bump(s):
    with s.lock:
        v = s.n
        s.n = v + 1


def test_unlocked_update_by_two_pool_workers_is_found():
    def pool(s):
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            futures = [ex.submit(_bump, s), ex.submit(_bump, s)]
            for f in futures:
                f.result()

    r = _explore(_counter, [pool], lambda s: s.n == 2)
    assert r.failures[0].kind == "invariant violation", r.explanation
    steps = [line for line in _steps_text(r).splitlines() if line.strip()]
    workers = {line.split()[0] for line in steps}
    assert len(workers) == 2, steps  # two actors, both pool workers
    assert all("ThreadPoolExecutor" in line for line in steps), steps
    assert any("read State.n" in line and "v = s.n" in line for line in steps)
    assert any("write State.n" in line and "s.n = v + 1" in line for line in steps)


def test_pool_tasks_ordered_by_result_or_a_lock_are_exhausted_without_failure():
    def one_after_the_other(s):
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            ex.submit(_bump, s).result()
            ex.submit(_bump, s).result()
        assert s.n == 2

    def locked(s):
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            for f in [ex.submit(_locked_bump, s), ex.submit(_locked_bump, s)]:
                f.result()

    for body in (one_after_the_other, locked):
        r = _explore(_counter, [body], lambda s: s.n == 2, stop_on_first=False)
        _no_failure(r)


def test_submit_orders_the_submitter_before_the_task_and_result_orders_the_task_before_the_reader():
    def handoff(s):
        s.n = 10  # before submit: seen by the task
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            ex.submit(_bump, s).result()
            s.seen = s.n  # after result(): sees the task's write

    r = _explore(_counter, [handoff], lambda s: s.seen == 11, stop_on_first=False)
    _no_failure(r)


def test_a_timer_thread_is_an_actor():
    def racy(s):
        t = threading.Timer(0, _bump, args=(s,))
        t.start()
        _bump(s)
        t.join()

    r = _explore(_counter, [racy], lambda s: s.n == 2)
    steps = _steps_text(r)
    assert "v = s.n" in steps and "s.n = v + 1" in steps

    def joined(s):
        t = threading.Timer(0.01, _bump, args=(s,))
        t.start()
        t.join()
        _bump(s)

    _no_failure(_explore(_counter, [joined], lambda s: s.n == 2, stop_on_first=False))


# --------------------------------------------------------------------------
# Recordings: `racetrace races` names these accesses on their lines.


def _lines(src: Path, *marks: str) -> set[str]:
    return {f"{src}:{line_of(src, m)}" for m in marks}


@pytest.mark.parametrize(
    ("program", "key", "marks", "race_class"),
    [
        ("deque_consumers.py", "jobs (whole)", ("check", "pop"), "atomicity-violation"),
        ("dict_iteration.py", "table (whole)", ("iterate", "insert"), "atomicity-violation"),
        ("pool_update.py", "Counter.n", ("read", "write"), "atomicity-violation"),
        ("opaque_calls.py", "heap (whole)", ("push",), "order-only"),
        ("opaque_calls.py", "deck (whole)", ("shuffle",), "order-only"),
    ],
)
def test_recorded_races_name_these_accesses_on_their_lines(tmp_path: Path, program, key, marks, race_class):
    rec = record(tmp_path, program)
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    src = PROGRAMS / program
    assert race_lines(report, key) == _lines(src, *marks), report
    assert {r["class"] for r in report["races"] if r["key_name"] == key} == {race_class}


def test_thread_private_containers_record_no_race(tmp_path: Path):
    rec = record(tmp_path, "private_containers.py")
    assert rec.code == 0, rec.stderr
    assert races(rec.trace)["races"] == []


# --------------------------------------------------------------------------
# The call table classifies every method of the builtin containers.


_ROLES = {"read", "write", "item_read", "item_write", "arg_read", "pure"}


@pytest.mark.parametrize("cls", [list, dict, set, collections.deque, bytearray], ids=lambda c: c.__name__)
def test_every_method_of_the_builtin_containers_is_classified(cls):
    roles = tables.container_method_roles(cls)
    methods = {name for name in dir(cls) if callable(getattr(cls, name))}
    assert methods - roles.keys() == set(), "methods missing from tables.CONTAINER_METHODS"
    assert roles.keys() - methods == set(), "names in the table that the type does not have"
    assert set(roles.values()) <= _ROLES
    # Methods that change the container are writes, those that only look at
    # it are not (spot checks of the table against the types' meaning).
    for name in ("append", "add", "update", "pop", "popleft", "extend", "clear", "__setitem__", "__iadd__"):
        if name in roles:
            assert roles[name] in {"write", "item_write"}, name
    for name in ("__len__", "__iter__", "__eq__", "copy", "count", "__contains__", "keys"):
        if name in roles:
            assert roles[name] in {"read", "item_read"}, name
