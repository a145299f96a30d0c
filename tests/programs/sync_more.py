"""More hand-offs that order accesses: LifoQueue and PriorityQueue items,
a barrier reused for several generations, a Condition over a re-entered
RLock with notify(n), a BoundedSemaphore used as a mutex. No race in any of
them."""

import queue
import threading


class Data:
    pass


def run(*targets):
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def lifo_and_priority_queues():
    for q in (queue.LifoQueue(), queue.PriorityQueue()):

        def producer():
            d = Data()
            d.v = 1
            q.put((1, d))

        def consumer():
            _, d = q.get()
            assert d.v == 1

        run(consumer, producer)


def barrier_generations():
    parties = 3
    slots = [0] * parties
    barrier = threading.Barrier(parties)

    def member(i):
        def body():
            for r in range(3):
                slots[i] = r
                barrier.wait()
                assert all(s == r for s in slots)
                barrier.wait()

        return body

    run(*(member(i) for i in range(parties)))


def reentrant_condition():
    d, cond = Data(), threading.Condition(threading.RLock())
    d.ready = False

    def consumer():
        with cond:
            with cond:
                cond.wait_for(lambda: d.ready)
                assert d.val == 1

    def producer():
        with cond:
            d.val = 1
            d.ready = True
            cond.notify(1)

    run(consumer, producer)


def bounded_semaphore_mutex():
    d, sem = Data(), threading.BoundedSemaphore(1)
    d.n = 0

    def bump():
        for _ in range(20):
            with sem:
                d.n += 1

    run(bump, bump)


if __name__ == "__main__":
    bounded_semaphore_mutex()
    lifo_and_priority_queues()
    barrier_generations()
    reentrant_condition()
