"""A counter whose increment is not atomic: two threads can read the same
value and both write it plus one (a lost update). Rarely, in a free run."""


def successor(n: int) -> int:
    # Some work between the read and the write of `increment`: a thread
    # that has to let another one run (the interpreter switches threads
    # every few milliseconds) is most likely to do so here.
    for _ in range(20):
        pass
    return n + 1


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        current = self.value
        self.value = successor(current)


class LockedCounter(Counter):
    def __init__(self) -> None:
        import threading

        super().__init__()
        self.lock = threading.Lock()

    def increment(self) -> None:
        with self.lock:
            current = self.value
            self.value = successor(current)
