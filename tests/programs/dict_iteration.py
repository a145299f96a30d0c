"""One thread iterates a dict while another inserts keys into it."""

import threading

table = {i: i for i in range(50)}


def reader(out):
    try:
        for key in table:  # MARK: iterate
            out.append(key)
    except RuntimeError:  # dictionary changed size during iteration
        pass


def writer():
    for i in range(50, 100):
        table[i] = i  # MARK: insert


if __name__ == "__main__":
    seen = []
    threads = [threading.Thread(target=reader, args=(seen,)), threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
