"""``racetrace record`` runs anything Python runs: a script with its
arguments, ``-- python script.py``, ``-m module``, ``-m pytest`` (each
test's node id marked in the trace); the exit code is the program's, and
the trace records the command line, which ``racetrace replay`` runs
again. A trace whose sources changed is still explained (the changed
lines marked) but not replayed."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from flaky_helpers import cli, explain_json, project_copy

PROGRAM = """
import sys
import threading

class Box:
    value = 0

def bump(box):
    v = box.value
    box.value = v + 1

box = Box()
threads = [threading.Thread(target=bump, args=(box,)) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("args", sys.argv[1:])
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
"""


def info(cwd: Path, trace: Path) -> dict:
    r = cli(cwd, "info", trace, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_script_and_python_script_keep_exit_code_and_command_line(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(PROGRAM)
    r = cli(tmp_path, "record", "-o", "a.rtrace", "prog.py", "7", "x y")
    assert r.returncode == 7, r.stderr
    assert "args ['7', 'x y']" in r.stdout
    assert info(tmp_path, tmp_path / "a.rtrace")["program"] == "prog.py 7 'x y'"
    r = cli(tmp_path, "record", "-o", "b.rtrace", "--", "python3", "prog.py", "3")
    assert r.returncode == 3, r.stderr
    assert info(tmp_path, tmp_path / "b.rtrace")["program"] == "prog.py 3"
    # The recorded command line is what a replay runs.
    r = cli(tmp_path, "replay", "b.rtrace")
    assert r.returncode == 3, r.stderr
    assert "args ['3']" in r.stdout


def test_module(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tool.py").write_text(PROGRAM)
    r = cli(tmp_path, "record", "-m", "pkg.tool", "5")
    assert r.returncode == 5, r.stderr
    trace = tmp_path / "tool.rtrace"
    assert info(tmp_path, trace)["program"] == "-m pkg.tool 5"
    x = explain_json(tmp_path, trace)
    assert x["findings"][0]["key_name"] == "Box.value"
    assert x["reproduce"]["script_path"] == "repro_tool.py"
    r = cli(tmp_path, "replay", trace)
    assert r.returncode == 5, r.stderr
    r = cli(tmp_path, "script", trace)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "repro_tool.py").is_file()


def test_pytest_run_marks_each_test(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    (project / "test_two.py").write_text(
        textwrap.dedent(
            """
            import threading

            from counter import Counter

            def test_first():
                c = Counter()
                c.increment()
                assert c.value == 1

            def test_racy():
                c = Counter()
                ts = [threading.Thread(target=c.increment) for _ in range(2)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
            """
        )
    )
    r = cli(project, "record", "-m", "pytest", "-p", "no:cacheprovider", "test_two.py", "-k", "first or racy")
    assert r.returncode == 0, r.stdout + r.stderr
    trace = project / "pytest.rtrace"
    program = info(project, trace)["program"]
    assert program.startswith("pytest -p no:cacheprovider ") and program.endswith("test_two.py -k 'first or racy'")
    x = explain_json(project, trace)
    # The race belongs to the second test: the trace knows which.
    top = x["findings"][0]
    assert top["key_name"] == "Counter.value"
    assert top["first"]["test"] == top["second"]["test"] == "test_two.py::test_racy"
    assert x["test"] == "test_two.py::test_racy"
    text = cli(project, "explain", trace).stdout
    assert "during test test_two.py::test_racy" in text
    # -- pytest is the same program.
    r = cli(project, "record", "-o", "again.rtrace", "--", "pytest", "-p", "no:cacheprovider", "test_two.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert info(project, project / "again.rtrace")["program"].startswith("pytest ")


def test_bad_programs_are_refused(tmp_path: Path) -> None:
    r = cli(tmp_path, "record")
    assert r.returncode == 2 and "give a script" in r.stderr
    r = cli(tmp_path, "record", "missing.py")
    assert r.returncode == 2 and "no such script: missing.py" in r.stderr
    r = cli(tmp_path, "record", "--", "python3", "-c", "print(1)")
    assert r.returncode == 2 and "give a script" in r.stderr


def test_changed_sources_are_marked_and_not_replayed(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(PROGRAM)
    r = cli(tmp_path, "record", "-o", "t.rtrace", "prog.py")
    assert r.returncode == 0, r.stderr
    x = explain_json(tmp_path, tmp_path / "t.rtrace")
    assert [s["status"] for s in x["sources"]] == ["unchanged"]
    # An edit of the racing line.
    (tmp_path / "prog.py").write_text(PROGRAM.replace("box.value = v + 1", "box.value = v + 2"))
    text = cli(tmp_path, "explain", "t.rtrace").stdout
    assert "box.value = v + 2   <- CHANGED since recording" in text
    assert "prog.py: CHANGED since recording" in text
    assert "| v = box.value\n" in text  # the unchanged line is not marked
    r = cli(tmp_path, "replay", "t.rtrace")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "racetrace replay: error: prog.py (changed since recording): the program is not the one recorded, "
        "so the recorded order cannot be forced on it (record it again)"
    )
