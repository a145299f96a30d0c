"""Comment markers and run_schedule on real programs under real control:
the order a marker schedule names is the order the run takes, every time;
markers in helpers and loops; and bad input (unknown names, malformed
comments, a schedule the program cannot follow) gives a clear error that
names the actor, the marker and file:line, never a hang.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from pathlib import Path

import pytest

import racetrace
from racetrace.markers import MarkerError, scan_source

HERE = Path(__file__).resolve()


class Account:
    def __init__(self) -> None:
        self.balance = 0
        self.log: list[int] = []


def deposit(acct: Account) -> None:
    balance = acct.balance  # racetrace: read
    acct.balance = balance + 1  # racetrace: write


def setup() -> Account:
    return Account()


def both_deposits(acct: Account) -> bool:
    return acct.balance == 2


def line_of(text: str) -> int:
    """The line of this file that ends in ``text`` (once)."""
    lines = [i for i, line in enumerate(HERE.read_text().splitlines(), 1) if line.rstrip().endswith(text)]
    assert len(lines) == 1, lines
    return lines[0]


ACTORS = {"alice": deposit, "bob": deposit}
LOST = ["alice:read", "bob:read", "alice:write", "bob:write"]


def test_lost_update_forced_by_a_marker_schedule_fails_every_run() -> None:
    for _ in range(100):
        r = racetrace.run_schedule(setup, ACTORS, LOST, both_deposits)
        assert r.failed and r.failure is not None
        assert r.failure.kind == "invariant violation"
        assert r.passed == {"alice": ["read", "write"], "bob": ["read", "write"]}


def test_the_opposite_order_passes_every_run() -> None:
    # alice runs to her end before bob reads: no update is lost.
    for _ in range(100):
        r = racetrace.run_schedule(setup, ACTORS, ["alice:read", "alice:end", "bob:read", "bob:write"], both_deposits)
        assert r.property_holds, r.explanation


def test_both_read_before_either_writes_whatever_the_first_writer() -> None:
    # bob reads first and alice writes first: still lost.
    r = racetrace.run_schedule(setup, ACTORS, "bob:read, alice:read, bob:write, alice:write", both_deposits)
    assert r.failed
    assert "alice" in r.explanation and "bob" in r.explanation
    # Each entry stops its actor just before the marked line: bob is held
    # before `write` while alice reads, so bob's read comes first.
    assert r.run.steps > 0


def test_an_actor_runs_alone_until_its_marker() -> None:
    seen: list[str] = []

    def worker(name: str):
        def body(_state: object) -> None:
            seen.append(name + "-a")
            seen.append(name + "-b")  # racetrace: second
            seen.append(name + "-c")

        return body

    r = racetrace.run_schedule(
        lambda: None,
        {"alice": worker("alice"), "bob": worker("bob")},
        ["alice:second", "bob:second", "alice:end"],
        lambda _s: True,
    )
    assert r.property_holds
    assert seen == ["alice-a", "bob-a", "alice-b", "alice-c", "bob-b", "bob-c"]
    # An actor the schedule does not name waits for the schedule's end.
    seen.clear()
    racetrace.run_schedule(
        lambda: None, {"alice": worker("alice"), "bob": worker("bob")}, ["bob:second"], lambda _s: True
    )
    assert seen[:1] == ["bob-a"], seen
    assert seen.index("alice-a") > seen.index("bob-a")


# --- markers in helpers and loops ----------------------------------------------


def bump(acct: Account, who: int) -> None:
    acct.log.append(who)  # racetrace: bump


def twice(acct: Account) -> None:
    bump(acct, 1)
    bump(acct, 1)


def once(acct: Account) -> None:
    bump(acct, 2)


def test_marker_in_a_helper_called_from_two_places() -> None:
    # bob's bump goes between alice's first and second.
    r = racetrace.run_schedule(
        setup, {"alice": twice, "bob": once}, ["alice:bump#2", "bob:bump", "bob:end"], lambda a: a.log == [1, 2, 1]
    )
    assert r.property_holds, r.explanation
    assert r.passed == {"alice": ["bump", "bump"], "bob": ["bump"]}
    # The same with the next occurrence written as repeated entries.
    r = racetrace.run_schedule(
        setup,
        {"alice": twice, "bob": once},
        ["alice:bump", "alice:bump", "bob:bump", "bob:end"],
        lambda a: a.log == [1, 2, 1],
    )
    assert r.property_holds, r.explanation


def looping(acct: Account) -> None:
    for i in range(3):
        acct.log.append(i)  # racetrace: step


def one_entry(acct: Account) -> None:
    acct.log.append(99)  # racetrace: other


@pytest.mark.parametrize("nth, expected", [(1, [99, 0, 1, 2]), (2, [0, 99, 1, 2]), (3, [0, 1, 99, 2])])
def test_marker_inside_a_loop(nth: int, expected: list[int]) -> None:
    r = racetrace.run_schedule(
        setup,
        {"alice": looping, "bob": one_entry},
        [f"alice:step#{nth}", "bob:other", "bob:end"],
        lambda a: a.log == expected,
    )
    assert r.property_holds, (r.explanation, nth)
    assert r.passed["alice"] == ["step"] * 3


# --- errors --------------------------------------------------------------------


def test_a_marker_never_reached_names_the_actor_the_marker_and_where() -> None:
    with pytest.raises(MarkerError) as e:
        racetrace.run_schedule(setup, {"alice": looping, "bob": one_entry}, ["alice:step#4"], lambda a: True)
    text = str(e.value)
    assert "alice:step#4" in text
    assert f"{HERE}:{line_of('# racetrace: step')}" in text
    assert "again after passing it 3 time(s)" in text
    assert "alice passed: step, step, step" in text


def test_an_occurrence_already_passed_is_an_error() -> None:
    with pytest.raises(MarkerError, match=r"alice had already passed `step` 2 time"):
        racetrace.run_schedule(
            setup, {"alice": looping, "bob": one_entry}, ["alice:step#3", "alice:step#2"], lambda a: True
        )


def test_unknown_actor_and_unknown_marker() -> None:
    with pytest.raises(MarkerError, match=r"unknown actor 'carol' \(actors: alice, bob\)"):
        racetrace.run_schedule(setup, ACTORS, ["carol:read"], both_deposits)
    with pytest.raises(MarkerError, match=r"no line is marked `# racetrace: reed`.*read \(.*test_markers.py:\d+\)"):
        racetrace.run_schedule(setup, ACTORS, ["alice:reed"], both_deposits)
    with pytest.raises(MarkerError, match="is not 'actor:marker'"):
        racetrace.run_schedule(setup, ACTORS, ["alice-read"], both_deposits)
    with pytest.raises(MarkerError, match="number from 1"):
        racetrace.run_schedule(setup, ACTORS, ["alice:read#0"], both_deposits)
    with pytest.raises(MarkerError, match="empty"):
        racetrace.run_schedule(setup, ACTORS, [], both_deposits)


def test_malformed_marker_comments() -> None:
    with pytest.raises(MarkerError, match=r"f.py:2: malformed marker name '2nd'"):
        scan_source("x = 1\ny = 2  # racetrace: 2nd\n", "f.py")
    with pytest.raises(MarkerError, match=r"f.py:1: two markers on one line"):
        scan_source("x = 1  # racetrace: a # racetrace: b\n", "f.py")
    with pytest.raises(MarkerError, match=r"f.py:1: malformed marker name ''"):
        scan_source("x = 1  # racetrace:\n", "f.py")
    with pytest.raises(MarkerError, match=r"f.py:2: a marker comment must end a line of code"):
        scan_source("x = 1\n# racetrace: alone\ny = 2\n", "f.py")
    with pytest.raises(MarkerError, match=r"`end` is reserved"):
        scan_source("x = 1  # racetrace: end\n", "f.py")
    # A statement over several lines is marked at its first line.
    found = scan_source("x = max(1,\n        2)  # racetrace: m\n", "f.py")
    assert [(m.name, m.line) for m in found] == [("m", 1)]


def test_a_malformed_marker_in_the_program_stops_run_schedule(tmp_path: Path) -> None:
    (tmp_path / "badmarks_mod.py").write_text("def f(s):\n    s.x = 1  # racetrace: one two\n")
    sys.path.insert(0, str(tmp_path))
    try:
        mod = importlib.import_module("badmarks_mod")
        with pytest.raises(MarkerError, match=r"badmarks_mod.py:2: malformed marker name 'one two'"):
            racetrace.run_schedule(setup, {"alice": mod.f}, ["alice:one"], lambda s: True)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("badmarks_mod", None)


class Gate:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.lock = threading.Lock()


def waits(g: Gate) -> None:
    g.ready.wait()
    g.ready.clear()  # racetrace: after_wait


def sets(g: Gate) -> None:
    g.ready.set()  # racetrace: before_set


def test_an_actor_that_blocks_before_its_marker_is_a_clear_error_not_a_hang() -> None:
    started = time.monotonic()
    with pytest.raises(MarkerError) as e:
        racetrace.run_schedule(
            Gate, {"alice": waits, "bob": sets}, ["bob:before_set", "alice:after_wait"], lambda g: True
        )
    text = str(e.value)
    assert "entry 2 `alice:after_wait` cannot be met" in text
    assert f"{HERE}:{line_of('# racetrace: after_wait')}" in text
    assert f"T1 (alice) is blocked at {HERE}:{line_of('g.ready.wait()')}" in text, text
    assert "waiting for event `Gate.ready` to be set" in text
    assert time.monotonic() - started < 5
    # The other order is possible.
    order = ["bob:before_set", "bob:end", "alice:after_wait"]
    r = racetrace.run_schedule(Gate, {"alice": waits, "bob": sets}, order, lambda g: not g.ready.is_set())
    assert r.property_holds, r.explanation


def early_exit(acct: Account) -> None:
    if acct.balance > 100:
        acct.log.append(1)  # racetrace: rare


def test_an_actor_that_ends_before_its_marker() -> None:
    with pytest.raises(MarkerError) as e:
        racetrace.run_schedule(setup, {"alice": early_exit}, ["alice:rare"], lambda a: True)
    text = str(e.value)
    assert f"alice never reached marker `rare` ({HERE}:{line_of('# racetrace: rare')})" in text
    assert "alice passed: no marker" in text
    assert "alice ran to its end" in text, text


def test_actor_names_are_checked() -> None:
    with pytest.raises(ValueError, match="actor name 'a:b'"):
        racetrace.run_schedule(setup, {"a:b": deposit}, ["a:read"], both_deposits)
    with pytest.raises(TypeError, match="dict of name"):
        racetrace.run_schedule(setup, [deposit], ["a:read"], both_deposits)  # type: ignore[arg-type]


def test_a_failing_actor_is_reported_under_its_name() -> None:
    def boom(acct: Account) -> None:
        acct.balance = 1  # racetrace: mark_boom
        raise RuntimeError("kaboom")

    r = racetrace.run_schedule(setup, {"carol": boom}, ["carol:mark_boom"], lambda a: True)
    assert r.failed and r.failure is not None
    assert r.failure.message.startswith("carol raised RuntimeError: kaboom")


def spin(acct: Account) -> None:
    while True:
        acct.balance += 1  # racetrace: spin


def test_a_marker_far_away_stops_at_the_step_bound_not_a_hang() -> None:
    started = time.monotonic()
    with pytest.raises(MarkerError, match=r"stopped before entry 1 `alice:spin#100000` was met: .*step"):
        racetrace.run_schedule(setup, {"alice": spin}, ["alice:spin#100000"], lambda a: True, max_steps=500)
    assert time.monotonic() - started < 10


def test_an_actor_that_raises_before_its_marker_says_so() -> None:
    def fails(acct: Account) -> None:
        raise KeyError("missing")

    with pytest.raises(MarkerError, match=r"never reached marker `read`.*alice raised KeyError: 'missing'"):
        racetrace.run_schedule(setup, {"alice": fails, "bob": deposit}, ["alice:read"], lambda a: True)


class Kinds:
    def __init__(self) -> None:
        self.flag = True
        self.n = 0
        self.lock = threading.Lock()


def add_one(s: Kinds) -> None:
    s.n += 1


def statement_kinds(s: Kinds) -> tuple[int, list[int]]:
    if s.flag:  # racetrace: k_if
        s.n += 1  # racetrace: k_augassign
    with s.lock:  # racetrace: k_with
        add_one(s)  # racetrace: k_call
    for i in range(2):  # racetrace: k_for
        s.n += i
    k = 0
    while k < 2:  # racetrace: k_while
        k += 1
    x = [i for i in range(3)]  # racetrace: k_comprehension
    y = (
        s.n,
        x,
    )  # racetrace: k_multi_line
    return y  # racetrace: k_return


def test_where_each_kind_of_statement_reaches_its_marker() -> None:
    # The same on every interpreter version: a marker is reached each time
    # its line is entered from another line, as Python's own line events
    # count: a `with` line again when its block is left, a `while` line at
    # each test of its condition; a `for` line once (its iterations re-enter
    # the middle of the line); a statement over several lines once.
    r = racetrace.explore_markers(Kinds, {"alice": statement_kinds}, lambda s: s.n == 3, max_executions=0)
    assert r.stats["sequences"]["alice"] == [
        "k_if", "k_augassign", "k_with", "k_call", "k_with", "k_for",
        "k_while", "k_while", "k_while", "k_comprehension", "k_multi_line", "k_return", "end",
    ]
    assert r.property_holds
