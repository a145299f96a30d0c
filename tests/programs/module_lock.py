"""A lock created at import time, before recording starts, still orders the
critical sections it protects. Records itself into sys.argv[1]."""

import sys
import threading

import racetrace

LOCK = threading.Lock()


class Box:
    def __init__(self):
        self.n = 0


def work(box):
    for _ in range(50):
        with LOCK:
            box.n += 1


def main():
    box = Box()
    threads = [threading.Thread(target=work, args=(box,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return box.n


if __name__ == "__main__":
    with racetrace.record(sys.argv[1]):
        print(main())
