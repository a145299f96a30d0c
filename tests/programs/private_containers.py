"""Each thread works on containers of its own: truth tests, iteration,
len, comparison and formatting of them are accesses nobody else makes."""

import threading
from collections import deque


def worker(results, i):
    items = [i, i + 1, i + 2]
    table = {"a": i}
    pending = deque(items)
    total = 0
    while pending:
        total += pending.popleft()
    for k in table:
        total += table[k]
    if items and len(items) == 3 and items == sorted(items):
        total += sum(x for x in items)
    label = f"{items}{table}"
    results[i] = (total, label)


if __name__ == "__main__":
    results = [None] * 4
    threads = [threading.Thread(target=worker, args=(results, i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
