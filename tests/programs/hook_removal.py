"""The trace function is removed from every thread when recording stops
(3.12+: the monitoring tool is freed, and no thread ever saw a trace
function). Records into sys.argv[1]; prints what sys.gettrace() saw."""

import sys
import threading

import racetrace
import racetrace.tracehooks

go = threading.Event()
seen = {}


def hooked():
    """Whether racetrace's hook is installed: a trace function in 3.11, a
    sys.monitoring tool from 3.12 on."""
    if sys.version_info >= (3, 12):
        return any(sys.monitoring.get_tool(i) == "racetrace" for i in range(6))
    # The interpreter's own gettrace: while recording, sys.gettrace shows
    # the program what it installed itself.
    return racetrace.tracehooks.real_gettrace() is not None


def worker():
    go.wait()  # blocked while recording stops; its next event removes the hook
    seen["worker after stop"] = sys.gettrace()


if __name__ == "__main__":
    t = threading.Thread(target=worker)
    with racetrace.record(sys.argv[1]):
        t.start()
        seen["main while recording"] = hooked()
        # The program sees what it installed itself: none.
        seen["program sees while recording"] = sys.gettrace()
    seen["hooked after stop"] = hooked()
    seen["main after stop"] = sys.gettrace()
    go.set()
    t.join()
    late = threading.Thread(target=lambda: seen.__setitem__("thread started later", sys.gettrace()))
    late.start()
    late.join()
    print(seen)
