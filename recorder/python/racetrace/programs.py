"""What a trace says ran, and how to run it again under control.

A trace's header names its program as a command line (shell-quoted
words) in one of four forms, written by ``racetrace record`` and the
pytest plugin and read by ``racetrace replay``, ``script`` and ``shrink``:

- ``script.py ARGS...``: a script run as ``__main__``;
- ``-m module ARGS...``: a module run as ``__main__`` (``python -m``);
- ``pytest ARGS...``: a whole pytest run, recorded as one trace;
- ``pytest-node NODE_ID [PYTEST ARGS...]``: one test's call, recorded by
  the pytest plugin (``pytest --racetrace``); its replay runs that test
  and forces the order inside its call only.
"""

from __future__ import annotations

import os
import runpy
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The first word of a one-test program.
PYTEST_NODE = "pytest-node"


class NodeNotRun(Exception):
    """The test to replay did not run (gone, renamed, or distributed to
    other processes)."""


@dataclass
class Program:
    """A program to re-run: ``kind`` is ``script``, ``module``, ``pytest``
    or ``pytest-node``; ``target`` the script, module or node id (empty
    for a whole pytest run); ``args`` the rest."""

    kind: str
    target: str
    args: list[str] = field(default_factory=list)

    def words(self) -> list[str]:
        if self.kind == "script":
            return [self.target, *self.args]
        if self.kind == "module":
            return ["-m", self.target, *self.args]
        if self.kind == "pytest":
            return ["pytest", *self.args]
        return [PYTEST_NODE, self.target, *self.args]

    def command_line(self) -> str:
        """The header's ``program``."""
        return shlex.join(self.words())


def parse(words: Sequence[str]) -> Program | None:
    """The program of a command line (after ``--``): ``script.py ARGS``,
    ``python script.py ARGS``, ``-m module ARGS``, ``python -m module
    ARGS``, ``pytest ARGS``, ``pytest-node NODE ARGS``; None if it is none
    of them."""
    words = list(words)
    if words and os.path.basename(words[0]).startswith("python") and not words[0].endswith(".py"):
        words = words[1:]
    if not words:
        return None
    head = words[0]
    if head == "-m" and len(words) > 1:
        if words[1] == "pytest":
            return Program("pytest", "", words[2:])
        return Program("module", words[1], words[2:])
    if head == "pytest":
        return Program("pytest", "", words[1:])
    if head == PYTEST_NODE and len(words) > 1:
        return Program("pytest-node", words[1], words[2:])
    if head.endswith(".py"):
        return Program("script", head, words[1:])
    return None


def of_header(program: str) -> Program | None:
    """The program a trace's header names, or None."""
    try:
        words = shlex.split(program)
    except ValueError:
        return None
    return parse(words)


def module_target(module: str, argv: Sequence[str]) -> Callable[[], Any]:
    """Runs ``module`` as ``__main__``, like ``python -m module ARGV``."""

    def body() -> Any:
        saved_argv, saved_path = sys.argv, list(sys.path)
        sys.argv = [module, *argv]
        sys.path.insert(0, os.getcwd())
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit as e:
            if e.code not in (None, 0):
                raise
        finally:
            sys.argv, sys.path[:] = saved_argv, saved_path

    body.__qualname__ = shlex.join(["-m", module, *argv])
    return body


def absolute_node_ids(args: Sequence[str]) -> list[str]:
    """pytest arguments with test paths made absolute (``tests/t.py::f`` ->
    ``/.../tests/t.py::f``), so that a replay runs the same tests from
    anywhere."""
    out = []
    for a in args:
        path, sep, rest = a.partition("::")
        if not a.startswith("-") and os.path.exists(path):
            a = os.path.abspath(path) + sep + rest
        out.append(a)
    return out
