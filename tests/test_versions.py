"""What differs between the interpreter versions racetrace supports
(CPython 3.11's trace function, 3.12 and 3.13's ``sys.monitoring``): the
instructions each version emits for the same accesses, the adaptive
interpreter's specialized instructions, and living with other tools that
hook the interpreter. The rest of the suite runs unchanged on each
version."""

from __future__ import annotations

import dis
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from record_helpers import PROGRAMS, info, line_of, race_lines, races, record

VERSIONS = PROGRAMS / "versions"
MONITORING = sys.version_info >= (3, 12)

# The instructions the program's accesses compile to, per version: what the
# recorder has to decode on each.
EXPECTED_OPS = {
    (3, 11): {"LOAD_METHOD", "PRECALL", "CALL", "KW_NAMES", "LOAD_ATTR", "STORE_ATTR", "BINARY_SUBSCR",
              "STORE_SUBSCR", "LOAD_DEREF", "STORE_DEREF", "STORE_GLOBAL", "LOAD_GLOBAL"},
    (3, 12): {"CALL", "KW_NAMES", "LOAD_ATTR", "STORE_ATTR", "BINARY_SUBSCR", "BINARY_SLICE",
              "STORE_SUBSCR", "LOAD_DEREF", "STORE_DEREF", "STORE_GLOBAL", "LOAD_GLOBAL"},
    (3, 13): {"CALL", "CALL_KW", "LOAD_ATTR", "STORE_ATTR", "BINARY_SUBSCR", "BINARY_SLICE",
              "STORE_SUBSCR", "LOAD_DEREF", "STORE_DEREF", "STORE_GLOBAL", "LOAD_GLOBAL"},
}
ABSENT_OPS = {
    (3, 11): {"CALL_KW", "BINARY_SLICE"},
    (3, 12): {"LOAD_METHOD", "PRECALL", "CALL_KW"},
    (3, 13): {"LOAD_METHOD", "PRECALL", "KW_NAMES"},
}


def opnames(path: Path) -> set[str]:
    code = compile(path.read_text(), str(path), "exec")
    names: set[str] = set()
    stack = [code]
    while stack:
        c = stack.pop()
        names |= {i.opname for i in dis.get_instructions(c)}
        stack += [k for k in c.co_consts if hasattr(k, "co_code")]
    return names


def test_the_program_uses_this_versions_own_instructions() -> None:
    ops = opnames(VERSIONS / "accesses.py")
    version = sys.version_info[:2]
    assert EXPECTED_OPS[version] <= ops, EXPECTED_OPS[version] - ops
    assert not ABSENT_OPS[version] & ops


def test_every_kind_of_access_is_recorded_whatever_instructions_carry_it(tmp_path: Path) -> None:
    rec = record(tmp_path, str(VERSIONS / "accesses.py"))
    assert rec.code == 0, rec.stderr
    assert rec.stdout.startswith("done"), rec.stdout
    report = races(rec.trace)
    src = VERSIONS / "accesses.py"

    def at(*marks: str) -> set[str]:
        return {f"{src}:{line_of(src, m)}" for m in marks}

    assert race_lines(report, "Box.attr") == at("attr read", "attr write", "bump")
    assert race_lines(report, "list[1]") == at("subscript")
    assert race_lines(report, "dict['k']") >= at("dict item")
    assert race_lines(report, "global counter") == at("global")
    assert at("cell") <= race_lines(report, "closure cell in make_cell")
    # The append (a C method called with an argument computed by a keyword
    # call) and the slice both touch the whole list.
    assert at("append", "slice") <= race_lines(report, "list (whole)")
    # Operands found deep in the value stack: a subscript inside a list
    # display inside a call.
    assert at("deep") <= race_lines(report, "dict['k']")


def test_specialized_instructions_are_still_seen(tmp_path: Path) -> None:
    trace = tmp_path / "specialized.rtrace"
    proc = subprocess.run(
        [sys.executable, str(VERSIONS / "specialized.py"), str(trace)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    # The loop did specialize before recording started.
    assert "LOAD_ATTR_INSTANCE_VALUE" in proc.stdout, proc.stdout
    actors = {a["name"]: a["events"] for a in info(trace)["actors"]}
    # Per iteration: the global `p`, then `p.x` read and written; and the
    # actor's start and exit.
    assert actors["warm"] == 3 * 500 + 2
    assert actors["in-recording"] == 3 * 20_000 + 2


def test_the_trace_header_names_the_interpreter(tmp_path: Path) -> None:
    rec = record(tmp_path, str(VERSIONS / "accesses.py"))
    assert rec.code == 0, rec.stderr
    version = info(rec.trace)["python_version"]
    major, minor, micro = sys.version_info[:3]
    assert version.startswith(f"{major}.{minor}.{micro}"), version


needs_monitoring = pytest.mark.skipif(not MONITORING, reason="sys.monitoring exists from CPython 3.12 on")


def run_program(tmp_path: Path, name: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    trace = tmp_path / (Path(name).stem + ".rtrace")
    proc = subprocess.run(
        [sys.executable, str(VERSIONS / name), str(trace)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    return proc, trace


@needs_monitoring
def test_records_beside_another_monitoring_tool_and_a_settrace_function(tmp_path: Path) -> None:
    proc, trace = run_program(tmp_path, "coexist.py")
    assert proc.returncode == 0, proc.stderr
    assert "settrace kept: True saw calls and lines: True" in proc.stdout
    assert "coverage tool kept: fake-coverage saw lines: True" in proc.stdout
    assert "racetrace id given back: True" in proc.stdout
    src = VERSIONS / "coexist.py"
    assert race_lines(races(trace), "Cell.value") == {f"{src}:{line_of(src, 'work')}"}


@needs_monitoring
def test_refuses_clearly_when_every_tool_id_is_taken(tmp_path: Path) -> None:
    proc, trace = run_program(tmp_path, "tools_taken.py")
    assert proc.returncode == 0, proc.stderr
    assert "refused: racetrace needs a sys.monitoring tool id, and every one it may use is taken" in proc.stdout
    assert "3: tool-3" in proc.stdout
    assert "still held: ['tool-0', 'tool-2', 'tool-3', 'tool-4']" in proc.stdout
    assert not trace.exists() or info(trace)["outcome"]["kind"] == "aborted"


def as_recorded_by_another_python(trace: Path) -> None:
    """Rewrites the trace header's Python version (same length, checksum
    recomputed), as if another interpreter version had recorded it."""
    data = bytearray(trace.read_bytes())
    ours = f"{sys.version_info[0]}.{sys.version_info[1]}.".encode()
    other = b"3.10."
    assert len(ours) == len(other)
    length, = struct.unpack_from("<I", data, 12)
    body = bytes(data[20 : 20 + length])
    assert ours in body
    body = body.replace(ours, other, 1)
    data[20 : 20 + length] = body
    struct.pack_into("<I", data, 16, zlib.crc32(body))
    trace.write_bytes(bytes(data))


def test_replay_refuses_a_trace_of_another_python_version(tmp_path: Path) -> None:
    rec = record(tmp_path, str(VERSIONS / "accesses.py"))
    assert rec.code == 0, rec.stderr
    as_recorded_by_another_python(rec.trace)
    # Still analyzed by the same command line...
    assert info(rec.trace)["python_version"].startswith("3.10.")
    assert races(rec.trace)["race_count"] > 0
    # ...but not replayed by this interpreter.
    proc = subprocess.run(
        [sys.executable, "-m", "racetrace", "replay", str(rec.trace)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    ours = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert f"recorded by Python 3.10, cannot be replayed by Python {ours}" in proc.stderr
