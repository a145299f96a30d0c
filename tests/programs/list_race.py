"""One thread appends to a list while another reads its length."""

import threading

items = []


def producer():
    for i in range(100):
        items.append(i)  # MARK: append


def observer(sizes):
    for _ in range(100):
        sizes.append(len(items))  # MARK: len


if __name__ == "__main__":
    sizes = []
    threads = [threading.Thread(target=producer), threading.Thread(target=observer, args=(sizes,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
