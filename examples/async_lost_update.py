"""Two asyncio tasks increment a counter. With an `await` between the read
and the write, another task can run in between and an update is lost;
without one, a task's step (its code from one await to the next) runs
whole, and nothing is lost."""

import asyncio

import racetrace


class Counter:
    def __init__(self):
        self.value = 0


async def increment(c):
    v = c.value
    await asyncio.sleep(0)  # another task may run here
    c.value = v + 1


async def increment_at_once(c):
    v = c.value
    c.value = v + 1  # no await between the read and the write
    await asyncio.sleep(0)


if __name__ == "__main__":
    result = racetrace.explore_dpor(Counter, [increment, increment], lambda c: c.value == 2)
    print(result.explanation)
    result = racetrace.explore_dpor(Counter, [increment_at_once, increment_at_once], lambda c: c.value == 2)
    print(result.explanation)
