"""Two tasks of a thread pool update one counter without a lock. (They
meet at a barrier first, so that each runs in a worker of its own.)"""

import threading
from concurrent.futures import ThreadPoolExecutor


class Counter:
    def __init__(self):
        self.n = 0


def bump(c, barrier):
    barrier.wait()
    v = c.n  # MARK: read
    c.n = v + 1  # MARK: write


if __name__ == "__main__":
    c = Counter()
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(bump, c, barrier) for _ in range(2)]
        for f in futures:
            f.result()
    print(c.n)
