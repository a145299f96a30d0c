"""``racetrace record [-o FILE] [--include GLOB] [--exclude GLOB] PROGRAM...``

Runs anything Python runs while recording its threads, and exits with the
program's exit code:

- ``racetrace record script.py ARGS`` (also ``-- script.py ARGS`` and
  ``-- python script.py ARGS``): the script as ``__main__``;
- ``racetrace record -m module ARGS`` (also ``-- python -m module``): the
  module as ``__main__``, like ``python -m module``;
- ``racetrace record -m pytest ARGS`` (also ``-- pytest ARGS``): a pytest
  run, in this process, as one trace in which each test's start is marked
  with its node id.

The trace (default: ``<script or module>.rtrace``, ``pytest.rtrace``, in
the current directory) records the command line, which ``racetrace
replay`` runs again.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeAlias

from racetrace import programs
from racetrace.programs import Program, absolute_node_ids
from racetrace.recording import record

#: What ``sys.exc_info()`` returns.
ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]

__all__ = ["absolute_node_ids", "main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="racetrace record",
        description="Run a Python program (a script, -m module, or pytest) and record its threads into a trace.",
        usage="racetrace record [-o FILE] [--include GLOB] [--exclude GLOB] "
        "(script.py | -m module | -- python script.py | -- pytest) [ARGS...]",
    )
    p.add_argument("-o", "--output", help="trace file to write (default: <script or module>.rtrace)")
    p.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="also trace source files matching GLOB (even in the standard library or site-packages)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="never trace source files matching GLOB",
    )
    p.epilog = (
        "The program comes after the options: script.py ARGS, -m module ARGS (-m pytest ARGS for a "
        "pytest run), or after -- as it would be run (python script.py ARGS, python -m module ARGS, "
        "pytest ARGS). Exits with the program's exit code."
    )
    return p


_WITH_VALUE = ("-o", "--output", "--include", "--exclude")
_JOINED = tuple(o + "=" for o in _WITH_VALUE[1:])


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """(racetrace's options, the program's words): the program starts at
    the first word that is not one of our options (a script, ``-m``, or
    ``--``), and everything after it is the program's."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in _WITH_VALUE:
            i += 2
        elif a.startswith(_JOINED) or (a.startswith("-o") and len(a) > 2) or a in ("-h", "--help"):
            i += 1
        else:
            break
    rest = argv[i:]
    return argv[:i], rest[1:] if rest[:1] == ["--"] else rest


def _exit_code(code: object) -> int:
    """What ``python script.py`` exits with for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _default_output(program: Program) -> str:
    if program.kind == "pytest":
        return "pytest.rtrace"
    if program.kind == "module":
        return program.target.rsplit(".", 1)[-1] + ".rtrace"
    return os.path.splitext(os.path.basename(program.target))[0] + ".rtrace"


def main(argv: list[str]) -> int:
    opts, words = _split(argv)
    ns = _parser().parse_args(opts)
    program = programs.parse(words)
    if program is None or program.kind == "pytest-node":
        print(
            "racetrace record: error: give a script (script.py ARGS), a module (-m module ARGS) "
            "or a pytest run (-m pytest ARGS)",
            file=sys.stderr,
        )
        return 2
    if program.kind == "script" and not os.path.isfile(program.target):
        print(f"racetrace record: error: no such script: {program.target}", file=sys.stderr)
        return 2
    if program.kind == "pytest":
        program.args = absolute_node_ids(program.args)
    output = ns.output or _default_output(program)
    run, after = _runner(program)
    recorder = record(output, include=ns.include, exclude=ns.exclude, program=program.command_line())
    try:
        recorder.__enter__()
    except (OSError, RuntimeError) as e:
        # Before the program runs: nothing of it has happened yet.
        print(f"racetrace record: error: {e}", file=sys.stderr)
        return 2

    code = 0
    exc_info: ExcInfo = (None, None, None)
    try:
        code = run()
    except SystemExit as e:
        exc_info = sys.exc_info()
        code = _exit_code(e.code)
    except BaseException:
        exc_info = sys.exc_info()
        code = 1
    finally:
        recorder.__exit__(*exc_info)
        after()
    if exc_info[0] is not None and not issubclass(exc_info[0], SystemExit):
        traceback.print_exception(*exc_info)
    sys.stdout.flush()
    print(f"racetrace: recorded {recorder.events} events into {output}", file=sys.stderr)
    return code


def _runner(program: Program) -> tuple[Callable[[], int], Callable[[], None]]:
    """(run the program and return its exit code, undo what it set up)."""
    saved_argv, saved_path = sys.argv, list(sys.path)

    def restore() -> None:
        sys.argv, sys.path[:] = saved_argv, saved_path

    if program.kind == "script":
        script = program.target
        sys.argv = [script, *program.args]
        sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
        return lambda: _run_main(lambda: runpy.run_path(script, run_name="__main__")), restore
    if program.kind == "module":
        module = program.target
        sys.argv = [module, *program.args]
        sys.path.insert(0, os.getcwd())
        return lambda: _run_main(lambda: runpy.run_module(module, run_name="__main__", alter_sys=True)), restore
    # pytest: imported before recording starts, so that its import-time code
    # is not part of the trace (as a replay imports it first too).
    import pytest

    marks = _TestMarks()
    return lambda: int(pytest.main(list(program.args), plugins=[marks])), restore


def _run_main(run: Callable[[], Any]) -> int:
    run()
    return 0


class _TestMarks:
    """Marks the start of each test in a recorded pytest run with its node
    id (``test NODE_ID``), so that a report can say which test each step
    belongs to."""

    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        from racetrace import _native

        _native.mark(f"test {nodeid}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
