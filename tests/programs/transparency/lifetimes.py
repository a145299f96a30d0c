"""Objects held only by containers the recorder has seen (a shared dict, a
shared list, an instance's __dict__, a pure-Python thread-local) die when
the program drops them: their __del__ and weakref callbacks run at the same
point as plainly. Prints the order of events."""

import gc
import sys
import threading
import weakref
from _threading_local import local as PyLocal

log = []


class Noisy:
    def __init__(self, name):
        self.name = name

    def __del__(self):
        log.append(f"del {self.name}")


class Box:
    pass


def fill(shared_dict, shared_list, box):
    shared_dict["k"] = Noisy("in-dict")
    shared_list.append(Noisy("in-list"))
    box.item = Noisy("in-box")


def thread_local_refs():
    data = PyLocal()
    refs = []

    def target():
        w = Box()
        data.w = w
        refs.append(weakref.ref(w))

    for _ in range(10):
        t = threading.Thread(target=target)
        t.start()
        t.join()
    del t
    gc.collect()
    return sum(r() is not None for r in refs)


def deep_list(n):
    # Registered at every level (each append is a recorded access), then
    # freed in one go: the interpreter's trashcan must still bound the
    # recursion of the deallocations.
    head = []
    cur = head
    for _ in range(n):
        nxt = []
        cur.append(nxt)
        cur = nxt
    return head


if __name__ == "__main__":
    d, lst, box = {}, [], Box()
    threads = [threading.Thread(target=fill, args=(d, lst, box))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.append("dropping dict")
    d.clear()
    log.append("dropping list")
    del lst
    log.append("dropping box")
    del box
    log.append("done")
    alive_cb = []
    holder = {"x": Box()}
    ref = weakref.ref(holder["x"], lambda r: log.append("weakref callback"))
    holder.pop("x")
    log.append("after pop")
    print("\n".join(log))
    print("thread-local objects alive:", thread_local_refs())
    big = deep_list(200_000)
    del big
    print("deep list freed")
    sys.stdout.flush()
