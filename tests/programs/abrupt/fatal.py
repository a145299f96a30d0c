"""Two threads update shared state without a lock, then the process ends
by a signal, chosen by argv[1]:

- ``segv``: a crash in C (ctypes reads address 0);
- ``abort``: ``os.abort()`` (SIGABRT);
- ``term``: the process sends itself SIGTERM;
- ``handled``: the same, with a Python handler installed by the program,
  which prints and exits with 7.

The events before the signal must be in the trace, and the process must end
as it does plainly."""

import ctypes
import os
import signal
import sys
import threading


class State:
    v = 0


state = State()


def work():
    for _ in range(3):
        v = state.v  # MARK: read
        state.v = v + 1  # MARK: write


how = sys.argv[1]
if how == "handled":

    def on_term(signum, frame):
        print("handled SIGTERM", flush=True)
        sys.exit(7)

    signal.signal(signal.SIGTERM, on_term)

workers = [threading.Thread(target=work) for _ in range(2)]
for t in workers:
    t.start()
for t in workers:
    t.join()
print("ending by", how, flush=True)
if how == "segv":
    ctypes.string_at(0)
elif how == "abort":
    os.abort()
else:
    os.kill(os.getpid(), signal.SIGTERM)
    # SIGTERM is delivered at once; a handler runs at the next bytecode.
    signal.pause()
