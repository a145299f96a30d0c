"""The explanation of an exploration's result: which pattern the failing
interleaving shows, the steps that matter (actor, file:line, source text,
the access) and how reliably the schedule reproduces.

The pattern is read off the failing trace: the shared keys touched by more
than one actor, and in which order their reads and writes interleave.
"""

from __future__ import annotations

import linecache

from racetrace import _native, aio_marks
from racetrace.results import ExploreResult

#: An asyncio task resuming (each of its steps begins at the `await` it
#: was suspended at).
_SWITCH = "task-switch"

#: Failures explained step by step (the rest are counted).
_SHOWN = 3

_READS = {"read", "io-read"}
_WRITES = {"write", "io-write"}
_SYNC = {
    "acquire", "release", "event-set", "event-clear", "event-wait", "cond-wait", "notify", "get", "put", "join",
    "task-done", "queue-join",
}
#: Operations that gave up (a failed try, a timed-out wait), and counting
#: semaphores: shown among the steps that matter, since which way they went
#: is part of the interleaving.
_CHOICES = {
    "acquire-failed", "sem-acquire-failed", "event-wait-timeout", "get-failed", "put-failed", "join-timeout",
    "barrier-abort", "sem-acquire", "sem-release",
}


def _all_steps(trace: str) -> list[_native.TraceStep]:
    try:
        steps, _program, _outcome = _native.trace_steps(trace)
    except Exception:  # noqa: BLE001 - an explanation without steps still helps
        return []
    return steps


def _steps(trace: str) -> list[_native.TraceStep]:
    # The marks of a future's end (``aio_marks``) are racetrace's own
    # bookkeeping, not the program's steps.
    return [s for s in _all_steps(trace) if s[3] != _MARKS]


def _timeouts_fired(trace: str) -> list[str]:
    """One line per asyncio timeout that fired (its actor is named by where
    it was set): which way a timeout went is part of the interleaving."""
    return [f"  {s[1]} fired" for s in _all_steps(trace) if s[3] == _MARKS and s[5] == "fired"][:8]


_MARKS = aio_marks.__file__


_WHOLE = " (whole)"


def _container(what: str) -> str | None:
    """The container a key belongs to: `items` for `items (whole)` and
    `items[3]`; None for other keys."""
    if what.endswith(_WHOLE):
        return what[: -len(_WHOLE)]
    if "[" in what:
        return what.split("[", 1)[0]
    return None


def _grouped(steps: list[_native.TraceStep]) -> list[_native.TraceStep]:
    """The steps with every key of a container that is also accessed as a
    whole (iterated, its length taken, appended to) named as that whole
    key: a whole access conflicts with each of its items."""
    wholes = {s[6][: -len(_WHOLE)] for s in steps if s[6].endswith(_WHOLE)}
    if not wholes:
        return steps
    out = []
    for s in steps:
        c = _container(s[6])
        out.append(s if c is None or c not in wholes else (*s[:6], c + _WHOLE))
    return out


def _shared(steps: list[_native.TraceStep]) -> dict[str, set[int]]:
    """Key → actors that access it, for keys accessed by several actors
    with at least one write (`steps` grouped by `_grouped`)."""
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


def _stale_reads(steps: list[_native.TraceStep], shared: dict[str, set[int]]) -> tuple[str, bool]:
    """Looks for a read by A of a shared key, then a write of that key by B,
    then A's next write: of the same key (lost update) or of another member
    of the same object (check-then-act: the decision was taken on a stale
    read). Returns the pattern of the earliest such read ("" if none) and
    whether any read was overwritten by another actor before its reader
    acted (or never acted).

    One pass over the steps: each read waits in its actor's pending set
    until that actor's next write resolves it, so a long failing execution
    is explained in linear time.
    """
    # actor -> key -> [index of its first unresolved read, another actor wrote since]
    pending: dict[int, dict[str, list[int]]] = {}
    readers: dict[str, set[int]] = {}  # key -> actors with an unresolved read of it
    best: tuple[int, str] | None = None
    stale = False
    index = 0
    for actor, _n, kind, _f, _l, _fn, what in steps:
        if kind in _READS:
            if what in shared:
                mine = pending.setdefault(actor, {})
                if what not in mine:
                    mine[what] = [index, 0]
                    readers.setdefault(what, set()).add(actor)
            index += 1
        elif kind in _WRITES:
            for other in readers.get(what, ()):
                if other != actor:
                    pending[other][what][1] = 1
            mine = pending.pop(actor, {})
            if mine:
                for key, (at, overwritten) in mine.items():
                    readers[key].discard(actor)
                    if not overwritten:
                        continue  # the actor acted on what it read, undisturbed
                    stale = True
                    if key == what:
                        found = "lost update"
                    elif _object_of(key) == _object_of(what):
                        found = "check-then-act"
                    else:
                        continue
                    if best is None or at < best[0]:
                        best = (at, found)
            index += 1
    for mine in pending.values():
        stale = stale or any(overwritten for _at, overwritten in mine.values())
    return (best[1] if best else ""), stale


def classify(kind: str, steps: list[_native.TraceStep], message: str = "") -> str:
    """Names the pattern of a failing interleaving."""
    if kind == "deadlock":
        # The report has one "waits at ... for lock" line per actor blocked
        # on a lock: two or more of them wait for each other.
        lines = message.splitlines()
        lock_waits = sum(1 for line in lines if " waits at " in line and " for lock " in line)
        # One waiting for a lock whose holder waits for something else (a
        # task awaiting the thread that wants its lock) closes a cycle too.
        held = [line for line in lines if " for lock " in line and " is held by " in line]
        if lock_waits >= 2 or any("(which has finished)" not in line for line in held):
            return "deadlock cycle"
        if held:
            return "lock never released (its holder has finished)"
        return "order violation (missed signal: a wait nobody will satisfy)"
    steps = _grouped(steps)
    shared = _shared(steps)
    pattern, stale = _stale_reads(steps, shared)
    if pattern:
        return pattern
    if stale:
        return "check-then-act (stale read)"
    read_keys = {s[6] for s in steps if s[2] in _READS}
    if shared and not (shared.keys() & read_keys):
        return "write-write"
    return "order violation"


def _interesting(steps: list[_native.TraceStep], kind: str) -> list[_native.TraceStep]:
    grouped = _grouped(steps)
    shared = _shared(grouped)
    pairs = list(zip(steps, grouped, strict=True))
    if kind == "deadlock":
        # Releases after the deadlock are the aborted actors unwinding.
        return [s for s, g in pairs if (s[2] in _SYNC and s[2] != "release") or g[6] in shared][-16:]
    keep = [
        i
        for i, (s, g) in enumerate(pairs)
        if (g[6] in shared and (s[2] in _READS or s[2] in _WRITES)) or s[2] in _CHOICES
    ]
    return [steps[i] for i in sorted(set(keep) | _splitting_awaits(steps, keep))][:24]


def _splitting_awaits(steps: list[_native.TraceStep], keep: list[int]) -> set[int]:
    """The task switches (an asyncio task resuming at an ``await``) that
    split an actor's kept steps: the await between its check and its act,
    where the other tasks ran."""
    out: set[int] = set()
    by_actor: dict[int, list[int]] = {}
    for i in keep:
        by_actor.setdefault(steps[i][0], []).append(i)
    for actor, idx in by_actor.items():
        for lo, hi in zip(idx, idx[1:], strict=False):
            out.update(j for j in range(lo + 1, hi) if steps[j][0] == actor and steps[j][2] == _SWITCH)
    return out


#: What an operation that gave up did, in words.
_GAVE_UP = {
    "acquire-failed": "found the lock {what} taken and gave up (a try that failed, or a wait that timed out)",
    "sem-acquire-failed": "found the semaphore {what} at 0 and gave up (a try that failed, or a wait that timed out)",
    "event-wait-timeout": "timed out waiting for the event {what} to be set",
    "get-failed": "found the queue {what} empty and gave up (a try, or a wait that timed out)",
    "put-failed": "found the queue {what} full and gave up (a try, or a wait that timed out)",
    "join-timeout": "timed out waiting for {what} to finish",
}


def _gave_up(steps: list[_native.TraceStep]) -> list[str]:
    """One sentence per step that gave up: which way a try or a timed wait
    went is part of the interleaving."""
    out = []
    for _actor, name, kind, file, line, _function, what in steps:
        text = _GAVE_UP.get(kind)
        if text is not None:
            out.append(f"  {name} at {file}:{line} {text.format(what=what)}")
    return out[:8]


def _describe_step(s: _native.TraceStep) -> str:
    actor, name, kind, file, line, function, what = s
    src = linecache.getline(file, line).strip() if file and line else ""
    where = f"{file}:{line}" if line else file or "?"
    access = "resumes after its await" if kind == _SWITCH else f"{kind} {what}".strip()
    return f"  {name:<12} {where:<40} {access:<28} {src}"


def explain(result: ExploreResult) -> str:
    lines: list[str] = []
    if result.exhausted:
        how = "all of them"
    elif result.stopped_because:
        how = f"partial: {result.stopped_because}"
    else:
        how = "not all of them: see the limits below"
    head = f"explored {result.num_explored} interleaving(s) ({how})"
    limits = [f"  limit: {text}" for text in result.limits]
    if not result.failures:
        lines.append(f"no failure: {head}")
        lines.extend(limits)
        return "\n".join(lines)
    lines.append(f"FAILED: {head}; {len(result.failures)} failing class(es)")
    lines.extend(limits)
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
        gave_up = _gave_up(steps)
        if gave_up:
            lines.append("  operations that gave up:")
            lines.extend(gave_up)
        fired = _timeouts_fired(f.trace) if f.trace else []
        if fired:
            lines.append("  timeouts that fired:")
            lines.extend(fired)
    rest = len(result.failures) - len(shown)
    if rest > 0:
        lines.append("")
        lines.append(f"... and {rest} more failing interleaving(s) (their schedules are in result.failures)")
    return "\n".join(lines)
