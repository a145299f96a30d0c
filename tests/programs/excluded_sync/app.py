"""Two threads update a counter through a helper from guard.py: under its
lock (`with` or acquire/release, by argument), or, with "unlocked", not.
Recorded with guard.py excluded: the exclusion must not hide the lock."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guard  # noqa: E402


class Counter:
    value = 0


counter = Counter()


def bump():
    counter.value += 1  # MARK: bump


wrap = {"with": guard.locked, "explicit": guard.locked_explicitly, "unlocked": guard.unlocked}[
    sys.argv[1]
]


def worker():
    for _ in range(3):
        wrap(bump)


if __name__ == "__main__":
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("value", counter.value)
