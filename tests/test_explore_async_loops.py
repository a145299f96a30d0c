"""Event loops of several threads at once: each thread runs its own loop
(``asyncio.run``), and a thread may come between the events of another
loop's task step. Each loop keeps its own step in progress: one loop
beginning or ending a step never ends another's (which left that task
unable to go on, reported as a deadlock that cannot happen)."""

from __future__ import annotations

import asyncio
import collections
import gc
import random
import threading
import types
import weakref

import pytest

import racetrace


class Pair:
    def __init__(self) -> None:
        self.a = 0
        self.b = 0
        self.shared = 0


async def bump_a(p: Pair) -> None:
    p.a += 1


async def bump_b(p: Pair) -> None:
    p.b += 1


def loop_a(p: Pair) -> None:
    asyncio.run(bump_a(p))


def loop_b(p: Pair) -> None:
    asyncio.run(bump_b(p))


def both_bumped(p: Pair) -> bool:
    return p.a == 1 and p.b == 1


def test_two_threads_each_running_a_loop_are_explored_without_a_false_deadlock() -> None:
    r = racetrace.explore_dpor(Pair, [loop_a, loop_b], both_bumped, progress=False)
    assert r.property_holds and r.exhausted, r.explanation
    assert not r.failures


def two_loops(p: Pair) -> tuple[int, int]:
    threads = [threading.Thread(target=loop_a, args=(p,)), threading.Thread(target=loop_b, args=(p,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return p.a, p.b


def test_random_schedules_of_two_loops_all_end() -> None:
    # Random choices put a thread inside the other loop's task steps.
    for seed in range(60):
        r = racetrace.run(two_loops, Pair(), seed=seed, check=False, deadlock_timeout=5)
        assert r.status == "ok", (seed, r.message, r.schedule)
        assert r.value == (1, 1)


async def add_across_an_await(p: Pair) -> None:
    v = p.shared
    await asyncio.sleep(0)
    p.shared = v + 1


def loop_adding(p: Pair) -> None:
    asyncio.run(add_across_an_await(p))


def test_a_lost_update_between_the_tasks_of_two_loops_is_found() -> None:
    r = racetrace.explore_dpor(
        Pair, [loop_adding, loop_adding], lambda p: p.shared == 2, progress=False, shrink=False
    )
    assert r.failures and r.failures[0].kind != "deadlock", r.explanation
    assert all(f.kind != "deadlock" for f in r.failures)
    assert "p.shared = v + 1" in r.explanation, r.explanation


class Counter:
    def __init__(self) -> None:
        self.n = 0


async def read_await_write(c: Counter) -> None:
    v = c.n
    await asyncio.sleep(0)
    c.n = v + 1


def via_a_background_loop(c: Counter) -> None:
    # The loop is made by this thread and run by another (run_forever):
    # its tasks are that thread's to run.
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever)
    runner.start()
    futures = [asyncio.run_coroutine_threadsafe(read_await_write(c), loop) for _ in range(2)]
    for f in futures:
        f.result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    runner.join()
    loop.close()


def test_a_loop_made_in_one_thread_and_run_in_another_runs_its_tasks(recwarn: pytest.WarningsRecorder) -> None:
    for seed in range(30):
        c = Counter()
        r = racetrace.run(via_a_background_loop, c, seed=seed, check=False, deadlock_timeout=5)
        assert r.status == "ok", (seed, r.message, r.schedule)
        assert c.n in (1, 2)
    seen: set[int] = set()

    def note(c: Counter) -> bool:
        seen.add(c.n)
        return c.n == 2

    r = racetrace.explore_dpor(Counter, [via_a_background_loop], note, progress=False, stop_on_first=False)
    assert r.exhausted and seen == {1, 2}, (seen, r.explanation)
    assert r.failures and all(f.kind == "invariant violation" for f in r.failures), r.explanation
    assert "c.n = v + 1" in r.explanation
    # Executions DPOR stopped early leave no "coroutine was never awaited".
    gc.collect()
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


# -- generated programs of two loops against a brute force ---------------------

Access = tuple[str, int]  # ("r" | "w", attribute index)
Tasks = list[list[list[Access]]]  # tasks, each a list of steps, each a list of accesses


def _gen_loop(rng: random.Random) -> Tasks:
    def accesses() -> list[Access]:
        return [(rng.choice("rw"), rng.randrange(2)) for _ in range(rng.randint(1, 2))]

    # One task a loop: the program's own `asyncio.run` machinery, which a
    # thread may interleave with too, makes each further task costly to explore.
    return [[accesses() for _ in range(rng.randint(1, 2))]]


def _source(loops: list[Tasks]) -> str:
    """Loop ``l`` runs its tasks with ``asyncio.run`` in thread ``l``. Each
    write stores a value of its own; each read folds what it saw into its
    task's ``acc``, kept at the end: the outcome tells orders apart."""
    out = ["import asyncio", "", "", "class State:", "    def __init__(self):"]
    out += ["        self.x0 = 0", "        self.x1 = 0", "        self.out = {}"]
    for lp, tasks in enumerate(loops):
        for t, steps in enumerate(tasks):
            actor, n = 10 * lp + t + 1, 0
            out += ["", "", f"async def task{lp}_{t}(s):", "    acc = 0"]
            for k, step in enumerate(steps):
                if k:
                    out.append("    await asyncio.sleep(0)")
                for mode, x in step:
                    n += 1
                    out.append(f"    acc = acc * 64 + s.x{x}" if mode == "r" else f"    s.x{x} = {100 * actor + n}")
            out.append(f"    s.out[{actor}] = acc")
        out += ["", "", f"def thread{lp}(s):", f"    asyncio.run(task{lp}_0(s))"]
    return "\n".join(out) + "\n"


def _flat_orders(tasks: Tasks, lp: int) -> list[list[tuple[int, int, Access]]]:
    """Every order of the loop's task steps that keeps each task's own
    order, each step whole, flattened to (actor, n, access)."""
    orders: list[list[tuple[int, int, Access]]] = []

    def go(pc: list[int], seq: list[tuple[int, int, Access]]) -> None:
        if all(pc[t] == len(tasks[t]) for t in range(len(tasks))):
            orders.append(seq)
            return
        for t in range(len(tasks)):
            if pc[t] < len(tasks[t]):
                start = sum(len(st) for st in tasks[t][: pc[t]])
                block = [(10 * lp + t + 1, start + j + 1, a) for j, a in enumerate(tasks[t][pc[t]])]
                pc[t] += 1
                go(pc, seq + block)
                pc[t] -= 1

    go([0] * len(tasks), [])
    return orders


def _brute_outcomes(loops: list[Tasks]) -> set[tuple[int, ...]]:
    """The two loops' step orders, merged access by access in every way (a
    thread may come between any two accesses of the other's steps)."""
    actors = sorted(10 * lp + t + 1 for lp, tasks in enumerate(loops) for t in range(len(tasks)))
    outcomes: set[tuple[int, ...]] = set()

    def run(order: list[tuple[int, int, Access]]) -> tuple[int, ...]:
        x = [0, 0]
        acc = dict.fromkeys(actors, 0)
        for actor, n, (mode, i) in order:
            if mode == "r":
                acc[actor] = acc[actor] * 64 + x[i]
            else:
                x[i] = 100 * actor + n
        return (*x, *(acc[a] for a in actors))

    def merge(a: list, b: list, i: int, j: int, out: list) -> None:
        if i == len(a) and j == len(b):
            outcomes.add(run(out))
            return
        if i < len(a):
            merge(a, b, i + 1, j, [*out, a[i]])
        if j < len(b):
            merge(a, b, i, j + 1, [*out, b[j]])

    for first in _flat_orders(loops[0], 0):
        for second in _flat_orders(loops[1], 1):
            merge(first, second, 0, 0, [])
    return outcomes


def test_generated_programs_of_two_loops_reach_every_outcome_and_no_other(tmp_path) -> None:
    rng = random.Random(7)
    for i in range(16):
        loops = [_gen_loop(rng), _gen_loop(rng)]
        path = tmp_path / f"loops{i}.py"
        path.write_text(_source(loops))
        mod = types.ModuleType(f"loops{i}")
        mod.__file__ = str(path)
        exec(compile(path.read_text(), str(path), "exec"), mod.__dict__)
        actors = sorted(10 * lp + t + 1 for lp, tasks in enumerate(loops) for t in range(len(tasks)))
        seen: set[tuple[int, ...]] = set()

        def note(s: object, actors: list[int] = actors, seen: set[tuple[int, ...]] = seen) -> bool:
            seen.add((s.x0, s.x1, *(s.out[a] for a in actors)))  # type: ignore[attr-defined]
            return True

        r = racetrace.explore_dpor(mod.State, [mod.thread0, mod.thread1], note, progress=False, stop_on_first=False)
        expected = _brute_outcomes(loops)
        assert not r.failures and r.exhausted, (loops, r.explanation, r.limits)
        assert seen == expected, (loops, sorted(seen ^ expected))


def test_a_controlled_loop_starts_with_the_state_asyncio_gives_a_loop() -> None:
    # A controlled loop's BaseEventLoop state is copied from a loop made
    # once (not made by BaseEventLoop.__init__ each time): the same
    # attributes and values, and containers of its own, empty.
    from racetrace.aio import ControlledLoop

    plain = asyncio.BaseEventLoop()
    expected = dict(vars(plain))
    plain.close()
    loops = [ControlledLoop(0), ControlledLoop(0)]
    for name, value in expected.items():
        mine = [vars(loop)[name] for loop in loops]
        if isinstance(value, (list, dict, set, collections.deque, weakref.WeakSet)):
            assert all(type(m) is type(value) and len(m) == 0 for m in mine), name
            assert mine[0] is not mine[1], name
        else:
            assert mine == [value, value], name
    for loop in loops:
        loop.close()
