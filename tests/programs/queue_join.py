"""A worker updates shared state for each item and marks it done; the main
thread waits with Queue.join and then reads the state. Correct as written:
join returns after every task_done, so the read follows every write. With
the argument "early", the worker marks each item done *before* its update:
then the main thread's read races with the last update."""

import queue
import sys
import threading


class State:
    total = 0


state = State()
q = queue.Queue()
early = sys.argv[1:] == ["early"]


def worker():
    while True:
        item = q.get()
        if item is None:
            q.task_done()
            return
        if early:
            q.task_done()
        state.total += item  # MARK: update
        if not early:
            q.task_done()


if __name__ == "__main__":
    t = threading.Thread(target=worker)
    t.start()
    for i in range(3):
        q.put(i)
    q.join()
    print("total", state.total)  # MARK: read
    q.put(None)
    t.join()
