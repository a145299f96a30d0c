"""Runs (racily) until killed."""

import threading
import time


class Counter:
    def __init__(self):
        self.value = 0


def worker(counter, stop):
    while not stop.is_set():
        counter.value += 1


if __name__ == "__main__":
    counter, stop = Counter(), threading.Event()
    threads = [threading.Thread(target=worker, args=(counter, stop), daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    print("started", flush=True)
    time.sleep(60)
