"""Data handed from one thread to another through Event, Condition,
Semaphore, Queue, SimpleQueue and Barrier: each hand-off orders the accesses, so no race."""

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


def event_handoff():
    d, ready = Data(), threading.Event()

    def producer():
        d.x = 1
        ready.set()

    def consumer():
        ready.wait()
        assert d.x == 1

    run(consumer, producer)


def condition_handoff():
    d, cond = Data(), threading.Condition()
    d.ready = False

    def producer():
        d.y = 1
        with cond:
            d.ready = True
            cond.notify_all()

    def consumer():
        with cond:
            cond.wait_for(lambda: d.ready)
        assert d.y == 1

    run(consumer, producer)


def semaphore_handoff():
    d, sem = Data(), threading.Semaphore(0)

    def producer():
        d.s = 1
        sem.release()

    def consumer():
        with sem:
            assert d.s == 1

    run(consumer, producer)


def queue_handoff():
    q = queue.Queue()

    def producer():
        d = Data()
        d.z = 1
        q.put(d)
        e = Data()
        e.z = 2
        q.put_nowait(e)

    def consumer():
        assert q.get().z == 1
        assert q.get().z == 2

    run(consumer, producer)


def simple_queue_handoff():
    q = queue.SimpleQueue()

    def producer():
        d = Data()
        d.w = 1
        q.put(d)

    def consumer():
        assert q.get().w == 1

    run(consumer, producer)


def barrier_handoff():
    d, barrier = Data(), threading.Barrier(2)

    def first():
        d.b = 1
        barrier.wait()

    def second():
        barrier.wait()
        assert d.b == 1

    run(first, second)


if __name__ == "__main__":
    event_handoff()
    condition_handoff()
    semaphore_handoff()
    queue_handoff()
    simple_queue_handoff()
    barrier_handoff()
