"""A controlled run reuses the code tables of the run before it when the
configuration is the same (``session::config``); a run with other include
or exclude patterns decides again what it traces, both ways."""

from __future__ import annotations

import threading
from pathlib import Path

import racetrace
from record_helpers import line_of, race_lines, races


class Counter:
    def __init__(self) -> None:
        self.value = 0


def incr(c: Counter) -> None:
    v = c.value  # MARK: read
    c.value = v + 1  # MARK: write


def both_counted(c: Counter) -> bool:
    return c.value == 2


def explore(**kw: object) -> racetrace.ExploreResult:
    return racetrace.explore_dpor(Counter, [incr, incr], both_counted, shrink=False, **kw)  # type: ignore[arg-type]


def test_patterns_changed_between_explorations_are_obeyed_each_time() -> None:
    this_file = f"*/{Path(__file__).name}"
    for _ in range(2):
        # Not traced: the increments are invisible, one execution, no bug.
        hidden = explore(exclude=[this_file])
        assert hidden.property_holds and hidden.num_explored == 1
        # Traced again: the lost update, on the read and write lines.
        seen = explore()
        assert not seen.property_holds and seen.num_explored == 2


def two_threads(c: Counter) -> None:
    threads = [threading.Thread(target=incr, args=(c,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_a_recording_after_many_controlled_runs_still_sees_the_race(tmp_path: Path) -> None:
    # Tables made for controlled runs (which intercept all code) are not
    # those of a free-running recording: it builds its own.
    for _ in range(10):
        assert explore().num_explored == 2
    trace = tmp_path / "run.rtrace"
    racetrace.record_call(two_threads, Counter(), path=trace)
    here = Path(__file__)
    lines = {f"{here}:{line_of(here, 'read')}", f"{here}:{line_of(here, 'write')}"}
    assert race_lines(races(trace), "Counter.value") == lines
    # And a controlled run after it reuses nothing of the recording's.
    assert not explore().property_holds
