"""Starts recording into sys.argv[1] and never stops it."""

import sys

import racetrace


class Data:
    pass


racetrace.record(sys.argv[1]).__enter__()
d = Data()
d.x = 1
print("exiting")
