"""Races inside a site-packages-like library and a generated module."""

import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "site-packages"), os.path.join(HERE, "generated")]

import gen  # noqa: E402
from mylib import helper  # noqa: E402


class Obj:
    pass


def worker(obj):
    for _ in range(20):
        helper.bump(obj)
        gen.bump(obj)
        obj.own = getattr(obj, "own", 0) + 1  # MARK: own


if __name__ == "__main__":
    obj = Obj()
    threads = [threading.Thread(target=worker, args=(obj,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
