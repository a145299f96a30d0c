"""Each thread touches many short-lived objects of its own. Python reuses
the addresses of dead objects; the recorder must not mistake a new object
for a dead one (no race), and must not keep them alive (their finalizers
run while recording). Records into sys.argv[1]."""

import sys
import threading

import racetrace

finalized = {"a": 0, "b": 0}


class Tmp:
    def __init__(self, owner):
        self.owner = owner

    def __del__(self):
        finalized[self.owner] += 1  # distinct keys per thread: no race


def churn(name):
    for i in range(2000):
        t = Tmp(name)
        t.value = i
        t.value += 1
        del t


if __name__ == "__main__":
    with racetrace.record(sys.argv[1]):
        threads = [threading.Thread(target=churn, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("finalized while recording:", sum(finalized.values()))
