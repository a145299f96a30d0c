import threading

from counter import Counter

TIMES = 3000


def work(counter: Counter, start: threading.Barrier) -> None:
    start.wait()
    for _ in range(TIMES):
        counter.increment()


def test_counter() -> None:
    counter = Counter()
    start = threading.Barrier(2)
    threads = [threading.Thread(target=work, args=(counter, start), name=f"worker-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.value == 2 * TIMES
