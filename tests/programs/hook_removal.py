"""The trace function is removed from every thread when recording stops.
Records into sys.argv[1]; prints what sys.gettrace() saw."""

import sys
import threading

import racetrace
import racetrace.tracehooks

go = threading.Event()
seen = {}


def worker():
    go.wait()  # blocked while recording stops; its next event removes the hook
    seen["worker after stop"] = sys.gettrace()


if __name__ == "__main__":
    t = threading.Thread(target=worker)
    with racetrace.record(sys.argv[1]):
        t.start()
        # The recorder occupies the thread's trace slot (the interpreter's
        # own gettrace sees it); the program sees what it installed: none.
        seen["main while recording"] = racetrace.tracehooks.real_gettrace() is not None
        seen["program sees while recording"] = sys.gettrace()
    seen["main after stop"] = sys.gettrace()
    go.set()
    t.join()
    late = threading.Thread(target=lambda: seen.__setitem__("thread started later", sys.gettrace()))
    late.start()
    late.join()
    print(seen)
