"""Calls through f(*args, **kwargs) are inspected like plain calls: a lock
taken and released that way orders its critical sections, and setattr
through *args races with a getattr."""

import threading


class Obj:
    pass


lock = threading.Lock()
no_args = ()


def locked(box):
    for _ in range(20):
        lock.acquire(*no_args, **{"blocking": True})
        box.n = getattr(box, "n", 0) + 1
        lock.release(*no_args)


def writer(o):
    setattr(*(o, "v", 1))  # MARK: star-setattr


def reader(o, out):
    out.append(getattr(o, "v", None))  # MARK: getattr


if __name__ == "__main__":
    box, o, out = Obj(), Obj(), []
    threads = [
        threading.Thread(target=locked, args=(box,)),
        threading.Thread(target=locked, args=(box,)),
        threading.Thread(target=writer, args=(o,)),
        threading.Thread(target=reader, args=(o, out)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
