"""A thread started before recording starts is recorded too (from its next
instruction). Records into sys.argv[1]."""

import sys
import threading

import racetrace


class Shared:
    def __init__(self):
        self.before = 0
        self.after = 0


shared = Shared()
go = threading.Event()


def server():
    go.wait()
    shared.before = 1  # ordered after go.set(): no race with that write
    shared.after = 1  # MARK: server


if __name__ == "__main__":
    t = threading.Thread(target=server, name="server")
    t.start()
    with racetrace.record(sys.argv[1]):
        shared.before = 2
        go.set()
        shared.after = 2  # MARK: main
        t.join()
