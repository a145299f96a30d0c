"""The README's claims, checked by running them.

- Its set-up section has exactly two commands, and ``.ci/run`` runs the
  second one (the test command) verbatim.
- Every ``console`` block is a shell session: each ``$ command`` line is run
  (in one bash session per block, in a scratch directory holding a copy of
  ``tests/data`` and ``examples``) and its output, stdout and stderr
  together, must match the lines that follow it. ``...`` in an expected
  line matches any text. Python output is unbuffered, as on a terminal.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import DATA, ROOT, console_script

README = (ROOT / "README.md").read_text()


def fenced_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, flags=re.S | re.M)


def setup_section() -> str:
    match = re.search(r"^## Set up\b.*?(?=^## )", README, flags=re.S | re.M)
    assert match, "README has no '## Set up' section"
    return match.group(0)


def test_readme_has_exactly_two_setup_commands():
    blocks = fenced_blocks(setup_section(), "sh")
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert len(commands) == 2, commands
    assert commands[0].startswith("python3 -m pip install . && python3 examples/demo.py")
    assert "pytest" in commands[1] and "cargo test --workspace" in commands[1]


def test_ci_runs_the_readme_test_command():
    marked = re.search(r"<!-- test-command -->\n```sh\n(.*?)\n```\n<!-- /test-command -->", README, re.S)
    assert marked, "the test command is not between <!-- test-command --> markers"
    command = marked.group(1).strip()
    assert command == fenced_blocks(setup_section(), "sh")[1].strip()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and "README.md" in ci
    assert ci.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in ci


def parse_session(block: str) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before the first command in:\n{block}"
            steps[-1][1].append(line)
    return steps


def line_matches(expected: str, actual: str) -> bool:
    if "..." not in expected:
        return expected == actual
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual) is not None


SESSIONS = fenced_blocks(README, "console")


def test_readme_has_sessions():
    assert len(SESSIONS) >= 4


@pytest.mark.parametrize("index", range(len(SESSIONS)))
def test_readme_session(index, tmp_path):
    steps = parse_session(SESSIONS[index])
    shutil.copytree(DATA, tmp_path / "tests" / "data")
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    marker = "@@racetrace-readme-step@@"
    script = []
    for command, _ in steps:
        # Keep `$?` of the command for the next one (`echo $?`).
        script.append(f"{command}\n__rc=$?; printf '%s\\n' '{marker}'; (exit $__rc)")
    env = dict(os.environ)
    env["PATH"] = str(Path(console_script()).parent) + os.pathsep + env.get("PATH", "")
    env["NO_COLOR"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    outputs = proc.stdout.split(marker + "\n")
    assert len(outputs) == len(steps) + 1, proc.stdout
    # One output per step, and what follows the last marker (no step's).
    for (command, expected), actual in zip(steps, outputs, strict=False):
        actual_lines = actual.splitlines()
        ok = len(expected) == len(actual_lines) and all(
            line_matches(e, a) for e, a in zip(expected, actual_lines, strict=True)
        )
        assert ok, f"$ {command}\n--- README says:\n" + "\n".join(expected) + "\n--- got:\n" + actual
