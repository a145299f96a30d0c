"""Two threads update a module global without a lock."""

import threading

counter = 0


def worker():
    global counter
    for _ in range(100):
        counter += 1  # MARK: update


if __name__ == "__main__":
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(len(str(counter)))  # `len` and `str` are builtins, not globals
