"""End-to-end tests of the recorder: real programs from tests/programs/ are
recorded by ``racetrace record`` and analyzed by the ``racetrace`` CLI.
Expected locations come from ``# MARK: name`` comments in the programs."""

from __future__ import annotations

from pathlib import Path

from record_helpers import PROGRAMS, line_of, race_lines, record, races


def test_lost_update_race_on_the_read_and_write_lines(tmp_path: Path) -> None:
    rec = record(tmp_path, "lost_update.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    assert report["race_count"] >= 1
    names = {r["key_name"] for r in report["races"]}
    assert names == {"Counter.value"}
    src = PROGRAMS / "lost_update.py"
    lines = race_lines(report, "Counter.value")
    assert f"{src}:{line_of(src, 'read')}" in lines
    assert f"{src}:{line_of(src, 'write')}" in lines


def test_lock_protected_counter_has_no_race(tmp_path: Path) -> None:
    rec = record(tmp_path, "locked_update.py")
    assert rec.code == 0, rec.stderr
    report = races(rec.trace)
    assert report["race_count"] == 0, report
