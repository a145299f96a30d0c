"""The ``racetrace`` console script and ``python -m racetrace``.

Most subcommands (``info``, ``races``, ``deadlocks``, ``graph``, ...) are
implemented in Rust and shared with the cargo-built ``racetrace`` binary;
they run through ``racetrace._native.run_cli``. Subcommands that must run
Python code (recording a program, for instance) are implemented in Python
and registered in ``PYTHON_SUBCOMMANDS``.
"""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Callable, Sequence

# Subcommand name -> ("module:function", one line for `racetrace --help`).
# The function is called with the arguments that follow the subcommand name
# and returns an exit code (0 nothing found, 1 findings, 2 bad usage or bad
# input). The module is imported only when its subcommand runs.
PYTHON_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "record": (
        "racetrace.record_cli:main",
        "Run a Python program (script, -m module, -m pytest) and record its threads into a trace",
    ),
    "replay": (
        "racetrace.replay_cli:main",
        "Re-run a program forcing the interleaving of a trace or schedule",
    ),
    "script": (
        "racetrace.script_cli:main",
        "Write a Python script that replays the interleaving of a trace",
    ),
    "shrink": (
        "racetrace.shrink_cli:main",
        "Shrink a failing run to the fewest preemptions; write its trace and replay script",
    ),
}


def _python_subcommand(name: str) -> Callable[[list[str]], int] | None:
    entry = PYTHON_SUBCOMMANDS.get(name)
    if entry is None:
        return None
    module_name, _, func_name = entry[0].partition(":")
    module = importlib.import_module(module_name)
    func: Callable[[list[str]], int] = getattr(module, func_name or "main")
    return func


def run(argv: Sequence[str]) -> int:
    """Runs ``racetrace ARGV...`` and returns its exit code."""
    argv = list(argv)
    if argv:
        func = _python_subcommand(argv[0])
        if func is not None:
            return int(func(argv[1:]) or 0)
    from racetrace import _native

    # Python may hold buffered output; flush it so that it appears before
    # whatever the native CLI writes to the same file descriptors.
    sys.stdout.flush()
    sys.stderr.flush()
    help_lines = [(name, about) for name, (_, about) in PYTHON_SUBCOMMANDS.items()]
    return _native.run_cli(argv, help_lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``racetrace`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not (args and args[0] in PYTHON_SUBCOMMANDS):
        # A native command runs to completion without returning to the
        # interpreter, so Python's KeyboardInterrupt could not stop it: let
        # Ctrl-C end the process right away, as it would a native binary.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(run(args))


if __name__ == "__main__":
    main()
