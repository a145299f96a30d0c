"""asyncio tasks as actors of an exploration: ``explore_dpor`` and
``explore_interleavings`` run ``async def`` workers as tasks of one event
loop that racetrace controls. A task's code between two suspension points
is one step; the strategy chooses which ready task goes next.

Counts are checked against independent ones: async lastzero, whose every
step holds one access, has the classes of the thread version (the
analyzer's brute force and the literature); generated programs of tasks
whose steps touch a few attributes are counted by a brute force over step
orders written here."""

from __future__ import annotations

import asyncio
import random
import types
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

import racetrace
from racetrace.aio import TIMERS_VIRTUAL, UNOBSERVED
from test_dpor_exact import LASTZERO_CLASSES

S = TypeVar("S")
T = TypeVar("T")


def _outcomes(
    setup: Callable[[], S], workers: list[Callable[[S], Any]], look: Callable[[S], T], **options: Any
) -> tuple[racetrace.ExploreResult, set[T]]:
    """Explores every class (not stopping at a failure) and returns the
    result with what ``look`` saw at the end of each execution."""
    seen: set[T] = set()

    def note(s: S) -> bool:
        seen.add(look(s))
        return True

    r = racetrace.explore_dpor(setup, workers, note, stop_on_first=False, shrink=False, progress=False, **options)
    return r, seen


def _complete(res: racetrace.ExploreResult) -> bool:
    """Everything was explored: nothing stopped the exploration, and its
    only limit, if any, is that of virtual time (a program that sleeps)."""
    return res.stopped_because is None and all(TIMERS_VIRTUAL in line for line in res.limits)


class Counter:
    def __init__(self) -> None:
        self.value = 0


async def incr_split(c: Counter) -> None:
    v = c.value
    await asyncio.sleep(0)
    c.value = v + 1


async def incr_whole(c: Counter) -> None:
    v = c.value
    c.value = v + 1
    await asyncio.sleep(0)


def test_lost_update_across_an_await_is_found_and_replays() -> None:
    res = racetrace.explore_dpor(Counter, [incr_split, incr_split], lambda c: c.value == 2)
    assert res.failures, res
    f = res.failures[0]
    text = str(res)
    assert "lost update" in text
    # Both reads, then both writes, on the lines of the test.
    assert text.count("v = c.value") >= 2 and text.count("c.value = v + 1") >= 2
    assert "task-1" in text and "task-2" in text
    # The schedule replays the failure every time.
    assert f.schedule.startswith("rts1:")
    assert "reproduced 10/10" in text


def test_no_await_between_read_and_write_is_never_a_lost_update() -> None:
    res = racetrace.explore_dpor(Counter, [incr_whole, incr_whole], lambda c: c.value == 2)
    assert _complete(res) and not res.failures
    # The two steps conflict: either goes first.
    assert res.num_explored == 2
    assert res.stats["sleep_blocked"] == 0


def test_random_exploration_finds_the_lost_update_too() -> None:
    res = racetrace.explore_interleavings(
        Counter, [incr_split, incr_split], lambda c: c.value == 2, max_attempts=200, seed=3
    )
    assert res.failures


class Shared:
    def __init__(self, n: int) -> None:
        self.a = [0] * (n + 1)
        self.res: int | None = None


def async_lastzero(n: int):
    """lastzero with an await after each access: every step of a task
    holds one access, as every step of a thread does."""

    async def scan(s: Shared) -> None:
        i = n
        while s.a[i] != 0:
            await asyncio.sleep(0)
            i -= 1
        s.res = i

    def bump(i: int):
        async def task(s: Shared) -> None:
            v = s.a[i - 1]
            await asyncio.sleep(0)
            s.a[i] = v + 1

        return task

    return (lambda: Shared(n)), [scan] + [bump(i) for i in range(1, n + 1)]


@pytest.mark.parametrize("n", [3, 4, 5])
def test_async_lastzero_explores_exactly_the_classes_of_the_thread_version(n: int) -> None:
    setup, tasks = async_lastzero(n)
    res = racetrace.explore_dpor(setup, tasks, lambda s: True)
    assert res.exhausted and not res.failures
    assert res.num_explored == LASTZERO_CLASSES[n]
    # A task step moved before a write it read has an unknown footprint
    # there: some classes run twice (not counted again) and some runs stop
    # as redundant, a bounded cost.
    st = res.stats
    assert st["executions"] - st["repeated"] == LASTZERO_CLASSES[n]
    assert st["executions"] + st["sleep_blocked"] <= 5 * LASTZERO_CLASSES[n], st


# -- generated programs against a brute force over step orders -----------------

Step = list[tuple[str, int]]  # ("r" | "w", attribute index); ("sleep", 0) first: after a timer


def brute_force(program: list[list[Step]]) -> int:
    """Classes of step orders: two orders are alike when every pair of
    conflicting steps of different tasks comes in the same order. A step
    that begins after `asyncio.sleep(0.01)` is ready once its timer fires:
    on the virtual clock, when no task is ready, the earliest timers fire
    (deadline: the time of the sleep plus 0.01)."""

    def accesses(t: int, k: int) -> Step:
        return [a for a in program[t][k] if a[0] != "sleep"]

    def timed(t: int, k: int) -> bool:
        return k < len(program[t]) and bool(program[t][k]) and program[t][k][0][0] == "sleep"

    def conflict(a: tuple[int, int], b: tuple[int, int]) -> bool:
        sa, sb = accesses(*a), accesses(*b)
        return any(x == y and "w" in (m, n) for m, x in sa for n, y in sb)

    classes = set()
    total = sum(len(steps) for steps in program)

    def go(pc: list[int], order: list[tuple[int, int]], vt: int, deadline: dict[int, int], fired: set[int]) -> None:
        if len(order) == total:
            sig = frozenset(
                (a, b) for i, a in enumerate(order) for b in order[i + 1 :] if a[0] != b[0] and conflict(a, b)
            )
            classes.add(sig)
            return
        ready = [t for t in range(len(program)) if pc[t] < len(program[t]) and (not timed(t, pc[t]) or t in fired)]
        if not ready:
            if not deadline:
                raise AssertionError("stuck")
            vt = min(deadline.values())
            fired = fired | {t for t, d in deadline.items() if d == vt}
            deadline = {t: d for t, d in deadline.items() if d != vt}
            ready = sorted(fired)
        for t in ready:
            k = pc[t]
            pc[t] += 1
            dl = dict(deadline)
            if timed(t, pc[t]):
                dl[t] = vt + 1
            go(pc, order + [(t, k)], vt, dl, fired - {t})
            pc[t] -= 1

    go([0] * len(program), [], 0, {}, set())
    return len(classes)


def source_of(program: list[list[Step]]) -> str:
    out = ["import asyncio", "", "class State:", "    def __init__(self):"]
    out += [f"        self.x{i} = 0" for i in range(3)]
    for t, steps in enumerate(program):
        out += ["", f"async def task{t}(s):"]
        for k, step in enumerate(steps):
            for mode, x in step:
                if mode == "sleep":
                    out.append("    await asyncio.sleep(0.01)")
                else:
                    out.append(f"    _ = s.x{x}" if mode == "r" else f"    s.x{x} = {t + 1}")
            if k + 1 < len(steps) and not (steps[k + 1] and steps[k + 1][0][0] == "sleep"):
                out.append("    await asyncio.sleep(0)")
    return "\n".join(out) + "\n"


def generate(rng: random.Random, timers: bool = False) -> list[list[Step]]:
    def step(k: int) -> Step:
        accesses: Step = [(rng.choice("rw"), rng.randrange(3)) for _ in range(rng.randint(1, 3))]
        return [("sleep", 0), *accesses] if timers and k and rng.random() < 0.4 else accesses

    return [[step(k) for k in range(rng.randint(1, 3))] for _ in range(rng.randint(2, 3))]


@pytest.mark.parametrize("timers", [False, True], ids=["sleep0", "timers"])
def test_generated_task_programs_explore_exactly_the_brute_force_count(tmp_path, timers: bool) -> None:
    rng = random.Random(14 + timers)
    for i in range(25):
        program = generate(rng, timers)
        path = tmp_path / f"gen{i}.py"
        path.write_text(source_of(program))
        mod = types.ModuleType(f"gen{i}")
        mod.__file__ = str(path)
        exec(compile(path.read_text(), str(path), "exec"), mod.__dict__)
        tasks = [getattr(mod, f"task{t}") for t in range(len(program))]
        res = racetrace.explore_dpor(mod.State, tasks, lambda s: True)
        expected = brute_force(program)
        assert _complete(res) and not res.failures, (program, res)
        assert res.num_explored == expected, (program, res.num_explored, expected)


# -- bugs found -----------------------------------------------------------------


class Cache:
    def __init__(self) -> None:
        self.data: dict[str, int] = {}
        self.loads = 0


async def get_or_load(c: Cache) -> int:
    if "k" not in c.data:  # check ...
        await asyncio.sleep(0.01)  # ... the slow load ...
        c.loads += 1
        c.data["k"] = 42  # ... act
    return c.data["k"]


def test_check_then_act_cache_stampede_is_found() -> None:
    res = racetrace.explore_dpor(Cache, [get_or_load, get_or_load], lambda c: c.loads == 1)
    assert res.failures
    text = str(res)
    assert 'if "k" not in c.data' in text and "await asyncio.sleep(0.01)" in text


class TwoLocks:
    def __init__(self) -> None:
        self.a = asyncio.Lock()
        self.b = asyncio.Lock()


async def a_then_b(s: TwoLocks) -> None:
    async with s.a:
        await asyncio.sleep(0)
        async with s.b:
            pass


async def b_then_a(s: TwoLocks) -> None:
    async with s.b:
        await asyncio.sleep(0)
        async with s.a:
            pass


def test_lock_order_deadlock_between_two_tasks_is_reported_at_once() -> None:
    res = racetrace.explore_dpor(TwoLocks, [a_then_b, b_then_a], lambda s: True, deadlock_timeout=30)
    assert res.failures and res.failures[0].kind == "deadlock"
    msg = res.failures[0].message
    # Who waits for what, where: both tasks, at their inner `async with`.
    assert "T1 (task-1) awaits Lock.acquire()" in msg and "T2 (task-2) awaits Lock.acquire()" in msg
    assert "async with s.b:" in msg and "async with s.a:" in msg
    assert res.elapsed < 10  # at once, not after deadlock_timeout


class Spawned:
    def __init__(self) -> None:
        self.total = 0


async def spawner(s: Spawned) -> None:
    async def add() -> None:
        v = s.total
        await asyncio.sleep(0)
        s.total = v + 1

    await asyncio.gather(add(), add())


def test_tasks_spawned_by_a_task_race() -> None:
    res = racetrace.explore_dpor(Spawned, [spawner], lambda s: s.total == 2)
    assert res.failures
    text = str(res)
    assert "T2 (spawner.<locals>.add)" in text and "T3 (spawner.<locals>.add)" in text  # creation order


class Three:
    def __init__(self) -> None:
        self.x = 0


async def stepper(s: Three) -> None:
    s.x = 1
    await asyncio.sleep(0)
    s.x = 2
    await asyncio.sleep(0)
    s.x = 3


async def watcher(s: Three) -> None:
    # Sees 1, then 2, then 3: only when it runs between each of the
    # stepper's steps (three switches).
    seen = []
    for _ in range(3):
        seen.append(s.x)
        await asyncio.sleep(0)
    assert seen != [1, 2, 3], seen


def test_a_bug_that_needs_three_task_switches_is_found() -> None:
    res = racetrace.explore_dpor(Three, [stepper, watcher], lambda s: True)
    assert res.failures and res.failures[0].kind == "exception in an actor"
    assert "[1, 2, 3]" in res.failures[0].message


# -- safe programs: explored, no false alarm -----------------------------------------


class Locked:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.value = 0


async def locked_incr(s: Locked) -> None:
    async with s.lock:
        v = s.value
        await asyncio.sleep(0)
        s.value = v + 1


def test_an_asyncio_lock_counter_is_safe() -> None:
    res = racetrace.explore_dpor(Locked, [locked_incr, locked_incr, locked_incr], lambda s: s.value == 3)
    assert _complete(res) and not res.failures
    assert res.num_explored > 1  # who takes the lock first, and who waits


class Pipe:
    def __init__(self) -> None:
        self.q: asyncio.Queue[int | None] = asyncio.Queue()
        self.got: list[int] = []


async def producer(p: Pipe) -> None:
    for i in range(3):
        await p.q.put(i)
    await p.q.put(None)


async def consumer(p: Pipe) -> None:
    while (item := await p.q.get()) is not None:
        p.got.append(item)


def test_queue_producer_and_consumer_with_a_sentinel_is_safe() -> None:
    res = racetrace.explore_dpor(Pipe, [producer, consumer], lambda p: p.got == [0, 1, 2])
    assert _complete(res) and not res.failures
    assert res.num_explored > 1


class Handoff:
    def __init__(self) -> None:
        self.cond = asyncio.Condition()
        self.item: int | None = None
        self.taken: int | None = None


async def give(h: Handoff) -> None:
    async with h.cond:
        h.item = 7
        h.cond.notify()


async def take(h: Handoff) -> None:
    async with h.cond:
        await h.cond.wait_for(lambda: h.item is not None)
        h.taken = h.item


def test_condition_handoff_is_safe() -> None:
    res = racetrace.explore_dpor(Handoff, [take, give], lambda h: h.taken == 7)
    assert _complete(res) and not res.failures
    assert res.num_explored >= 2  # the taker waits, or finds the item


class Writers:
    def __init__(self) -> None:
        self.a = 0
        self.b = 0
        self.c = 0


async def group(w: Writers) -> None:
    async def write(name: str) -> None:
        await asyncio.sleep(0)
        setattr(w, name, 1)

    async with asyncio.TaskGroup() as tg:
        for name in "abc":
            tg.create_task(write(name))


def test_a_taskgroup_of_independent_writers_is_one_class() -> None:
    res = racetrace.explore_dpor(Writers, [group], lambda w: (w.a, w.b, w.c) == (1, 1, 1))
    assert _complete(res) and not res.failures
    assert res.num_explored == 1


def test_virtual_time_makes_long_sleeps_free_and_fires_timers_in_deadline_order() -> None:
    order: list[str] = []

    async def slow(s: object) -> None:
        await asyncio.sleep(3600)
        order.append("slow")

    async def fast(s: object) -> None:
        await asyncio.sleep(60)
        order.append("fast")

    res = racetrace.explore_dpor(object, [slow, fast], lambda s: True)
    assert _complete(res) and not res.failures and res.elapsed < 10
    assert order and all(order[i : i + 2] == ["fast", "slow"] for i in range(0, len(order), 2))


# -- bad input ----------------------------------------------------------------------


def test_a_coroutine_object_instead_of_a_function_is_refused() -> None:
    coro = incr_split(Counter())
    with pytest.raises(TypeError, match=r"threads\[1\] is a coroutine object, not a function"):
        racetrace.explore_dpor(Counter, [incr_split, coro], lambda c: True)
    assert coro.cr_frame is None  # closed: no "never awaited" warning


def test_a_task_blocking_the_loop_on_a_thread_lock_is_reported_with_its_place() -> None:
    import threading

    class Blocking:
        def __init__(self) -> None:
            self.lock = threading.Lock()

    async def holder(s: Blocking) -> None:
        s.lock.acquire()
        await asyncio.sleep(0)
        s.lock.release()

    async def blocker(s: Blocking) -> None:
        s.lock.acquire()  # blocks the loop: the holder can never release
        s.lock.release()

    res = racetrace.explore_dpor(Blocking, [holder, blocker], lambda s: True, deadlock_timeout=2)
    assert res.failures
    msg = res.failures[0].message
    assert "T2 (task-2)" in msg and "test_explore_async.py" in msg


def test_a_task_that_calls_time_sleep_is_reported_as_blocking_its_loop() -> None:
    import time

    async def sleeper(s: object) -> None:
        time.sleep(5)

    res = racetrace.explore_dpor(object, [sleeper, sleeper], lambda s: True, deadlock_timeout=2)
    assert res.failures and res.failures[0].kind == "timeout"
    msg = res.failures[0].message
    assert "T1 (task-1) blocks its event loop: it called time.sleep at" in msg
    assert "test_explore_async.py:" in msg
    assert res.elapsed < 5  # not the 5 s of the sleep


def _holds(c: Counter) -> bool:
    return c.value == 2


def test_workers_explore_tasks_whole_in_this_process() -> None:
    with pytest.warns(RuntimeWarning, match="asyncio tasks are explored whole, in this process"):
        res = racetrace.explore_dpor(Counter, [incr_whole, incr_whole], _holds, workers=2)
    assert _complete(res) and not res.failures and res.num_explored == 2


class _Branchy:
    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.z = 0


async def _q(s: _Branchy) -> None:
    s.y = 1
    s.z = 1


async def _e(s: _Branchy) -> None:
    s.x = 1


async def _w(s: _Branchy) -> None:
    s.z = 2


async def _l(s: _Branchy) -> None:
    if s.x == 0:
        s.y = 2


def test_a_step_whose_accesses_depend_on_what_it_read_is_reversed_soundly() -> None:
    # Only the order w, q, l, e leaves y == 2 and z == 1 (brute force over
    # the 24 orders of the four one-step tasks finds exactly that one).
    # That order is a class of its own (w < q < l < e is a chain of
    # conflicts): found once.
    r = racetrace.explore_dpor(
        _Branchy,
        [_q, _e, _w, _l],
        lambda s: not (s.y == 2 and s.z == 1),
        stop_on_first=False,
        shrink=False,
        progress=False,
    )
    assert not r.property_holds
    assert len(r.failures) == 1


class _Waits:
    def __init__(self) -> None:
        self.done: int | None = None


async def _child(s: _Waits) -> int:
    return 1


async def _first_completed(s: _Waits) -> None:
    ta = asyncio.ensure_future(_child(s))
    tb = asyncio.ensure_future(_child(s))
    done, pending = await asyncio.wait({ta, tb}, return_when=asyncio.FIRST_COMPLETED)
    s.done = len(done)
    await asyncio.gather(*pending)


def test_wait_first_completed_sees_one_or_both_children_done() -> None:
    # The second child may end before the waiter resumes (its wake-up is a
    # callback like any other), so `done` holds one task or both.
    r, seen = _outcomes(_Waits, [_first_completed], lambda s: s.done)
    assert r.exhausted
    assert seen == {1, 2}


class _Seen:
    def __init__(self) -> None:
        self.error: str | None = None


async def _fails(msg: str) -> None:
    raise ValueError(msg)


async def _gathers_two_failures(s: _Seen) -> None:
    try:
        await asyncio.gather(_fails("a"), _fails("b"))
    except ValueError as e:
        s.error = str(e)


def test_gather_raises_the_exception_of_either_failing_child() -> None:
    # Which child ends first decides which exception gather raises.
    r, seen = _outcomes(_Seen, [_gathers_two_failures], lambda s: s.error)
    assert r.exhausted
    assert seen == {"a", "b"}


class _Left:
    def __init__(self) -> None:
        self.x = 0
        self.seen: int | None = None


async def _sets_x(s: _Left) -> None:
    s.x = 1


async def _spawns_and_forgets(s: _Left) -> None:
    asyncio.get_running_loop().create_task(_sets_x(s))  # never awaited
    await asyncio.sleep(0)
    s.seen = s.x


def test_a_task_left_unrun_when_the_workers_end_is_explored_where_it_could_have_run() -> None:
    # The child is ready from the worker's first step on; once the worker
    # ends, the run is over, so the child runs only if it goes first.
    r, seen = _outcomes(_Left, [_spawns_and_forgets], lambda s: s.seen)
    assert r.exhausted
    assert seen == {0, 1}


async def _naps(s: Counter) -> None:
    await asyncio.sleep(0.5)
    s.value += 1


def test_a_program_that_sleeps_says_time_was_virtual() -> None:
    r = racetrace.explore_dpor(Counter, [_naps, _naps], lambda c: c.value == 2, progress=False)
    assert not r.failures and r.stopped_because is None
    assert not r.exhausted
    assert any(TIMERS_VIRTUAL in line for line in r.limits)


async def _returns(msg: str) -> str:
    return msg


async def _takes_first_completed(s: _Seen) -> None:
    # Tasks, not coroutines: as_completed makes tasks of coroutines in the
    # order of a set of them (by address), which differs from run to run.
    loop = asyncio.get_running_loop()
    children = [loop.create_task(_returns("a")), loop.create_task(_returns("b"))]
    for first in asyncio.as_completed(children):
        s.error = await first
        break


def test_as_completed_yields_either_child_first() -> None:
    r, seen = _outcomes(_Seen, [_takes_first_completed], lambda s: s.error)
    assert r.exhausted
    assert seen == {"a", "b"}


class _Made:
    def __init__(self) -> None:
        self.x = 0


async def _bumps(s: _Made) -> None:
    s.x += 1


async def _creates_from_a_callback(s: _Made) -> None:
    loop = asyncio.get_running_loop()
    loop.call_soon(lambda: loop.create_task(_bumps(s)))
    await asyncio.sleep(0)
    s.x += 10


def test_a_task_created_by_a_plain_callback_runs_at_once() -> None:
    # The callback creates as the task whose step scheduled it; the child
    # runs before the worker's write or after it (11 either way: no await
    # inside either), or is cancelled when the worker ends (10).
    r, seen = _outcomes(_Made, [_creates_from_a_callback], lambda s: s.x, deadlock_timeout=5)
    assert r.exhausted and not r.failures
    assert r.elapsed < 5
    assert seen == {10, 11}


async def _raises_lost(s: _Made) -> None:
    raise ValueError("lost")


async def _fires_and_forgets(s: _Made) -> None:
    asyncio.get_running_loop().create_task(_raises_lost(s))
    await asyncio.sleep(0)


def test_an_exception_nobody_retrieves_is_a_failure() -> None:
    r = racetrace.explore_dpor(_Made, [_fires_and_forgets], lambda s: True, shrink=False, progress=False)
    assert not r.property_holds
    f = r.failures[0]
    assert "never awaited" in f.message and "ValueError: lost" in f.message


async def _awaits_its_failing_child(s: _Made) -> None:
    t = asyncio.get_running_loop().create_task(_raises_lost(s))
    try:
        await t
    except ValueError:
        s.x = 1


def test_an_exception_the_parent_awaited_is_not_reported_again() -> None:
    r = racetrace.explore_dpor(_Made, [_awaits_its_failing_child], lambda s: s.x == 1, progress=False)
    assert r.exhausted and not r.failures


async def _builds_a_task_directly(s: _Made) -> None:
    t = asyncio.Task(_bumps(s), loop=asyncio.get_running_loop())
    v = s.x
    await asyncio.sleep(0)
    s.x = v + 10
    await t


def test_a_task_built_directly_is_an_actor_too() -> None:
    # The child's bump lands between the parent's read and write, or not:
    # 10 (lost) or 11.
    r, seen = _outcomes(_Made, [_builds_a_task_directly], lambda s: s.x)
    assert not r.failures and r.stopped_because is None
    assert seen == {10, 11}
    # Its end is not observed as the loop's own tasks' is: said.
    assert not r.exhausted and any(UNOBSERVED in line for line in r.limits)


async def _spins(s: _Made) -> None:
    while True:
        s.x += 1
        await asyncio.sleep(0)


async def _starts_a_spinner(s: _Made) -> None:
    asyncio.get_running_loop().create_task(_spins(s))
    await asyncio.sleep(0)


def test_a_background_task_is_cancelled_when_the_workers_end() -> None:
    # As asyncio.run does. The first execution runs the worker to its end
    # (the actor that just ran goes on): the spinner, never started, is
    # cancelled then and the run ends. (Later ones let the spinner go
    # first, where it can spin for ever, as a spinning thread would.)
    r = racetrace.explore_dpor(_Made, [_starts_a_spinner], lambda s: s.x == 0, max_executions=1, progress=False)
    assert r.num_explored == 1 and not r.failures, r.explanation
    assert not any("step bound" in line for line in r.limits), r.limits


class _Plain:
    def __init__(self) -> None:
        self.fut: asyncio.Future[int] | None = None
        self.saw: bool | None = None


async def _makes_a_plain_future(s: _Plain) -> None:
    s.fut = asyncio.Future()
    await asyncio.sleep(0)
    s.saw = s.fut.done()
    await s.fut


async def _sets_it(s: _Plain) -> None:
    await asyncio.sleep(0)
    if s.fut is not None and not s.fut.done():
        s.fut.set_result(1)


def test_a_future_built_directly_makes_the_result_say_its_end_was_not_observed() -> None:
    r = racetrace.explore_dpor(_Plain, [_makes_a_plain_future, _sets_it], lambda s: True, progress=False)
    assert not r.exhausted
    assert any(UNOBSERVED in line for line in r.limits)


def test_futures_of_the_loop_and_gather_leave_no_such_limit() -> None:
    r = racetrace.explore_dpor(_Seen, [_gathers_two_failures], lambda s: True, progress=False)
    assert r.exhausted
