"""Two asyncio tasks increment one counter with an await between the read
and the write (an update can be lost), and two more increment another
counter with no await in between (nothing can be lost)."""

import asyncio


class Counter:
    def __init__(self):
        self.value = 0


async def increment(c):
    v = c.value
    await asyncio.sleep(0)
    c.value = v + 1


async def increment_at_once(c):
    v = c.value
    c.value = v + 1
    await asyncio.sleep(0)


async def main():
    split, whole = Counter(), Counter()
    await asyncio.gather(increment(split), increment(split))
    async with asyncio.TaskGroup() as tg:
        tg.create_task(increment_at_once(whole))
        tg.create_task(increment_at_once(whole))
    print(split.value, whole.value)


asyncio.run(main())
