"""A lost update: two threads increment a shared counter without a lock.

`self.value += 1` is a read followed by a write. When both threads read the
same value before either writes, one increment is lost, so the final count
is sometimes lower than expected. racetrace reports the race between the
read and the write of `counter.value` in the two workers.
"""

import threading


class Counter:
    def __init__(self):
        self.value = 0

    def increment(self):
        current = self.value
        self.value = current + 1


def worker(counter, times):
    for _ in range(times):
        counter.increment()


def main(times=1000):
    counter = Counter()
    threads = [
        threading.Thread(target=worker, args=(counter, times), name=f"worker-{i}")
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"expected {2 * times}, got {counter.value}")
    return counter.value


if __name__ == "__main__":
    main()
