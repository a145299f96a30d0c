"""Forks while recording; the child does shared-state work and exits. Its
events must not land in (or corrupt) the parent's trace."""

import os
import threading


class Box:
    def __init__(self):
        self.n = 0


def bump(box, times):
    for _ in range(times):
        box.n += 1


if __name__ == "__main__":
    box = Box()
    t = threading.Thread(target=bump, args=(box, 100))
    t.start()
    pid = os.fork()
    if pid == 0:
        bump(box, 100_000)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    t.join()
    print("child status", status)
