"""A pytest test that fails only sometimes (a lost update); recorded as a
test node with `racetrace record -- pytest flaky_node_check.py::test_counter`.
(Not named test_*.py: the suite runs it only through racetrace.)"""

import sys
import threading


class Counter:
    def __init__(self):
        self.value = 0


def test_counter():
    sys.setswitchinterval(1e-5)
    counter = Counter()

    def worker():
        for _ in range(300):
            current = counter.value
            for _ in range(20):
                pass
            counter.value = current + 1

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.value == 600
