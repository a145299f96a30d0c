"""Timed and non-blocking operations that fail do not synchronize: each
section races on its own attribute. Sleeps only shape this run; they are
not synchronization."""

import threading
import time


class Data:
    pass


def run(*targets):
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def timed_out_event_wait():
    d, ready = Data(), threading.Event()

    def producer():
        time.sleep(0.2)
        d.e = 1  # MARK: event-write
        ready.set()

    def consumer():
        ready.wait(timeout=0.01)  # times out: no ordering
        d.e = 2  # MARK: event-other

    run(producer, consumer)


def failed_lock_acquire():
    d, lock = Data(), threading.Lock()

    def holder():
        with lock:
            d.l = 1  # MARK: lock-write
            time.sleep(0.2)

    def impatient():
        time.sleep(0.05)
        if not lock.acquire(timeout=0.01):
            d.l = 2  # MARK: lock-other
        else:
            lock.release()

    run(holder, impatient)


def failed_semaphore_acquire():
    d, sem = Data(), threading.Semaphore(0)

    def producer():
        time.sleep(0.2)
        d.s = 1  # MARK: sem-write
        sem.release()

    def consumer():
        sem.acquire(timeout=0.01)  # fails
        d.s = 2  # MARK: sem-other

    run(producer, consumer)


if __name__ == "__main__":
    timed_out_event_wait()
    failed_lock_acquire()
    failed_semaphore_acquire()
