"""Two threads make every kind of access whose instructions differ between
CPython versions: attributes, subscripts and slices, globals, closure cells,
method calls (LOAD_METHOD in 3.11, LOAD_ATTR in 3.12+), calls with keywords
(KW_NAMES up to 3.12, CALL_KW in 3.13), operands deep in the value stack."""

import threading


class Box:
    def __init__(self):
        self.attr = 0
        self.items = [0, 0, 0]
        self.table = {"k": 0}

    def bump(self, by=1):
        self.attr = self.attr + by  # MARK: bump


def keyword(a, *, by):
    return a + by


counter = 0
box = Box()


def make_cell():
    cell = 0

    def touch():
        nonlocal cell
        cell = cell + 1  # MARK: cell
        return cell

    return touch


touch = make_cell()


def worker(n):
    global counter
    for _ in range(n):
        v = box.attr  # MARK: attr read
        box.attr = v + 1  # MARK: attr write
        box.items[1] = box.items[1] + 1  # MARK: subscript
        box.table["k"] += 1  # MARK: dict item
        counter = counter + 1  # MARK: global
        touch()
        box.bump(by=2)  # MARK: method call
        box.items.append(keyword(1, by=box.table["k"]))  # MARK: append
        head = box.items[0:2]  # MARK: slice
        deep = sum([v, box.table["k"], box.items[2 if head else 0]])  # MARK: deep
        del deep


threads = [threading.Thread(target=worker, args=(3,), name=f"w{i}") for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("done", box.attr, counter)
