"""Helpers for the recorder tests: record a program from tests/programs/
through the real CLI, then ask the real analyzer about the trace."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from conftest import console_script

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "tests" / "programs"


@dataclass
class Recording:
    code: int
    stdout: str
    stderr: str
    trace: Path


def record(tmp_path: Path, program: str, *args: str, options: tuple[str, ...] = (), timeout: float = 120) -> Recording:
    """``python -m racetrace record -o TRACE [options] -- PROGRAM ARGS``."""
    trace = tmp_path / (Path(program).stem + ".rtrace")
    script = program if Path(program).is_absolute() else str(PROGRAMS / program)
    proc = subprocess.run(
        [sys.executable, "-m", "racetrace", "record", "-o", str(trace), *options, "--", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )
    return Recording(proc.returncode, proc.stdout, proc.stderr, trace)


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script(), *map(str, args)], capture_output=True, text=True, timeout=120
    )


def races(trace: Path) -> dict:
    proc = cli("races", "--json", trace)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def deadlocks(trace: Path) -> dict:
    proc = cli("deadlocks", "--json", trace)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def info(trace: Path) -> dict:
    proc = cli("info", "--json", trace)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def line_of(path: Path, mark: str) -> int:
    """Line number of the line ending with ``# MARK: <mark>``."""
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if line.rstrip().endswith(f"# MARK: {mark}"):
            return n
    raise AssertionError(f"no '# MARK: {mark}' in {path}")


def race_lines(report: dict, key_name: str) -> set[str]:
    """Every `file:line` involved in races on `key_name`."""
    out = set()
    for race in report["races"]:
        if race["key_name"] != key_name:
            continue
        for pair in race["pairs"]:
            out.add(pair["first"]["location"])
            out.add(pair["second"]["location"])
    return out


def graph_edge_kinds(trace: Path) -> set[str]:
    proc = cli("graph", "--format", "json", trace)
    assert proc.returncode == 0, proc.stderr
    return {e["kind"] for e in json.loads(proc.stdout)["edges"]}
