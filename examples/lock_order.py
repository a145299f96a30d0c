"""Inconsistent lock order: a potential deadlock.

`transfer` takes lock_a then lock_b; `audit` takes lock_b then lock_a. Most
runs finish, but if each thread takes its first lock before the other takes
its second, both wait forever. racetrace reports the lock-order cycle even
from a run that finished.
"""

import threading

lock_a = threading.Lock()
lock_b = threading.Lock()
balance = {"a": 100, "b": 0}


def transfer():
    with lock_a:
        with lock_b:
            balance["a"] -= 10
            balance["b"] += 10


def audit():
    with lock_b:
        with lock_a:
            total = balance["a"] + balance["b"]
    assert total == 100, total


def main():
    threads = [
        threading.Thread(target=transfer, name="transfer"),
        threading.Thread(target=audit, name="audit"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("balances:", balance)


if __name__ == "__main__":
    main()
