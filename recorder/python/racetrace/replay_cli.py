"""``racetrace replay SOURCE [-- script.py ARGS... | -- -m module ARGS... | -- pytest ARGS...]``

Re-runs a program forcing the interleaving of SOURCE (a trace file, or an
``rts1:`` schedule), so that it fails the same way every time. Without a
program after ``--``, the one recorded in the trace's header is run: a
script, a module, a whole pytest run, or one test recorded by the pytest
plugin (whose call is replayed, its fixtures running as usual). A trace
whose source files changed since it was recorded is refused (the replay
would not run the recorded code): the error names the file.

Exit codes: the program's own (0, its ``sys.exit`` code, or 1 for an
exception, printed with its traceback, as ``python script.py`` would);
2 bad usage or bad input (unreadable trace, malformed schedule, missing
script); 3 the program diverged from the schedule; 4 deadlock; 5 timeout
(a wait the scheduler cannot see lasted longer than --deadlock-timeout) or
the step limit.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import zlib

from racetrace import _native, programs
from racetrace.control import DEFAULT_DEADLOCK_TIMEOUT, DEFAULT_MAX_STEPS, replay
from racetrace.programs import NodeNotRun, Program
from racetrace.run_result import ControlTimeout, DeadlockError, DivergenceError, ScheduleError, StepLimitError

EXIT_DIVERGENCE = 3
EXIT_DEADLOCK = 4
EXIT_TIMEOUT = 5


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="racetrace replay",
        description="Re-run a program forcing the interleaving of a trace or schedule.",
    )
    p.add_argument("source", help="trace file (.rtrace) or schedule (rts1:...)")
    p.add_argument(
        "--deadlock-timeout",
        type=float,
        default=DEFAULT_DEADLOCK_TIMEOUT,
        metavar="SECONDS",
        help="longest wait the scheduler cannot see (C extensions, real I/O) before giving up (default: %(default)s)",
    )
    p.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS, help="stop after this many steps")
    p.add_argument("-o", "--output", help="also write the trace of the replay to this file")
    p.add_argument("program", nargs=argparse.REMAINDER, help="-- script.py ARGS... or -- pytest ARGS...")
    return p


def program_of(source: str, given: list[str]) -> Program:
    """The program to replay: the one given after ``--``, else the one the
    trace names. Raises ``ScheduleError`` when there is none."""
    if given:
        p = programs.parse(given)
        if p is None:
            raise ScheduleError(
                f"not a program racetrace can run: {' '.join(given)!r} "
                "(give script.py ARGS, -m module ARGS or pytest ARGS)"
            )
        return p
    if source.strip().startswith("rts"):
        raise ScheduleError("a schedule names no program: give it after --, e.g. -- script.py ARGS")
    _, _, program = _native.replay_source(source)
    p = programs.of_header(program or "")
    if p is None:
        raise ScheduleError(
            f"the trace does not say which script to run (program: {program!r}): give it after --"
        )
    return p


def changed_sources(trace: str) -> list[str]:
    """The source files of a trace that changed since it was recorded. (A
    file not found here is passed over: a relative path may name it from
    another directory, and a replay that needs it stops at once anyway.)"""
    out = []
    for file, size, digest in _native.trace_sources(trace):
        try:
            with open(file, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if len(data) != size or zlib.crc32(data) != digest:
            out.append(f"{file} (changed since recording)")
    return out


def _run(program: Program, ns: argparse.Namespace) -> int:
    """Runs the program under the replayed schedule; returns its exit code
    or raises what it does."""
    if program.kind == "pytest-node":
        from racetrace import node_run

        # pytest reports the test's failure and says so in its exit code.
        code, _ = node_run.replay_node(
            ns.source,
            program.target,
            program.args,
            deadlock_timeout=ns.deadlock_timeout,
            max_steps=ns.max_steps,
            trace=ns.output,
            raise_failure=False,
        )
        return code
    if program.kind == "module":
        target = programs.module_target(program.target, program.args)
        replay(
            ns.source,
            target,
            deadlock_timeout=ns.deadlock_timeout,
            max_steps=ns.max_steps,
            trace=ns.output,
            raise_worker_exceptions=False,
        )
        return 0
    # Like `python script.py`: an exception in another thread is printed
    # (by threading.excepthook) but does not change the exit code.
    replay(
        ns.source,
        script=program.target if program.kind == "script" else None,
        argv=program.args,
        pytest_args=program.args if program.kind == "pytest" else None,
        deadlock_timeout=ns.deadlock_timeout,
        max_steps=ns.max_steps,
        trace=ns.output,
        raise_worker_exceptions=False,
    )
    return 0


def main(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    given = ns.program[1:] if ns.program[:1] == ["--"] else ns.program
    try:
        try:
            _native.replay_source(ns.source)
        except ValueError as e:
            raise ScheduleError(str(e)) from None
        program = program_of(ns.source, given)
        if program.kind == "script" and not os.path.isfile(program.target):
            print(f"racetrace replay: error: no such script: {program.target}", file=sys.stderr)
            return 2
        if not ns.source.strip().startswith("rts"):
            changed = changed_sources(ns.source)
            if changed:
                print(
                    f"racetrace replay: error: {', '.join(changed)}: the program is not the one recorded, "
                    "so the recorded order cannot be forced on it (record it again)",
                    file=sys.stderr,
                )
                return 2
        try:
            return _run(program, ns)
        except SystemExit as e:
            code = e.code
            if code is None:
                return 0
            if isinstance(code, int):
                return code
            print(code, file=sys.stderr)
            return 1
    except ScheduleError as e:
        print(f"racetrace replay: error: {e}", file=sys.stderr)
        return 2
    except DivergenceError as e:
        print(f"racetrace replay: divergence: {e}", file=sys.stderr)
        return EXIT_DIVERGENCE
    except DeadlockError as e:
        print(f"racetrace replay: {e}", file=sys.stderr)
        return EXIT_DEADLOCK
    except (ControlTimeout, StepLimitError) as e:
        print(f"racetrace replay: {e}", file=sys.stderr)
        return EXIT_TIMEOUT
    except NodeNotRun as e:
        print(f"racetrace replay: error: {e}", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
