"""What schedules ``explore_interleavings`` tries, attempt by attempt.

The default, ``strategy="portfolio"``, mixes strategies that find
different bugs, in a fixed cycle of eight attempts (``LANES``):

- ``random``: a uniform choice among the runnable actors at every step;
  finds bugs that need many short preemptions at no particular place.
- ``pct1``..``pct3``: PCT at depths 1, 2 and 3 (``pct`` strategy module):
  random priorities with ``d - 1`` change points, which fall only on steps
  that touch shared state, among ``k`` such steps (``k`` measured by the
  first attempt). A depth-d bug is found with probability at least
  ``1/(n k^(d-1))`` per attempt.
- ``pb``: iterative preemption bounding, as in CHESS: every schedule with
  at most 0 preemptions, then 1, 2 and 3, enumerated by DPOR under that
  bound (``explore_dpor(preemption_bound=b)``), one execution per ``pb``
  attempt; random once bound 3 is exhausted. Finds every bug that needs
  few preemptions, in order.

Attempt ``i`` depends only on the seed and ``i`` (a ``pb`` attempt on how
many ``pb`` attempts came before it), so a seed gives the same attempts in
one process, in worker processes and in shards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from racetrace import _native
from racetrace.results import Failure
from racetrace.run_result import RunResult
from racetrace.runs import RunOptions, S, run_threads

STRATEGIES = ("portfolio", "pct", "random", "pb")
#: The portfolio's cycle of attempts (attempt 0 measures ``k``).
LANES = ("pct1", "pb", "random", "pct2", "pb", "random", "pct3", "random")
#: Preemption bounds of the ``pb`` lane, in order.
PB_BOUNDS = (0, 1, 2, 3)
#: PCT's step estimate for the first attempt.
FIRST_K = 100
_MASK = (1 << 64) - 1


def attempt_seed(seed: int, attempt: int) -> int:
    """splitmix64 of (seed, attempt): independent-looking seeds per attempt
    that depend on nothing else."""
    z = (seed + (attempt + 1) * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def lane_of(strategy: str, depth: int, attempt: int) -> str:
    """``random``, ``pctD`` or ``pb``: what attempt ``attempt`` runs."""
    if strategy == "portfolio":
        lane = LANES[attempt % len(LANES)]
        if lane.startswith("pct"):
            return f"pct{min(int(lane[3:]), depth)}"
        return lane
    if strategy == "pct":
        return f"pct{depth}"
    return strategy


def pb_slot(strategy: str, attempt: int) -> int:
    """How many ``pb`` attempts come before ``attempt``."""
    if strategy == "pb":
        return attempt
    per_cycle = LANES.count("pb")
    cycle, pos = divmod(attempt, len(LANES))
    return cycle * per_cycle + LANES[:pos].count("pb")


def describe(lane: str) -> str:
    if lane.startswith("pct"):
        return f"PCT at depth {lane[3:]}"
    if lane == "pb":
        return "preemption bounding (CHESS)"
    if lane.startswith("pb"):
        return f"preemption bounding (CHESS), at most {lane[2:]} preemption(s)"
    return "uniform random"


class Attempts:
    """Runs the attempts of one exploration in this process."""

    def __init__(
        self,
        setup: Callable[[], S],
        threads: Sequence[Callable[[S], object]],
        invariant: Callable[[S], bool],
        common: RunOptions,
        *,
        seed: int,
        strategy: str,
        depth: int,
        api: str = "explore_interleavings",
    ) -> None:
        self.test = (setup, threads, invariant)
        self.common = common
        self.seed = seed
        self.strategy = strategy
        self.depth = depth
        self.api = api
        self.k: int | None = None
        # The pb lane: the bound being enumerated, its engine, the next
        # slot it gives.
        self.pb_bound = 0
        self.pb: _native.DporExplorer | None = None
        self.pb_next = 0

    def run(self, attempt: int) -> tuple[RunResult, Failure | None, str]:
        """Runs attempt ``attempt``: (result, failure, what ran it: its
        lane, ``pbN`` for bound N)."""
        lane = lane_of(self.strategy, self.depth, attempt)
        if lane == "pb":
            got = self._pb(pb_slot(self.strategy, attempt))
            if got is not None:
                return got
            lane = "random"
        s = attempt_seed(self.seed, attempt)
        if lane == "random":
            return (*self._run(seed=s), lane)
        k = FIRST_K if attempt == 0 else self._k()
        res, failure = self._run(pct=(s, int(lane[3:]), k))
        if attempt == 0:
            self.k = max(1, _native.pct_shared_steps())
        return res, failure, lane

    def _run(self, **how: object) -> tuple[RunResult, Failure | None]:
        setup, threads, invariant = self.test
        return run_threads(
            setup, threads, invariant, api=self.api, schedule=None, trace=None, **how, **self.common  # type: ignore[arg-type]
        )

    def _k(self) -> int:
        """``k``: the shared-state steps of attempt 0 (run again here if
        this process did not run it)."""
        if self.k is None:
            self.run(0)
        assert self.k is not None
        return self.k

    def _pb(self, slot: int) -> tuple[RunResult, Failure | None, str] | None:
        """The ``slot``-th execution of iterative preemption bounding (the
        slots before it run first if this process skipped them); None once
        every bound is exhausted."""
        setup, threads, invariant = self.test
        options = {**self.common, "explore_timeouts": False}
        while self.pb_bound < len(PB_BOUNDS):
            bound = PB_BOUNDS[self.pb_bound]
            if self.pb is None:
                self.pb = _native.DporExplorer(bound, self.common["explore_timeouts"])
            if not self.pb.begin():
                self.pb = None
                self.pb_bound += 1
                continue
            try:
                res, failure = run_threads(
                    setup, threads, invariant, api=self.api, schedule=None, trace=None, strategy=self.pb, **options  # type: ignore[arg-type]
                )
            finally:
                self.pb.end()
            if res.status == "abandoned":
                continue
            self.pb_next += 1
            if self.pb_next - 1 == slot:
                return res, failure, f"pb{bound}"
            if self.pb_next - 1 > slot:
                raise RuntimeError(f"{self.api}: pb attempt {slot} asked after {self.pb_next - 1}")
        return None


def digest(schedules: Sequence[str]) -> str:
    """SHA-256 of the attempts' schedules, in attempt order: equal digests
    mean the same attempts."""
    h = hashlib.sha256()
    for s in schedules:
        h.update(s.encode() + b"\n")
    return h.hexdigest()
