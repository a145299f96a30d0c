"""The lost update, fixed: both `with lock:` and explicit acquire/release."""

import threading


class Counter:
    def __init__(self):
        self.value = 0
        self.lock = threading.Lock()
        self.rlock = threading.RLock()

    def increment(self):
        with self.lock:
            current = self.value
            self.value = current + 1

    def increment_explicit(self):
        self.lock.acquire()
        try:
            self.value += 1
        finally:
            self.lock.release()

    def increment_reentrant(self):
        with self.rlock:
            with self.rlock:
                self.other = getattr(self, "other", 0) + 1


def worker(counter, times):
    for _ in range(times):
        counter.increment()
        counter.increment_explicit()
        counter.increment_reentrant()
        # A failed non-blocking acquire must not count as holding the lock.
        if counter.lock.acquire(blocking=False):
            counter.value += 1
            counter.lock.release()


if __name__ == "__main__":
    counter = Counter()
    threads = [threading.Thread(target=worker, args=(counter, 100)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("final", counter.value)
