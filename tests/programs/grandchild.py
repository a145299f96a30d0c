"""The main thread races with a thread started by a worker thread."""

import threading


class Shared:
    def __init__(self):
        self.value = 0


def grandchild(shared):
    shared.value = 2  # MARK: grandchild


def worker(shared):
    t = threading.Thread(target=grandchild, args=(shared,), name="grandchild")
    t.start()
    t.join()


if __name__ == "__main__":
    shared = Shared()
    w = threading.Thread(target=worker, args=(shared,), name="worker")
    w.start()
    shared.value = 1  # MARK: main
    w.join()
