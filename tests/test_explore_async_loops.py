"""Event loops of several threads at once: each thread runs its own loop
(``asyncio.run``), and a thread may come between the events of another
loop's task step. Each loop keeps its own step in progress: one loop
beginning or ending a step never ends another's (which left that task
unable to go on, reported as a deadlock that cannot happen)."""

from __future__ import annotations

import asyncio
import threading

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
