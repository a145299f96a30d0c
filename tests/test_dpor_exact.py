"""explore_dpor explores each Mazurkiewicz class exactly once on programs
whose control flow depends on the values read, where the keys a run meets
(and so the ids it gives them) depend on the schedule. Expected counts and
final states come from an independent enumeration (the analyzer's
brute-force model of lastzero, and random exploration here)."""

from __future__ import annotations

import pytest

import racetrace

#: Mazurkiewicz classes of lastzero(n) (the analyzer's brute force model
#: gives 12, 28, 64 for n = 3..5; the literature gives 144 for n = 6).
LASTZERO_CLASSES = {3: 12, 4: 28, 5: 64, 6: 144}


class Shared:
    def __init__(self, n: int, cells: bool) -> None:
        self.a: list = [Cell() for _ in range(n + 1)] if cells else [0] * (n + 1)
        self.res: int | None = None


class Cell:
    def __init__(self) -> None:
        self.v = 0


def lastzero(n: int, cells: bool):
    """Actor 0 scans a[n]..a[0] for the last zero; actor i does
    a[i] = a[i-1] + 1. With `cells`, each a[i] is an object of its own."""

    def scan(s: Shared) -> None:
        i = n
        if cells:
            while s.a[i].v != 0:
                i -= 1
        else:
            while s.a[i] != 0:
                i -= 1
        s.res = i

    def bump(i: int):
        def actor(s: Shared) -> None:
            if cells:
                s.a[i].v = s.a[i - 1].v + 1
            else:
                s.a[i] = s.a[i - 1] + 1

        return actor

    return (lambda: Shared(n, cells)), [scan] + [bump(i) for i in range(1, n + 1)]


def final(s: Shared) -> tuple:
    values = tuple(c.v for c in s.a) if isinstance(s.a[0], Cell) else tuple(s.a)
    return values, s.res


@pytest.mark.parametrize("cells", [False, True], ids=["items", "cells"])
@pytest.mark.parametrize("n", sorted(LASTZERO_CLASSES))
def test_lastzero_explores_exactly_its_classes(n: int, cells: bool) -> None:
    setup, actors = lastzero(n, cells)
    seen: set[tuple] = set()
    res = racetrace.explore_dpor(setup, actors, lambda s: seen.add(final(s)) or True)
    assert res.exhausted and not res.failures
    assert res.num_explored == LASTZERO_CLASSES[n]
    assert res.stats["sleep_blocked"] == 0
    # Every final state random exploration reaches is among DPOR's.
    if n <= 4:
        reached: set[tuple] = set()
        racetrace.explore_interleavings(
            setup, actors, lambda s: reached.add(final(s)) or True, max_attempts=800, seed=7
        )
        assert reached <= seen, sorted(reached - seen)
