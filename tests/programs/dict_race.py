"""Check-then-insert on a shared dict: both threads may see the key missing."""

import threading

cache = {}


def fill(value):
    for _ in range(20):
        if "k" not in cache:  # MARK: check
            cache["k"] = value  # MARK: insert


if __name__ == "__main__":
    threads = [threading.Thread(target=fill, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
