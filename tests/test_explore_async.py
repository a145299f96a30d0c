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

import pytest

import racetrace
from test_dpor_exact import LASTZERO_CLASSES


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
    assert res.exhausted and not res.failures
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
    assert res.stats["sleep_blocked"] == 0


# -- generated programs against a brute force over step orders -----------------

Step = list[tuple[str, int]]  # ("r" | "w", attribute index)


def brute_force(program: list[list[Step]]) -> int:
    """Classes of step orders: two orders are alike when every pair of
    conflicting steps of different tasks comes in the same order."""
    ids = [(t, k) for t, steps in enumerate(program) for k in range(len(steps))]

    def conflict(a: tuple[int, int], b: tuple[int, int]) -> bool:
        sa, sb = program[a[0]][a[1]], program[b[0]][b[1]]
        return any(x == y and "w" in (m, n) for m, x in sa for n, y in sb)

    classes = set()

    def go(pc: list[int], order: list[tuple[int, int]]) -> None:
        if len(order) == len(ids):
            sig = frozenset(
                (a, b)
                for i, a in enumerate(order)
                for b in order[i + 1 :]
                if a[0] != b[0] and conflict(a, b)
            )
            classes.add(sig)
            return
        for t in range(len(program)):
            if pc[t] < len(program[t]):
                pc[t] += 1
                go(pc, order + [(t, pc[t] - 1)])
                pc[t] -= 1

    go([0] * len(program), [])
    return len(classes)


def source_of(program: list[list[Step]]) -> str:
    out = ["import asyncio", "", "class State:", "    def __init__(self):"]
    out += [f"        self.x{i} = 0" for i in range(3)]
    for t, steps in enumerate(program):
        out += ["", f"async def task{t}(s):"]
        for k, step in enumerate(steps):
            if k:
                out.append("    await asyncio.sleep(0)")
            for mode, x in step:
                out.append(f"    _ = s.x{x}" if mode == "r" else f"    s.x{x} = {t + 1}")
    return "\n".join(out) + "\n"


def generate(rng: random.Random) -> list[list[Step]]:
    return [
        [
            [(rng.choice("rw"), rng.randrange(3)) for _ in range(rng.randint(1, 3))]
            for _ in range(rng.randint(1, 3))
        ]
        for _ in range(rng.randint(2, 3))
    ]


def test_generated_task_programs_explore_exactly_the_brute_force_count(tmp_path) -> None:
    rng = random.Random(14)
    for i in range(25):
        program = generate(rng)
        path = tmp_path / f"gen{i}.py"
        path.write_text(source_of(program))
        mod = types.ModuleType(f"gen{i}")
        mod.__file__ = str(path)
        exec(compile(path.read_text(), str(path), "exec"), mod.__dict__)
        tasks = [getattr(mod, f"task{t}") for t in range(len(program))]
        res = racetrace.explore_dpor(mod.State, tasks, lambda s: True)
        expected = brute_force(program)
        assert res.exhausted and not res.failures, (program, res)
        assert res.num_explored == expected, (program, res.num_explored, expected)
        assert res.stats["sleep_blocked"] == 0, program
