"""Two threads bump a counter held in a closure cell (`nonlocal`)."""

import threading


def make_counter():
    count = 0

    def bump():
        nonlocal count
        for _ in range(100):
            count += 1  # MARK: bump

    return bump


if __name__ == "__main__":
    bump = make_counter()
    threads = [threading.Thread(target=bump) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
