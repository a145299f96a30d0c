"""``racetrace record [-o FILE] [--include GLOB] [--exclude GLOB] -- script.py ARGS...``

Runs the script as ``__main__`` (like ``python script.py ARGS...``) while
recording it, and exits with the script's exit code. The trace is written
to ``FILE`` (default: ``<script name>.rtrace`` in the current directory).
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import traceback
from types import TracebackType
from typing import TypeAlias

from racetrace.recording import record

#: What ``sys.exc_info()`` returns.
ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="racetrace record",
        description="Run a Python script and record its threads into a trace file.",
    )
    p.add_argument("-o", "--output", help="trace file to write (default: <script>.rtrace)")
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
    p.add_argument("script", help="the Python script to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    return p


def _exit_code(code: object) -> int:
    """What ``python script.py`` exits with for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    script = ns.script
    if script == "pytest":
        return _record_pytest(ns, args)
    if not os.path.isfile(script):
        print(f"racetrace record: error: no such script: {script}", file=sys.stderr)
        return 2
    output = ns.output or os.path.splitext(os.path.basename(script))[0] + ".rtrace"

    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    recorder = record(
        output, include=ns.include, exclude=ns.exclude, program=" ".join([script, *args])
    )
    try:
        recorder.__enter__()
    except (OSError, RuntimeError) as e:
        # Before the script runs: nothing of it has happened yet.
        print(f"racetrace record: error: {e}", file=sys.stderr)
        return 2

    code = 0
    exc_info: ExcInfo = (None, None, None)
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        exc_info = sys.exc_info()
        code = _exit_code(e.code)
    except BaseException:
        exc_info = sys.exc_info()
        code = 1
    finally:
        recorder.__exit__(*exc_info)
    if exc_info[0] is not None and not issubclass(exc_info[0], SystemExit):
        traceback.print_exception(*exc_info)
    sys.stdout.flush()
    print(f"racetrace: recorded {recorder.events} events into {output}", file=sys.stderr)
    return code


def absolute_node_ids(args: list[str]) -> list[str]:
    """pytest arguments with test paths made absolute (`tests/t.py::f` ->
    `/.../tests/t.py::f`), so that a replay runs the same tests from
    anywhere."""
    out = []
    for a in args:
        path, sep, rest = a.partition("::")
        if not a.startswith("-") and os.path.exists(path):
            a = os.path.abspath(path) + sep + rest
        out.append(a)
    return out


def _record_pytest(ns: argparse.Namespace, args: list[str]) -> int:
    """`racetrace record -- pytest ARGS...`: runs pytest in this process
    while recording; exits with pytest's exit code."""
    import pytest

    args = absolute_node_ids(args)
    output = ns.output or "pytest.rtrace"
    recorder = record(output, include=ns.include, exclude=ns.exclude, program=" ".join(["pytest", *args]))
    try:
        recorder.__enter__()
    except (OSError, RuntimeError) as e:
        print(f"racetrace record: error: {e}", file=sys.stderr)
        return 2
    code = 1
    exc_info: ExcInfo = (None, None, None)
    try:
        code = int(pytest.main(args))
    except BaseException:
        exc_info = sys.exc_info()
    finally:
        recorder.__exit__(*exc_info)
    sys.stdout.flush()
    print(f"racetrace: recorded {recorder.events} events into {output}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
