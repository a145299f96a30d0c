"""Exits with the code given as first argument, after a racy update."""

import sys
import threading


class State:
    hits = 0


def hit():
    State.hits += 1  # MARK: hit


if __name__ == "__main__":
    t = threading.Thread(target=hit)
    t.start()
    hit()
    t.join()
    sys.exit(int(sys.argv[1]))
