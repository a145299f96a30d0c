"""A worker updates shared state, then the program leaves with os._exit(3):
no atexit handler runs, yet the trace must hold the run and say how it
ended."""

import os
import threading


class State:
    v = 0


state = State()


def work():
    state.v += 1


t = threading.Thread(target=work)
t.start()
t.join()
state.v += 1
print("leaving", flush=True)
os._exit(3)
