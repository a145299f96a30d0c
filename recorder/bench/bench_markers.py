"""Marker-level exploration against explore_dpor on the same program:
executions per second, and Hypothesis examples per second.

    python recorder/bench/bench_markers.py [--repeat R]

The program: three actors each read then write one shared attribute, with
a marker on each line (`v = s.x  # racetrace: read`, `s.x = v + 1  #
racetrace: write`), invariant always true so that every execution runs.
`explore_markers` runs every order of the markers (9!/(3!3!3!) = 1680
orders, each actor's sequence being read, write, end, plus the run that
finds them); `explore_dpor` runs every Mazurkiewicz trace of the same
program (36: the order of the reads and writes of `s.x` that matter). Each round
runs both, alternately; the medians of the rounds are reported with their
ratio. Everything is included (a controlled run per execution, setup and
the invariant). Then Hypothesis: examples per second of a `@given` test
over `racetrace.hypothesis.schedules()` on the same program.
"""

from __future__ import annotations

import argparse
import statistics
import time

import racetrace


class State:
    def __init__(self) -> None:
        self.x = 0


def rw(s: State) -> None:
    v = s.x  # racetrace: read
    s.x = v + 1  # racetrace: write


ACTORS = {"alice": rw, "bob": rw, "carol": rw}


def always(_s: State) -> bool:
    return True


def markers_rate() -> tuple[float, int]:
    t = time.perf_counter()
    r = racetrace.explore_markers(State, ACTORS, always, stop_on_first=False)
    return (r.num_explored + 1) / (time.perf_counter() - t), r.num_explored


def dpor_rate() -> tuple[float, int]:
    t = time.perf_counter()
    r = racetrace.explore_dpor(State, list(ACTORS.values()), always, stop_on_first=False, progress=False)
    return r.num_explored / (time.perf_counter() - t), r.num_explored


def hypothesis_rate(examples: int) -> float:
    from hypothesis import HealthCheck, given, settings

    from racetrace.hypothesis import run, schedules

    count = [0]

    @settings(max_examples=examples, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(schedules(ACTORS))
    def check(schedule: str) -> None:
        count[0] += 1
        assert run(State, ACTORS, always, schedule).property_holds

    t = time.perf_counter()
    check()
    return count[0] / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--examples", type=int, default=300)
    args = ap.parse_args()
    m_rates, d_rates, h_rates = [], [], []
    m_n = d_n = 0
    for _ in range(args.repeat):
        rate, m_n = markers_rate()
        m_rates.append(rate)
        rate, d_n = dpor_rate()
        d_rates.append(rate)
        h_rates.append(hypothesis_rate(args.examples))
    m, d, h = statistics.median(m_rates), statistics.median(d_rates), statistics.median(h_rates)
    def spread(xs: list[float]) -> str:
        return f"{min(xs):.0f}-{max(xs):.0f}"

    print(f"explore_markers: {m_n} orders, {m:.0f} executions/s (median of {args.repeat}, {spread(m_rates)})")
    print(f"explore_dpor:    {d_n} executions, {d:.0f} executions/s (median of {args.repeat}, {spread(d_rates)})")
    print(f"ratio markers/dpor (executions/s): {m / d:.2f}")
    print(
        f"hypothesis schedules(): {h:.0f} examples/s (median of {args.repeat}, {spread(h_rates)},"
        f" {args.examples} examples each)"
    )


if __name__ == "__main__":
    main()
