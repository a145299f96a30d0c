"""Two threads increment a shared counter without a lock."""

import threading


class Counter:
    def __init__(self):
        self.value = 0

    def increment(self):
        current = self.value  # MARK: read
        self.value = current + 1  # MARK: write


def worker(counter, times):
    for _ in range(times):
        counter.increment()


if __name__ == "__main__":
    counter = Counter()
    threads = [threading.Thread(target=worker, args=(counter, 200)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("final", counter.value)
