"""A counter whose increment is not atomic: two threads can read the same
value and both write it plus one (a lost update). Rarely, in a free run."""


def successor(n: int) -> int:
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
