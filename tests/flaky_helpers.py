"""Helpers for the post-mortem tests: a copy of the sample project with a
flaky test (``tests/flaky_project``), pytest and the CLI run on it as a
user would, and the summary read back."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, console_script

PROJECT = ROOT / "tests" / "flaky_project"


def project_copy(dest: Path) -> Path:
    """A fresh copy of the sample project (its traces go in there)."""
    out = dest / "project"
    shutil.copytree(PROJECT, out, ignore=shutil.ignore_patterns("__pycache__", ".racetrace", "*.rtrace"))
    return out


def pytest_run(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m pytest ARGS`` in ``cwd``, without the cache (nothing but
    traces is written)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def cli(cwd: Path, *args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The ``racetrace`` console script in ``cwd``."""
    return subprocess.run(
        [console_script(), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def summary(output: str) -> str:
    """The racetrace section of pytest's terminal summary ("" if none)."""
    m = re.search(r"^=+ racetrace =+$(.*?)(?=^=+ )", output, re.S | re.M)
    return m.group(1) if m else ""


def summary_blocks(output: str) -> dict[str, str]:
    """Node id -> its block of the summary."""
    blocks: dict[str, str] = {}
    kept = summary(output).split("\npassed every recorded run")[0]
    for block in kept.strip().split("\n\n")[1:]:
        node, _, rest = block.strip().partition("\n")
        blocks[node.strip()] = rest
    return blocks


def explain_json(cwd: Path, trace: Path) -> dict:
    r = cli(cwd, "explain", trace, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def traces(project: Path) -> list[Path]:
    d = project / ".racetrace"
    return sorted(d.glob("*.rtrace")) if d.is_dir() else []


def line_of(path: Path, text: str) -> int:
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return n
    raise AssertionError(f"{text!r} not in {path}")
