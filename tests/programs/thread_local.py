"""threading.local attributes are per thread: never a race."""

import threading

state = threading.local()


def worker(i):
    for _ in range(10):
        state.value = i
        assert state.value == i


if __name__ == "__main__":
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
