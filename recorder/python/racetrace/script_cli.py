"""``racetrace script TRACE [-o repro_NAME.py]``

Writes a standalone Python file that replays the interleaving of TRACE:
run as ``python repro_NAME.py`` or ``pytest repro_NAME.py``, it runs the
recorded program (a script, or a pytest test node recorded with
``racetrace record -- pytest tests/test_x.py::test_y``) under the recorded
schedule, so that it fails the same way every time. The interleaving is
written into the file as comments: step, actor, file:line, the source line
and what the step touched.
"""

from __future__ import annotations

import argparse
import linecache
import os
import sys

import racetrace
from racetrace import _native, programs

#: Steps written out as comments; longer traces are cut (the schedule in
#: the file is always complete).
MAX_COMMENTED_STEPS = 5000


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="racetrace script",
        description="Write a Python script that replays the interleaving of a trace.",
    )
    p.add_argument("trace", help="the trace file (.rtrace)")
    p.add_argument("-o", "--output", help="the script to write (default: repro_<program>.py)")
    return p


def _source_line(file: str, line: int) -> str:
    text = linecache.getline(file, line).strip() if line > 0 else ""
    return text if len(text) <= 60 else text[:57] + "..."


def render(trace: str) -> tuple[str, str]:
    """(script text, default file name) for a trace."""
    steps, program, (outcome_kind, outcome_text) = _native.trace_steps(trace)
    schedule, _, _ = _native.replay_source(trace)
    parsed = programs.of_header(program)
    if parsed is None:
        raise ValueError(
            f"{trace}: the trace does not name a script, a module or a pytest run (program: {program!r}); "
            "record with `racetrace record script.py`, `racetrace record -m pytest NODE` or `pytest --racetrace`"
        )
    words = parsed.words()
    if parsed.kind == "pytest-node":
        # One test: its call is replayed inside a pytest session, in a
        # fresh interpreter when this file itself runs under pytest.
        call = (
            "if \"_pytest.config\" in sys.modules and __name__ != \"__main__\":\n"
            "        import subprocess\n"
            "        proc = subprocess.run([sys.executable, __file__], capture_output=True, text=True)\n"
            "        sys.stdout.write(proc.stdout)\n"
            "        sys.stderr.write(proc.stderr)\n"
            "        assert proc.returncode == 0, f\"the replayed test failed (exit code {proc.returncode})\"\n"
            "    else:\n"
            "        from racetrace.node_run import replay_node\n"
            "\n"
            "        replay_node(SCHEDULE, PROGRAM[1], PROGRAM[2:])"
        )
        stem = parsed.target.split("::")[-1] if "::" in parsed.target else "test"
    elif parsed.kind == "module":
        call = (
            "from racetrace.programs import module_target\n"
            "\n"
            "    racetrace.replay(SCHEDULE, module_target(PROGRAM[1], PROGRAM[2:]))"
        )
        stem = parsed.target.rsplit(".", 1)[-1]
    elif parsed.kind == "pytest":
        # Under pytest, the recorded pytest run is replayed in a fresh
        # interpreter: a pytest session inside another one does not run the
        # same code (plugins, imports, configuration differ).
        call = (
            "if \"_pytest.config\" in sys.modules and __name__ != \"__main__\":\n"
            "        import subprocess\n"
            "        proc = subprocess.run([sys.executable, __file__], capture_output=True, text=True)\n"
            "        sys.stdout.write(proc.stdout)\n"
            "        sys.stderr.write(proc.stderr)\n"
            "        assert proc.returncode == 0, f\"the replayed pytest run failed (exit code {proc.returncode})\"\n"
            "    else:\n"
            "        racetrace.replay(SCHEDULE, pytest_args=PROGRAM[1:])"
        )
        stem = "pytest"
        nodes = [w for w in words[1:] if "::" in w or w.endswith(".py")]
        if nodes:
            stem = nodes[0].split("::")[-1] if "::" in nodes[0] else os.path.splitext(os.path.basename(nodes[0]))[0]
    else:
        script = os.path.abspath(words[0])
        words = [script, *words[1:]]
        call = "racetrace.replay(SCHEDULE, script=PROGRAM[0], argv=PROGRAM[1:])"
        stem = os.path.splitext(os.path.basename(script))[0]
    stem = "".join(c if c.isalnum() or c == "_" else "_" for c in stem)

    rows = []
    for i, (_actor, actor_name, kind, file, line, _function, what) in enumerate(steps[:MAX_COMMENTED_STEPS]):
        where = f"{os.path.basename(file)}:{line}" if line else ""
        access = f"{kind} {what}".strip()
        src = _source_line(file, line)
        rows.append((str(i), actor_name, where, src, access))
    widths = [max([len(r[k]) for r in rows] + [4]) for k in range(4)]
    lines = []
    header = ("step", "actor", "location", "source")
    lines.append(
        "#  " + "  ".join(h.ljust(widths[k]) for k, h in enumerate(header)) + "  what it does"
    )
    for r in rows:
        lines.append(
            "#  " + "  ".join(r[k].ljust(widths[k]) if k else r[k].rjust(widths[k]) for k in range(4)) + "  " + r[4]
        )
    if len(steps) > MAX_COMMENTED_STEPS:
        lines.append(f"#  ... {len(steps) - MAX_COMMENTED_STEPS} more steps (the schedule above has them all)")
    outcome = f"{outcome_kind}: {outcome_text}" if outcome_text else outcome_kind
    outcome = outcome.replace('"""', "'''").splitlines()[0] if outcome else outcome_kind
    # Long schedules are split over lines of a parenthesized string.
    chunks = [schedule[i : i + 76] for i in range(0, len(schedule), 76)] or [schedule]
    schedule_src = "(\n" + "".join(f"    {c!r}\n" for c in chunks) + ")"
    text = f'''#!/usr/bin/env python3
"""Replays a recorded interleaving of `{program}`.

Generated by racetrace {racetrace.__version__} from {os.path.abspath(trace)}.
Run it as `python {"repro_" + stem}.py` or `pytest {"repro_" + stem}.py`: the program
runs under the recorded schedule, so it fails the same way every time.

Recorded outcome: {outcome}
"""

import sys

import racetrace

# The actor chosen at each step (`rts1` schedule: `actor*count` runs).
SCHEDULE = {schedule_src}

# What ran: a script and its arguments, or `pytest` and its arguments.
PROGRAM = {words!r}

# The interleaving ({len(steps)} steps): which actor did what, where.
{chr(10).join(lines)}


def test_replay():
    """Runs the program under the recorded schedule (it raises the
    program's own failure)."""
    {call}


if __name__ == "__main__":
    test_replay()
'''
    return text, f"repro_{stem}.py"


def main(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    try:
        text, default = render(ns.trace)
    except ValueError as e:
        msg = str(e)
        print(f"racetrace script: error: {msg}", file=sys.stderr)
        return 2
    out = ns.output or default
    try:
        with open(out, "w") as f:
            f.write(text)
    except OSError as e:
        print(f"racetrace script: error: cannot write {out}: {e}", file=sys.stderr)
        return 2
    print(f"racetrace: wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
