"""The failure patterns `explain` names, checked against a direct
(quadratic) reading of their definition on many generated access
sequences, and on a long execution to show the one-pass reading scales."""

from __future__ import annotations

import random
import time

from racetrace.explain_failure import _READS, _WRITES, _object_of, _shared, classify

KEYS = ["c.n", "c.m", "d.n", "lst[0]", "lst[1]", "g"]


def _reference(steps: list) -> str:
    """Each read by A of a shared key, scanned forward to A's next write."""
    shared = _shared(steps)
    acc = [(s[0], s[2], s[6]) for s in steps if s[2] in _READS or s[2] in _WRITES]
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
                    break
                if w2 == what:
                    return "lost update"
                if _object_of(w2) == _object_of(what):
                    return "check-then-act"
                break
        stale = stale or other_wrote
    if stale:
        return "check-then-act (stale read)"
    if shared and all(not any(s[2] in _READS and s[6] == k for s in steps) for k in shared):
        return "write-write"
    return "order violation"


def _program(rng: random.Random, n: int) -> list:
    steps = []
    for _ in range(n):
        actor = rng.randrange(3)
        kind = rng.choice(["read", "read", "write", "acquire", "io-read", "io-write"])
        what = rng.choice(KEYS[: rng.randint(1, len(KEYS))]) if kind != "acquire" else "lock"
        steps.append((actor, f"t{actor}", kind, "p.py", 1 + actor, "f", what))
    return steps


def test_patterns_match_their_definition_on_generated_executions():
    rng = random.Random(20261206)
    seen: dict[str, int] = {}
    for _ in range(3000):
        steps = _program(rng, rng.randint(0, 24))
        got = classify("assertion", steps)
        assert got == _reference(steps), steps
        seen[got] = seen.get(got, 0) + 1
    # The generator reaches every pattern, so the comparison means something.
    assert set(seen) == {
        "lost update", "check-then-act", "check-then-act (stale read)", "write-write", "order violation",
    }, seen


def test_a_long_failing_execution_is_classified_in_linear_time():
    # Two actors incrementing a counter 150k times each, no interleaving
    # except at the very end: the lost update is the last thing that happens.
    steps = []
    for actor in (0, 1):
        for _ in range(150_000):
            steps.append((actor, f"t{actor}", "read", "p.py", 3, "f", f"x{actor}"))
            steps.append((actor, f"t{actor}", "write", "p.py", 3, "f", f"x{actor}"))
    steps += [
        (0, "t0", "read", "p.py", 5, "f", "c.n"),
        (1, "t1", "read", "p.py", 5, "f", "c.n"),
        (1, "t1", "write", "p.py", 5, "f", "c.n"),
        (0, "t0", "write", "p.py", 5, "f", "c.n"),
    ]
    start = time.monotonic()
    assert classify("assertion", steps) == "lost update"
    assert time.monotonic() - start < 5


class _Held:
    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()


def _takes_and_leaves(h: _Held) -> None:
    h.lock.acquire()  # never released


def _takes(h: _Held) -> None:
    with h.lock:
        pass


def test_a_lock_its_finished_holder_never_released_is_named_so() -> None:
    import racetrace

    r = racetrace.explore_dpor(_Held, [_takes_and_leaves, _takes], lambda h: True, progress=False)
    assert r.failures and r.failures[0].kind == "deadlock", r.explanation
    assert "(which has finished)" in r.failures[0].message
    assert "lock never released (its holder has finished)" in r.explanation, r.explanation
