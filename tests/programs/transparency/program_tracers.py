"""Trace functions of the program's own while it is recorded: a real
debugger (``bdb``, pdb's base) stepping a function and changing a
variable, a hook for new threads (``threading.settrace``), a tracer that
raises, and a worker that turns tracing off (``sys.settrace(None)``) before
an unsynchronized update. Everything printed must be what a plain run
prints, and the recorder must keep recording through all of it."""

import bdb
import sys
import threading

log = []


def compute(n):
    total = 0
    for i in range(n):
        total += i
    return total  # MARK: return total


class StepLogger(bdb.Bdb):
    """Stops on every line of `compute`, logs it, and at the return line
    sets `total` to 100 (what a person typing `total = 100` in pdb does)."""

    def user_call(self, frame, argument_list):
        self.set_step()

    def user_line(self, frame):
        if frame.f_code.co_name == "compute":
            log.append(("line", frame.f_lineno - compute.__code__.co_firstlineno))
            if frame.f_lineno == compute.__code__.co_firstlineno + 4:
                frame.f_locals["total"] = 100
        self.set_step()

    def user_return(self, frame, value):
        if frame.f_code.co_name == "compute":
            log.append(("return", value))
        self.set_step()


debugger = StepLogger()
print("debugged:", debugger.runcall(compute, 3))
print("tracer after the debugger:", sys.gettrace())
print(log)


def hook(frame, event, arg):
    log.append(("new thread", frame.f_code.co_name, event))
    return None


threading.settrace(hook)
t = threading.Thread(target=compute, args=(2,), name="hooked")
t.start()
t.join()
threading.settrace(None)
print("thread hook saw:", [e for e in log if e[0] == "new thread"])


def failing(frame, event, arg):
    raise RuntimeError("the tracer failed")


sys.settrace(failing)
try:
    compute(1)
except RuntimeError as e:
    print("tracer error reached the program:", e, "| tracer now:", sys.gettrace())


class Counter:
    value = 0


counter = Counter()


def work():
    sys.settrace(None)
    v = counter.value  # MARK: read
    counter.value = v + 1  # MARK: write


workers = [threading.Thread(target=work) for _ in range(2)]
for w in workers:
    w.start()
for w in workers:
    w.join()
print("counter:", counter.value)
