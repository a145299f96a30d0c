"""A trace function installed before recording (a debugger's, a coverage
tool's) is back once recording stops. Records into sys.argv[1]."""

import sys

import racetrace

calls = []


def tracer(frame, event, arg):
    calls.append(frame.f_code.co_name)
    return None


def probe():
    return 1


if __name__ == "__main__":
    sys.settrace(tracer)
    with racetrace.record(sys.argv[1]):
        probe()
    print("restored:", sys.gettrace() is tracer)
    calls.clear()
    probe()
    sys.settrace(None)
    print("called after:", calls)
