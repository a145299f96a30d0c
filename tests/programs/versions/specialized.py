"""The adaptive interpreter specializes a loop's attribute accesses
(LOAD_ATTR_INSTANCE_VALUE, STORE_ATTR_INSTANCE_VALUE, ...) once it has run
a while; the recorder must still see every access, whether the loop was
specialized before recording started or while it is recorded."""

import dis
import sys
import threading

import racetrace


class Point:
    def __init__(self):
        self.x = 0


p = Point()


def loop(n):
    for _ in range(n):
        p.x += 1


loop(20_000)
specialized = {i.opname for i in dis.get_instructions(loop, adaptive=True)}
attribute_ops = sorted(o for o in specialized if o.startswith(("LOAD_ATTR_", "STORE_ATTR_")))
print("specialized:", " ".join(attribute_ops))

with racetrace.record(sys.argv[1]):
    warm = threading.Thread(target=loop, args=(500,), name="warm")
    warm.start()
    warm.join()
    cold = threading.Thread(target=lambda: [loop(1) for _ in range(20_000)], name="in-recording")
    cold.start()
    cold.join()
