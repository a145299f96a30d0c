"""``racetrace/_native.pyi`` describes the extension as built: every name it
exports, with the same parameters and defaults (``mypy.stubtest``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT / "recorder" / "python" / "racetrace" / "_native.pyi"

#: Names of the stub that only give the extension's tuples and dicts a type
#: (they do not exist at run time).
STUB_ONLY = [
    "ControlSummary",
    "DporStats",
    "ExceptionText",
    "RunReport",
    "RunStatus",
    "ShrinkProgress",
    "ShrinkResult",
    "TraceStep",
]


def test_the_stub_matches_the_extension(tmp_path: Path) -> None:
    pytest.importorskip("mypy.stubtest")
    # The stub alone (not the package's sources) against the installed
    # extension.
    stubs = tmp_path / "stubs" / "racetrace"
    stubs.mkdir(parents=True)
    (stubs / "__init__.pyi").write_text("")
    shutil.copy(STUB, stubs / "_native.pyi")
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text("".join(f"racetrace._native.{name}\n" for name in STUB_ONLY))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "racetrace._native",
            "--allowlist",
            str(allowlist),
        ],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(tmp_path / "stubs")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
