"""Two threads increment a counter without a lock; main checks the total.
Fails only sometimes when run freely: an update is lost when a thread is
switched out between the read and the write (rarely in a plain run, often
when recorded, which slows each instruction down; how often depends on the
machine)."""

import sys
import threading

sys.setswitchinterval(1e-4)
N = 300


class Counter:
    def __init__(self):
        self.value = 0

    def increment(self):
        current = self.value  # MARK: read
        for _ in range(20):
            pass
        self.value = current + 1  # MARK: write


def worker(counter):
    for _ in range(N):
        counter.increment()


counter = Counter()
threads = [threading.Thread(target=worker, args=(counter,)) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert counter.value == 2 * N, f"lost updates: {counter.value} != {2 * N}"
print("total", counter.value)
