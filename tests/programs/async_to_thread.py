"""A task hands work to a thread (`asyncio.to_thread`) and uses its result
once the thread is done: ordered (the loop's thread learns the thread's
end, and runs the task's next step after), so no race."""

import asyncio


class Box:
    def __init__(self):
        self.value = 0


def work(box):
    box.value = 41


async def main():
    box = Box()
    await asyncio.to_thread(work, box)
    box.value += 1
    print(box.value)


asyncio.run(main())
