"""Copying a list (`list(items)`) reads all of it, racing with an append."""

import threading

items = []


def writer():
    for i in range(5):
        items.append(i)  # MARK: append


def reader(out):
    out.append(list(items))  # MARK: copy


if __name__ == "__main__":
    out = []
    threads = [threading.Thread(target=writer), threading.Thread(target=reader, args=(out,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
