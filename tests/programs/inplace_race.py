"""`items += more` extends the list in place, racing with `len(items)`."""

import threading


class Holder:
    def __init__(self):
        self.items = []


def writer(h):
    for i in range(5):
        h.items += [i]  # MARK: extend


def reader(h, out):
    for _ in range(5):
        out.append(len(h.items))  # MARK: len


if __name__ == "__main__":
    h, out = Holder(), []
    threads = [threading.Thread(target=writer, args=(h,)), threading.Thread(target=reader, args=(h, out))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
