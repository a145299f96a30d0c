"""The pytest plugin's summary of kept traces: one entry per trace (made
where the test ran, so that it travels with the test's report from a
pytest-xdist worker), and its rendering after the run.

An entry is plain JSON data: the test, the trace, how the run ended, the
most relevant finding with both lines (from ``racetrace explain``), what
makes the trace incomplete, and the commands to explain and replay it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from typing import Any

#: Longest trace file name kept from a node id (the rest is hashed).
_MAX_NAME = 120


def trace_name(nodeid: str, suffix: str = "") -> str:
    """A file name for the trace of a test: the node id with every
    character but letters, digits, ``.``, ``-`` and ``_`` made ``_``
    (``tests/test_x.py::test_y[1]`` -> ``tests_test_x.py__test_y_1_.rtrace``);
    a long one is cut and ends with a hash of the whole id, so that two
    tests never share a file."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", nodeid).strip(".") or "test"
    if len(name) > _MAX_NAME:
        digest = hashlib.sha1(nodeid.encode()).hexdigest()[:10]
        name = name[: _MAX_NAME - 11] + "-" + digest
    return f"{name}{suffix}.rtrace"


def _finding(x: dict[str, Any]) -> str | None:
    findings = x.get("findings") or []
    if not findings:
        return None
    f = findings[0]
    why = f" ({f['relevance']})" if f.get("relevance") else ""
    if f["kind"] == "race":
        a, b = f["first"], f["second"]
        cls = f["class"].replace("-", " ")
        return (
            f"data race on {f['key_name']}, {cls}{why}:\n"
            f"    {a['kind']} by {a['actor_name']} at {a['location']}: {a.get('source') or ''}\n"
            f"    {b['kind']} by {b['actor_name']} at {b['location']}: {b.get('source') or ''}"
        )
    locks = " -> ".join([*f["locks"], f["locks"][0]])
    lines = [f"potential deadlock {locks}{why}:"]
    for e in f["edges"]:
        lines.append(
            f"    {e['actor_name']} holds {e['held']} ({e['held_location']}) "
            f"and acquires {e['acquired']} at {e['acquire_location']}"
        )
    return "\n".join(lines)


def _outcome(x: dict[str, Any]) -> str:
    o = x["outcome"]
    kind = o["kind"]
    if kind == "exception":
        msg = (o.get("message") or "").splitlines()
        text = f"{o['type_name']}: {msg[0]}" if msg and msg[0] else o["type_name"]
        failing = o.get("failing")
        at = f" at {failing['file']}:{failing['line']}" if failing else ""
        return f"{text}{at} (in {o.get('actor') or '?'})"
    if kind == "deadlock":
        return "deadlock: " + (o.get("text") or "").splitlines()[0] if o.get("text") else "deadlock"
    if kind == "aborted":
        return f"aborted: {o.get('message', '')}"
    if kind == "ok":
        return "ok (the recorded call did not fail)"
    return "unknown (the trace ends before the run did)"


def summarize(path: str, nodeid: str, attempt: int, attempts: int) -> dict[str, Any]:
    """The summary entry of one kept trace."""
    from racetrace import _native

    entry: dict[str, Any] = {
        "nodeid": nodeid,
        "trace": path,
        "attempt": attempt,
        "attempts": attempts,
        "outcome": "",
        "finding": None,
        "incomplete": [],
        "error": None,
    }
    try:
        x = json.loads(_native.explain_json(path))
    except ValueError as e:
        entry["error"] = str(e)
        return entry
    entry["outcome"] = _outcome(x)
    entry["finding"] = _finding(x)
    entry["incomplete"] = list(x.get("incomplete") or [])
    entry["races"] = x.get("race_count", 0)
    entry["deadlocks"] = x.get("deadlock_count", 0)
    return entry


def render(entries: list[dict[str, Any]], cwd: str) -> list[str]:
    """The terminal summary: one block per kept trace (paths under the
    current directory shown relative to it)."""
    prefix = cwd.rstrip(os.sep) + os.sep

    def rel(text: str) -> str:
        return text.replace(prefix, "")

    lines = [f"{len(entries)} trace{'s' if len(entries) != 1 else ''} kept"]
    for e in entries:
        path = e["trace"]
        try:
            shown = os.path.relpath(path, cwd)
        except ValueError:
            shown = path
        if shown.startswith(".." + os.sep):
            shown = path
        q = shlex.quote(shown)
        lines.append("")
        lines.append(f"{e['nodeid']}")
        lines.append(f"  trace:   {shown}")
        if e.get("attempts", 0) > 1:
            lines.append(f"  failed on recorded run {e['attempt']} of up to {e['attempts']}")
        if e.get("error"):
            lines.append(f"  unreadable: {e['error']}")
            continue
        lines.append(f"  outcome: {rel(e['outcome'])}")
        for i in e.get("incomplete") or []:
            lines.append(f"  INCOMPLETE: {rel(i)}")
        if e.get("finding"):
            first, *rest = rel(e["finding"]).splitlines()
            lines.append(f"  most relevant: {first}")
            lines.extend(f"  {r}" for r in rest)
        else:
            lines.append("  no data race or potential deadlock in the trace")
        lines.append(f"  explain: racetrace explain {q}")
        lines.append(f"  replay:  racetrace replay {q}")
    return lines
