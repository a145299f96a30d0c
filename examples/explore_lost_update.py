"""Every meaningfully different interleaving of two increments, explored.

``racetrace.explore_dpor`` runs the two threads under control once per
class of interleavings (DPOR), finds the schedule that loses an update,
shrinks it, explains it and replays it to say how reliably it fails.
Exits 0 when the bug is found (this is a demo of finding it).
"""

import sys
from pathlib import Path

import racetrace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lost_update import Counter  # noqa: E402


def increment(counter):
    counter.increment()


def main():
    result = racetrace.explore_dpor(Counter, [increment, increment], lambda c: c.value == 2)
    print(f"explored {result.num_explored} interleavings (exhausted: {result.exhausted})")
    print(result.explanation)
    return 1 if result.property_holds else 0


if __name__ == "__main__":
    sys.exit(main())
