"""A debugger-style save and restore of the trace function, in the main
thread and inside a worker, followed by an unsynchronized update: the
recorder must be back after each restore and see the race. A Python trace
function installed in between sees exactly the calls it sees plainly."""

import sys
import threading

calls = []


def tracer(frame, event, arg):
    if event == "call":
        calls.append(frame.f_code.co_name)
    return None


def probe():
    return 1


def debug_section():
    old = sys.gettrace()
    sys.settrace(tracer)
    probe()
    probe()
    sys.settrace(old)


class Counter:
    value = 0


counter = Counter()


def worker():
    old = sys.gettrace()
    sys.settrace(None)
    sys.settrace(old)
    probe()
    v = counter.value  # MARK: read
    counter.value = v + 1  # MARK: write


if __name__ == "__main__":
    debug_section()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("tracer saw:", calls)
    print("value:", counter.value)
