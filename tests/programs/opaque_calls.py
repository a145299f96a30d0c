"""Library functions the recorder does not trace, called on shared lists
from two threads: `heapq.heappush` (C) and `random.shuffle` (Python code of
the standard library)."""

import heapq
import random
import threading

heap = []
deck = list(range(20))


def worker(i):
    for j in range(10):
        heapq.heappush(heap, i * 10 + j)  # MARK: push
        random.shuffle(deck)  # MARK: shuffle


if __name__ == "__main__":
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
