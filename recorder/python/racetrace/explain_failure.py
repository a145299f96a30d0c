"""The explanation of an exploration's result: which pattern the failing
interleaving shows, the steps that matter (actor, file:line, source text,
the access) and how reliably the schedule reproduces.

The pattern is read off the failing trace: the shared keys touched by more
than one actor, and in which order their reads and writes interleave.
"""

from __future__ import annotations

import linecache

from racetrace import _native
from racetrace.results import ExploreResult

#: Failures explained step by step (the rest are counted).
_SHOWN = 3

_READS = {"read", "io-read"}
_WRITES = {"write", "io-write"}
_SYNC = {
    "acquire", "release", "event-set", "event-clear", "event-wait", "cond-wait", "notify", "get", "put", "join",
    "task-done", "queue-join",
}


def _steps(trace: str) -> list[_native.TraceStep]:
    try:
        steps, _program, _outcome = _native.trace_steps(trace)
    except Exception:  # noqa: BLE001 - an explanation without steps still helps
        return []
    return list(steps)


def _shared(steps: list[_native.TraceStep]) -> dict[str, set[int]]:
    """Key → actors that access it, for keys accessed by several actors
    with at least one write."""
    actors: dict[str, set[int]] = {}
    written: set[str] = set()
    for actor, _n, kind, _f, _l, _fn, what in steps:
        if kind in _READS or kind in _WRITES:
            actors.setdefault(what, set()).add(actor)
            if kind in _WRITES:
                written.add(what)
    return {k: a for k, a in actors.items() if len(a) > 1 and k in written}


def _object_of(what: str) -> str:
    for sep in ("[", "."):
        if sep in what:
            return what.split(sep, 1)[0]
    return what


def classify(kind: str, steps: list[_native.TraceStep], message: str = "") -> str:
    """Names the pattern of a failing interleaving."""
    if kind == "deadlock":
        # The report has one "waits at ... for lock" line per actor blocked
        # on a lock: two or more of them wait for each other.
        lock_waits = sum(1 for line in message.splitlines() if " waits at " in line and " for lock " in line)
        if lock_waits >= 2:
            return "deadlock cycle"
        return "order violation (missed signal: a wait nobody will satisfy)"
    shared = _shared(steps)
    acc = [(s[0], s[2], s[6]) for s in steps if s[2] in _READS or s[2] in _WRITES]
    # A read by A, then a write of the same key by B, then a write by A of
    # that key (lost update) or of another member of the same object
    # (check-then-act: the decision was taken on a stale read).
    stale = False
    for i, (a, k, what) in enumerate(acc):
        if k not in _READS or what not in shared:
            continue
        other_wrote = False
        for b, k2, w2 in acc[i + 1 :]:
            if b != a and k2 in _WRITES and w2 == what:
                other_wrote = True
            elif b == a and k2 in _WRITES:
                if not other_wrote:
                    break  # A acted on what it read, undisturbed
                if w2 == what:
                    return "lost update"
                if _object_of(w2) == _object_of(what):
                    return "check-then-act"
                break
        stale = stale or other_wrote
    if stale:
        return "check-then-act (stale read)"
    writers_only = all(
        not any(s[2] in _READS and s[6] == k for s in steps) for k in shared
    )
    if shared and writers_only:
        return "write-write"
    return "order violation"


def _interesting(steps: list[_native.TraceStep], kind: str) -> list[_native.TraceStep]:
    if kind == "deadlock":
        shared = _shared(steps)
        # Releases after the deadlock are the aborted actors unwinding.
        return [s for s in steps if (s[2] in _SYNC and s[2] != "release") or s[6] in shared][-16:]
    shared = _shared(steps)
    return [s for s in steps if s[6] in shared and (s[2] in _READS or s[2] in _WRITES)][:20]


def _describe_step(s: _native.TraceStep) -> str:
    actor, name, kind, file, line, function, what = s
    src = linecache.getline(file, line).strip() if file and line else ""
    where = f"{file}:{line}" if line else file or "?"
    access = f"{kind} {what}".strip()
    return f"  {name:<12} {where:<40} {access:<28} {src}"


def explain(result: ExploreResult) -> str:
    lines: list[str] = []
    head = (
        f"explored {result.num_explored} interleaving(s)"
        + (" (all of them)" if result.exhausted else f" (partial: {result.stopped_because})")
    )
    if not result.failures:
        lines.append(f"no failure: {head}")
        return "\n".join(lines)
    lines.append(f"FAILED: {head}; {len(result.failures)} failing class(es)")
    shown = result.failures[:_SHOWN]
    for n, f in enumerate(shown, 1):
        steps = _steps(f.trace) if f.trace else []
        pattern = classify(f.kind, steps, f.message)
        lines.append("")
        lines.append(f"failure {n}: {f.kind} — pattern: {pattern} (execution {f.execution})")
        report = f.message.strip().splitlines()
        # A deadlock report is short and says who waits for what: all of it.
        for line in report if f.kind == "deadlock" else report[:1]:
            lines.append(f"  {line}")
        lines.append(f"  reproduced {f.reproduced}/{f.replays} times when replayed")
        lines.append(f"  schedule: {f.schedule}")
        if f.trace:
            lines.append(f"  trace: {f.trace}")
        picked = _interesting(steps, f.kind)
        if picked:
            lines.append("  the steps that matter:")
            lines.extend(_describe_step(s) for s in picked)
    rest = len(result.failures) - len(shown)
    if rest > 0:
        lines.append("")
        lines.append(f"... and {rest} more failing interleaving(s) (their schedules are in result.failures)")
    return "\n".join(lines)
