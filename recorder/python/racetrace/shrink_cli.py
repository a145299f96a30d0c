"""``racetrace shrink TRACE [--jobs N] -- script.py ARGS... | -- pytest ARGS...``

Shrinks the interleaving of a recorded failing run to the fewest
preemptions (then context switches) that still fail the same way, and
writes the minimized trace and its replay script.

Each candidate schedule runs in a fresh worker process (the program's
module state starts clean every time, and ``--jobs N`` runs N at once); a
worker that outlives ``--timeout`` is stopped and its candidate counts as
not failing. Two runs fail the same way when the exception type and the
file:line it was raised at are equal (or both deadlock).

Exit codes: 0 shrunk, trace and script written; 1 the trace's schedule does
not fail when replayed (nothing to shrink); 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import traceback
from typing import TypedDict

from racetrace import _native
from racetrace.control import DEFAULT_DEADLOCK_TIMEOUT
from racetrace.run_result import RunResult

EXIT_NOT_FAILING = 1
EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="racetrace shrink",
        description="Shrink a failing run's interleaving to the fewest preemptions; write its trace and replay script.",
    )
    p.add_argument("trace", help="the trace of a failing run (.rtrace)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="candidates run at once (default: %(default)s)")
    p.add_argument("--max-candidates", type=int, default=200, help="most candidate runs (default: %(default)s)")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="seconds one candidate may take (default: %(default)s)"
    )
    p.add_argument("--deadlock-timeout", type=float, default=DEFAULT_DEADLOCK_TIMEOUT, metavar="SECONDS")
    p.add_argument("-o", "--output", help="the minimized trace (default: TRACE with .shrunk before its suffix)")
    p.add_argument("--script", help="the replay script (default: repro_<program>.py)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.usage = "racetrace shrink TRACE [options] -- script.py ARGS... | -- pytest ARGS..."
    return p


# --- The worker: runs one candidate in this (fresh) process ------------------


def _where(e: BaseException) -> str:
    frames = traceback.extract_tb(e.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def _signature(e: BaseException) -> tuple[str, str]:
    if isinstance(e, SystemExit):
        # pytest's exit code: which test failed is in its output, not here.
        return (f"exit code {e.code}", "")
    return (type(e).__name__, _where(e))


class CandidateReport(TypedDict):
    """How a candidate run went, as a worker writes it (JSON)."""

    #: ``fail``, ``pass`` or ``diverged``.
    verdict: str
    #: For a failing run: what failed (exception type, exit code or
    #: ``deadlock``) and where.
    kind: str
    location: str
    steps: int
    #: For a failing run: the schedule executed, and per step whether it
    #: preempted.
    executed: str
    preemptive: list[bool]


def run_candidate(candidate: str, program: list[str], trace: str | None, deadlock_timeout: float) -> CandidateReport:
    """One controlled run of the program under ``candidate``: the report
    the shrinker needs."""
    from racetrace import control, programs

    parsed = programs.parse(program)
    if parsed is not None and parsed.kind == "pytest-node":
        from racetrace import node_run

        runner = node_run.NodeRun(schedule=candidate, trace=trace, deadlock_timeout=deadlock_timeout)
        node_run.run_node(parsed.target, parsed.args, runner)
        if runner.result is None:
            return CandidateReport(verdict="diverged", kind="", location="", steps=0, executed="", preemptive=[])
        return _report(runner.result)
    if parsed is not None and parsed.kind == "module":
        target = programs.module_target(parsed.target, parsed.args)
    elif program[0] == "pytest":
        target = control.pytest_target(program[1:])
    else:
        target = control.script_target(program[0], program[1:])
    res = control.execute(
        target,
        (),
        {},
        schedule=candidate,
        trace_source=None,
        seed=None,
        trace=trace,
        deadlock_timeout=deadlock_timeout,
        max_steps=control.DEFAULT_MAX_STEPS,
        include=(),
        exclude=(),
        program=target.__qualname__,
    )
    return _report(res)


def _report(res: RunResult) -> CandidateReport:
    verdict, kind, location = "pass", "", ""
    if res.status == "divergence":
        verdict = "diverged"
    elif res.status == "deadlock":
        verdict, kind = "fail", "deadlock"
    elif res.status in ("ok", "exception"):
        exc = res.exception
        if exc is None and res.worker_exceptions:
            exc = res.worker_exceptions[0][1]
        if exc is not None:
            kind, location = _signature(exc)
            verdict = "fail"
    # Anything else (a timeout, the step limit) did not fail the same way.
    return CandidateReport(
        verdict=verdict,
        kind=kind,
        location=location,
        steps=res.steps,
        executed=res.schedule if verdict == "fail" else "",
        preemptive=list(res.preemptive) if verdict == "fail" else [],
    )


def _worker_main(argv: list[str]) -> int:
    candidate, report, deadlock_timeout, trace = argv[:4]
    program = argv[5:] if argv[4:5] == ["--"] else argv[4:]
    out = run_candidate(candidate, program, trace or None, float(deadlock_timeout))
    with open(report, "w") as f:
        json.dump(out, f)
    # The program may have left threads behind: do not wait for them.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# --- The parent: the shrinker, with one worker process per candidate -------


class Runner:
    def __init__(self, program: list[str], timeout: float, deadlock_timeout: float) -> None:
        self.program = program
        self.timeout = timeout
        self.deadlock_timeout = deadlock_timeout

    def run(self, candidate: str, trace: str = "") -> CandidateReport | None:
        fd, report = tempfile.mkstemp(prefix="racetrace-shrink-", suffix=".json")
        os.close(fd)
        cmd = [
            sys.executable,
            "-m",
            "racetrace.shrink_cli",
            "--worker",
            candidate,
            report,
            str(self.deadlock_timeout),
            trace,
            "--",
            *self.program,
        ]
        try:
            subprocess.run(cmd, capture_output=True, timeout=self.timeout, check=False)
            with open(report) as f:
                out: CandidateReport = json.load(f)
                return out
        except (subprocess.TimeoutExpired, OSError, ValueError):
            # Hung (stopped by the timeout) or died before reporting.
            return None
        finally:
            os.unlink(report)

    def __call__(self, candidate: str) -> _native.RunReport:
        r = self.run(candidate)
        if r is None:
            return ("pass", "", "", "", [], 0)
        return (r["verdict"], r["kind"], r["location"], r["executed"], r["preemptive"], r["steps"])


def _default_output(trace: str) -> str:
    stem, ext = os.path.splitext(trace)
    return f"{stem}.shrunk{ext or '.rtrace'}"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        return _worker_main(argv[1:])
    # Everything after `--` is the program (options of its own included).
    cut = argv.index("--") if "--" in argv else len(argv)
    ns = _parser().parse_args(argv[:cut])
    given = argv[cut + 1 :]
    from racetrace.replay_cli import program_of

    try:
        schedule, _steps, _prog = _native.replay_source(ns.trace)
        program = program_of(ns.trace, given).words()
    except Exception as e:  # noqa: BLE001 - a clear message, exit 2
        print(f"racetrace shrink: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if ns.jobs < 1 or ns.max_candidates < 1 or ns.timeout <= 0:
        print("racetrace shrink: error: --jobs, --max-candidates and --timeout must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    if program[0].endswith(".py") and not os.path.isfile(program[0]):
        print(f"racetrace shrink: error: no such script: {program[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    runner = Runner(program, ns.timeout, ns.deadlock_timeout)
    tty = sys.stderr.isatty()

    def progress(p: _native.ShrinkProgress) -> None:
        if tty:
            print(
                f"\rshrinking: {p['candidates_run']}/{p['max_candidates']} runs,"
                f" best {p['best_preemptions']} preemption(s), {p['best_switches']} switch(es)  ",
                end="",
                file=sys.stderr,
            )

    # The search, then its second pass (partial moves, for a preempted run
    # that blocks partway), both in the analyzer: this process only runs
    # the candidates.
    try:
        res = _native.shrink_schedule(
            schedule, runner, ns.max_candidates, ns.jobs, progress, partial_moves=True
        )
    except ValueError as e:
        if tty:
            print(file=sys.stderr)
        print(f"racetrace shrink: {e}", file=sys.stderr)
        return EXIT_NOT_FAILING
    if tty:
        print(file=sys.stderr)
    out = ns.output or _default_output(ns.trace)
    # The full executed schedule, replayed strictly: the trace (and the
    # script made from it) force exactly the interleaving that failed.
    final = runner.run(res["executed"], trace=os.path.abspath(out))
    if final is None or final["verdict"] != "fail":
        print(f"racetrace shrink: error: the shrunk schedule did not fail when traced: {final}", file=sys.stderr)
        return EXIT_NOT_FAILING
    from racetrace import script_cli

    script_args = [out] + (["-o", ns.script] if ns.script else [])
    if script_cli.main(script_args) != 0:
        return EXIT_BAD_INPUT
    if ns.json:
        print(json.dumps({**res, "trace": out}))
    else:
        print(
            f"shrunk: {res['original_preemptions']} -> {res['preemptions']} preemption(s),"
            f" {res['original_switches']} -> {res['switches']} switch(es),"
            f" in {res['candidates_run']} runs; fails with {res['kind']} at {res['location']}\n"
            f"schedule: {res['schedule']}\n"
            f"trace: {out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
