"""A daemon thread still running when the program ends, and a thread that
leaves with sys.exit (which threading ends silently)."""

import sys
import threading
import time


class State:
    v = 0


state = State()
started = threading.Event()


def forever():
    while True:
        state.v += 1
        started.set()
        time.sleep(0.005)


def leaves():
    state.v += 1
    sys.exit(4)


threading.Thread(target=forever, name="daemon", daemon=True).start()
started.wait()
t = threading.Thread(target=leaves, name="leaves")
t.start()
t.join()
print("main ends")
