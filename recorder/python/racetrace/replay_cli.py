"""``racetrace replay SOURCE [-- script.py ARGS... | -- pytest ARGS...]``

Re-runs a program forcing the interleaving of SOURCE (a trace file, or an
``rts1:`` schedule), so that it fails the same way every time. Without a
program after ``--``, the one recorded in the trace's header is run.

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
import shlex
import sys
import traceback

from racetrace import _native
from racetrace.control import DEFAULT_DEADLOCK_TIMEOUT, DEFAULT_MAX_STEPS, replay
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


def program_of(source: str, given: list[str]) -> list[str]:
    if given:
        return given
    if source.strip().startswith("rts"):
        raise ScheduleError("a schedule names no program: give it after --, e.g. -- script.py ARGS")
    _, _, program = _native.replay_source(source)
    words = shlex.split(program or "")
    if not words or not (words[0] == "pytest" or words[0].endswith(".py")):
        raise ScheduleError(
            f"the trace does not say which script to run (program: {program!r}): give it after --"
        )
    return words


def main(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    given = ns.program[1:] if ns.program[:1] == ["--"] else ns.program
    try:
        try:
            _native.replay_source(ns.source)
        except ValueError as e:
            raise ScheduleError(str(e)) from None
        program = program_of(ns.source, given)
        script: str | None = None
        pytest_args: list[str] | None = None
        if program[0] == "pytest":
            pytest_args = program[1:]
        else:
            if not os.path.isfile(program[0]):
                print(f"racetrace replay: error: no such script: {program[0]}", file=sys.stderr)
                return 2
            script = program[0]
        try:
            # Like `python script.py`: an exception in another thread is
            # printed (by threading.excepthook) but does not change the exit
            # code.
            replay(
                ns.source,
                script=script,
                argv=program[1:],
                pytest_args=pytest_args,
                deadlock_timeout=ns.deadlock_timeout,
                max_steps=ns.max_steps,
                trace=ns.output,
                raise_worker_exceptions=False,
            )
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
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
