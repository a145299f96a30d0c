"""Two threads take the same two locks in opposite orders. The second one
waits (without synchronizing) for the first to finish, so this run does not
deadlock; another schedule could."""

import threading
import time

lock_a = threading.Lock()
lock_b = threading.Lock()


def transfer():
    with lock_a:  # MARK: a-then
        with lock_b:  # MARK: then-b
            pass


def audit():
    # Polling is_alive() is not a synchronization: the threads stay unordered.
    while threads[0].is_alive():
        time.sleep(0.01)
    lock_b.acquire()  # MARK: b-then
    lock_a.acquire()  # MARK: then-a
    lock_a.release()
    lock_b.release()


if __name__ == "__main__":
    threads = [threading.Thread(target=transfer), threading.Thread(target=audit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
