"""A worker whose trace function is replaced from C (what coverage.py's C
tracer does when it starts in a thread): racetrace cannot follow it, and
the trace must say where the worker stopped being recorded."""

import ctypes
import threading


class State:
    v = 0


state = State()


def work():
    state.v += 1
    ctypes.pythonapi.PyEval_SetTrace(None, None)  # MARK: replaced
    state.v += 1


t = threading.Thread(target=work, name="unhooked")
t.start()
t.join()
state.v += 1
print("done", state.v)
