"""`racetrace races` tells an atomicity violation (a lost update) from an
order-only race (two atomic appends): the first is shown first and sets
the exit status; the second is counted, listed with --all, and named in
the JSON."""

from __future__ import annotations

from pathlib import Path

from record_helpers import PROGRAMS, cli, line_of, race_lines, races, record


def test_a_lost_update_is_an_atomicity_violation_and_two_appends_are_order_only(tmp_path: Path) -> None:
    rec = record(tmp_path, "race_classes.py")
    assert rec.code == 0, rec.stderr
    src = PROGRAMS / "race_classes.py"
    report = races(rec.trace)
    classes = {r["key_name"]: r["class"] for r in report["races"]}
    assert classes == {"Counter.n": "atomicity-violation", "items (whole)": "order-only"}
    assert report["atomicity_violation_count"] == 1
    assert report["order_only_count"] == 1
    assert [r["class"] for r in report["races"]] == ["atomicity-violation", "order-only"]
    assert race_lines(report, "Counter.n") == {f"{src}:{line_of(src, 'increment')}"}
    assert race_lines(report, "items (whole)") == {f"{src}:{line_of(src, 'append')}"}
    pairs = {p["class"] for r in report["races"] if r["key_name"] == "Counter.n" for p in r["pairs"]}
    # The lost update's write-write pair alone would be order-only: its
    # read-write pair is what makes it an atomicity violation.
    assert "atomicity-violation" in pairs

    text = cli("races", rec.trace)
    assert text.returncode == 1
    assert "2 data races found: 1 atomicity violation, 1 order-only" in text.stdout
    assert "Counter.n, atomicity violation" in text.stdout
    assert "items (whole)" not in text.stdout
    shown = cli("races", "--all", rec.trace)
    assert shown.returncode == 1
    assert "Data race on items (whole), order-only" in shown.stdout


def test_order_only_races_alone_do_not_fail_the_command(tmp_path: Path) -> None:
    program = tmp_path / "appends.py"
    program.write_text(
        "import threading\n"
        "items = []\n"
        "ts = [threading.Thread(target=items.append, args=(i,)) for i in range(3)]\n"
        "for t in ts: t.start()\n"
        "for t in ts: t.join()\n"
        "def add(i):\n"
        "    items.append(i)\n"
        "ts = [threading.Thread(target=add, args=(i,)) for i in range(3)]\n"
        "for t in ts: t.start()\n"
        "for t in ts: t.join()\n"
    )
    rec = record(tmp_path, str(program))
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    assert report["atomicity_violation_count"] == 0
    assert report["order_only_count"] == 1
    text = cli("races", rec.trace)
    assert text.returncode == 0, text.stdout
    assert "0 atomicity violations, 1 order-only" in text.stdout
    assert cli("races", "--all", rec.trace).returncode == 1
