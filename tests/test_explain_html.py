"""The HTML report of ``racetrace explain``, opened in a real headless
browser (the system's Chromium, driven by playwright): what a person sees
is the two racing accesses highlighted in the actors' lanes, their source
lines, and the happens-before edges drawn between lanes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from flaky_helpers import cli, explain_json, project_copy, pytest_run, traces

#: Where Debian's chromium package puts the browser (`.ci/run` installs it).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def _browser() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("no Chromium installed: .ci/run installs it (apt-get install chromium)")
    pytest.skip("no Chromium installed (apt-get install chromium); .ci/run installs it")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    project = project_copy(tmp_path_factory.mktemp("html"))
    src = (project / "test_counter.py").read_text().replace("TIMES = 3000", "TIMES = 3")
    (project / "test_counter.py").write_text(src)
    r = pytest_run(project, "--racetrace-explore", "--racetrace-rerun=100", "--racetrace-seed=11", "test_counter.py")
    assert r.returncode == 1, r.stdout + r.stderr
    [trace] = traces(project)
    page = project / "report.html"
    e = cli(project, "explain", trace, "--html", page)
    assert e.returncode == 0, e.stderr
    assert f"racetrace: wrote {page}" in e.stderr
    return page, explain_json(project, trace), project


def test_a_person_sees_the_race_in_the_lanes_with_its_source(report: tuple[Path, dict, Path]) -> None:
    page_path, x, project = report
    executable = _browser()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
    top = x["findings"][0]
    assert top["key_name"] == "Counter.value"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(page_path.as_uri())
            assert "test_counter" in page.title()

            # One lane per actor in the steps, named as the trace names them.
            lanes = [t.strip() for t in page.locator("th.lane").all_inner_texts()]
            assert lanes == sorted({s["actor_name"] for s in x["steps"]})
            assert {"T1 (worker-0)", "T2 (worker-1)"} <= set(lanes)

            # The two racing accesses: highlighted, visible, each in the
            # lane of its actor, with its source line.
            races = page.locator(".ev.race")
            assert races.count() == 2
            sides = {(s["actor_name"], s["line"]) for s in (top["first"], top["second"])}
            seen = set()
            for i in range(2):
                box = races.nth(i)
                assert box.is_visible()
                color = box.evaluate("e => getComputedStyle(e).backgroundColor")
                assert color == "rgb(255, 213, 79)", color
                plain = page.locator(".ev:not(.race)").first.evaluate("e => getComputedStyle(e).backgroundColor")
                assert plain != color
                text = box.inner_text()
                assert "Counter.value" in text
                assert ("current = self.value" in text) or ("self.value = successor(current)" in text)
                # Its column is its actor's lane.
                col = box.evaluate("e => e.closest('td').cellIndex")
                lane = page.locator("thead th").nth(col).inner_text().strip()
                line = int(text.split("counter.py:")[1].split()[0])
                seen.add((lane, line))
            assert seen == sides

            # Following the location link shows the source snippet, the
            # racing line highlighted.
            races.nth(0).locator("a").click()
            target = page.evaluate("location.hash")
            snippet = page.locator(target)
            assert snippet.is_visible()
            hl = snippet.locator(".hl").inner_text()
            assert "self.value" in hl
            all_hl = " ".join(page.locator(".snippet .hl").all_inner_texts())
            assert "current = self.value" in all_hl and "self.value = successor(current)" in all_hl

            # The happens-before edges that matter are drawn between lanes.
            drawn = page.locator("svg.edges line.hb-edge").count()
            listed = page.locator("li.edge").count()
            assert listed == len(x["edges"]) and listed > 0
            assert drawn == listed
            page.screenshot(path=str(project / "report.png"), full_page=True)
        finally:
            browser.close()
    assert (project / "report.png").stat().st_size > 10_000
