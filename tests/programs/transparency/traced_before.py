"""A Python trace function installed before recording starts (as under a
debugger or coverage.py's Python tracer) keeps receiving its events while
the block is recorded, and is still installed afterwards. Records into
sys.argv[1] when given, else runs plainly."""

import sys
import threading

calls = []


def tracer(frame, event, arg):
    if event == "call" and frame.f_code.co_name.startswith("probe"):
        calls.append(frame.f_code.co_name)
    return None


def probe_before():
    pass


def probe_during():
    pass


def probe_after():
    pass


class Box:
    value = 0


box = Box()


def bump():
    box.value += 1  # MARK: bump


def body():
    probe_during()
    workers = [threading.Thread(target=bump) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


sys.settrace(tracer)
probe_before()
if len(sys.argv) > 1:
    import racetrace

    with racetrace.record(sys.argv[1]):
        body()
else:
    body()
probe_after()
print(calls, sys.gettrace() is tracer)
