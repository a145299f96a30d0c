import threading

from counter import LockedCounter


def test_locked_counter() -> None:
    counter = LockedCounter()
    threads = [threading.Thread(target=lambda: [counter.increment() for _ in range(1000)]) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.value == 2000


def test_no_threads() -> None:
    assert sum(range(10)) == 45
