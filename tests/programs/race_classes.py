"""Two kinds of race in one program: workers append to a shared list
(each append is atomic, only the order of items varies) and increment a
shared counter (a read and a write split across bytecodes: lost update)."""

import threading


class Counter:
    n = 0


counter = Counter()
items: list[int] = []


def work(i: int) -> None:
    items.append(i)  # MARK: append
    counter.n += 1  # MARK: increment


threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
