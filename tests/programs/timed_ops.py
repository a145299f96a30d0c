"""Timed and non-blocking operations that fail do not synchronize: each
section races on its own attribute. Helper events make the failures
certain; they are placed so that they do not order the two racing writes."""

import threading


class Data:
    pass


def run(*targets):
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def timed_out_event_wait():
    d, ready, tried = Data(), threading.Event(), threading.Event()

    def producer():
        tried.wait()
        d.e = 1  # MARK: event-write
        ready.set()

    def consumer():
        assert not ready.wait(timeout=0.01)  # times out: no ordering
        tried.set()
        d.e = 2  # MARK: event-other

    run(producer, consumer)


def failed_lock_acquire():
    d, lock = Data(), threading.Lock()
    held, tried = threading.Event(), threading.Event()

    def holder():
        with lock:
            held.set()
            d.l = 1  # MARK: lock-write
            tried.wait()

    def impatient():
        held.wait()
        assert not lock.acquire(timeout=0.01)
        tried.set()
        d.l = 2  # MARK: lock-other

    run(holder, impatient)


def failed_semaphore_acquire():
    d, sem, tried = Data(), threading.Semaphore(0), threading.Event()

    def producer():
        tried.wait()
        d.s = 1  # MARK: sem-write
        sem.release()

    def consumer():
        assert not sem.acquire(timeout=0.01)  # fails
        tried.set()
        d.s = 2  # MARK: sem-other

    run(producer, consumer)


if __name__ == "__main__":
    timed_out_event_wait()
    failed_lock_acquire()
    failed_semaphore_acquire()
