"""Two consumers check that a shared deque is non-empty, then pop from it:
the check and the pop are separate steps."""

import threading
from collections import deque

jobs = deque(range(200))
done = []


def consumer():
    while True:
        if not jobs:  # MARK: check
            return
        try:
            done.append(jobs.popleft())  # MARK: pop
        except IndexError:  # the other consumer took the last one
            return


if __name__ == "__main__":
    threads = [threading.Thread(target=consumer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
