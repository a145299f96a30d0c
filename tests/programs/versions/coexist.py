"""racetrace records next to another sys.monitoring tool (a coverage tool
on COVERAGE_ID counting lines, disabling each one it saw) and a
sys.settrace function set inside the recorded block: each keeps working as
without racetrace, and racetrace gives its own tool id back."""

import sys
import threading

import racetrace

mon = sys.monitoring
lines: list[int] = []
events: list[str] = []


def on_line(code, line):
    lines.append(line)
    return mon.DISABLE


mon.use_tool_id(mon.COVERAGE_ID, "fake-coverage")
mon.register_callback(mon.COVERAGE_ID, mon.events.LINE, on_line)
mon.set_events(mon.COVERAGE_ID, mon.events.LINE)


def tracer(frame, event, arg):
    events.append(event)
    return tracer


class Cell:
    def __init__(self):
        self.value = 0


cell = Cell()


def work():
    cell.value = cell.value + 1  # MARK: work


with racetrace.record(sys.argv[1]):
    sys.settrace(tracer)
    work()
    same = sys.gettrace() is tracer
    sys.settrace(None)
    t = threading.Thread(target=work)
    t.start()
    work()
    t.join()

mon.set_events(mon.COVERAGE_ID, 0)
print("settrace kept:", same, "saw calls and lines:", "call" in events and "line" in events)
print("coverage tool kept:", mon.get_tool(mon.COVERAGE_ID), "saw lines:", len(lines) > 5)
print("racetrace id given back:", all(mon.get_tool(i) != "racetrace" for i in range(6)))
