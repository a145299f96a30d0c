"""The pytest plugin: record each test, keep the traces of those that fail.

Registered through the ``pytest11`` entry point (``pip install`` is
enough; ``-p racetrace`` loads it explicitly). Inert unless asked:

- ``pytest --racetrace`` records the call of every test (its threads; its
  fixtures are set up and torn down outside the trace) and keeps the trace
  of each test that fails (``--racetrace-keep=failed|all|none``) in
  ``--racetrace-dir`` (default ``.racetrace/``), one file per node id;
- ``--racetrace-rerun=N`` runs each test up to N times under recording
  and stops at the first failure, whose trace is kept (a flaky test may
  pass when recorded); ``--racetrace-explore`` runs each call under PCT
  exploration (a new seed per run) instead of letting its threads run
  freely;
- ``@pytest.mark.racetrace(include=..., exclude=..., rerun=N)`` records
  one test even without ``--racetrace``;
- the ``racetrace_explore`` fixture runs ``explore_dpor`` or
  ``explore_interleavings`` inside a test and keeps a failure's trace;
- after the run, the terminal summary lists each kept trace: the test, how
  it failed, the most relevant race or potential deadlock with both lines,
  and the commands to explain and replay it. With pytest-xdist each worker
  writes its own traces and the summary (printed by the controller) lists
  them all.

Nothing of racetrace's native side is imported unless one of these is
used, so the plugin costs nothing in a plain ``pytest`` run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from racetrace import pytest_summary

if TYPE_CHECKING:
    from racetrace.results import ExploreResult

KEEP_MODES = ("failed", "all", "none")
DEFAULT_DIR = ".racetrace"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("racetrace", "racetrace: record tests, keep the traces of failures")
    g.addoption("--racetrace", action="store_true", help="record every test; keep the traces of failing ones")
    g.addoption(
        "--racetrace-keep",
        choices=KEEP_MODES,
        default="failed",
        help="which traces to keep: failed (default), all, none",
    )
    g.addoption("--racetrace-dir", default=DEFAULT_DIR, metavar="DIR", help="where traces go (default: .racetrace)")
    g.addoption(
        "--racetrace-rerun",
        type=int,
        default=0,
        metavar="N",
        help="run each recorded test up to N times until it fails, and keep that failing trace",
    )
    g.addoption(
        "--racetrace-explore",
        action="store_true",
        help="run each test's call under PCT exploration (a new seed per run) instead of freely",
    )
    g.addoption("--racetrace-seed", type=int, default=None, help="first exploration seed (default: random)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "racetrace(include=[...], exclude=[...], rerun=N): record this test with racetrace "
        "(even without --racetrace); include/exclude are glob patterns of files to trace; "
        "rerun: run it up to N times until it fails",
    )
    if config.getoption("--racetrace-rerun") < 0:
        raise pytest.UsageError("--racetrace-rerun must be 0 or more")
    plugin = RecordingPlugin(config)
    config.pluginmanager.register(plugin, "racetrace-recording")


@dataclass
class Plan:
    """How one test is recorded."""

    path: str
    program: list[str]
    include: list[str]
    exclude: list[str]
    attempts: int
    explore: bool
    attempt: int = 0
    #: Steps of the longest explored run so far (PCT spreads its priority
    #: change points over this many steps).
    longest: int = 0


_PLAN = pytest.StashKey[Plan]()
#: Summaries of the traces the ``racetrace_explore`` fixture kept during a
#: test's call (sent with its report).
_FIXTURE_TRACES = pytest.StashKey[list[dict[str, Any]]]()


def _marker_options(item: pytest.Item) -> dict[str, Any] | None:
    m = item.get_closest_marker("racetrace")
    if m is None:
        return None
    opts = dict(m.kwargs)
    unknown = set(opts) - {"include", "exclude", "rerun"}
    if m.args or unknown:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.racetrace takes include=, exclude= and rerun= only "
            f"(got {', '.join(map(repr, m.args)) or ''}{', '.join(sorted(unknown))})"
        )
    return opts


class RecordingPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.enabled = bool(
            config.getoption("--racetrace")
            or config.getoption("--racetrace-rerun")
            or config.getoption("--racetrace-explore")
        )
        self.keep = str(config.getoption("--racetrace-keep"))
        self.dir = os.path.abspath(str(config.getoption("--racetrace-dir")))
        self.rerun = int(config.getoption("--racetrace-rerun"))
        self.explore = bool(config.getoption("--racetrace-explore"))
        seed = config.getoption("--racetrace-seed")
        self.seed = int(seed) if seed is not None else int.from_bytes(os.urandom(4), "little")
        self.kept: list[dict[str, Any]] = []
        #: Tests that passed every one of their recorded runs: (node id, runs).
        self.passed_reruns: list[tuple[str, int]] = []
        #: The trace directory was there before this run (else it is
        #: removed at the end if nothing was kept in it).
        self.dir_existed = os.path.isdir(self.dir)
        self.started = time.time()
        self.worker = hasattr(config, "workerinput")

    # --- which tests, and how ------------------------------------------

    def _controlled_elsewhere(self) -> bool:
        """A replay or shrink candidate (``NodeRun``) runs this session."""
        from racetrace.node_run import NodeRun

        return any(isinstance(p, NodeRun) for p in self.config.pluginmanager.get_plugins())

    def plan_for(self, item: pytest.Item) -> Plan | None:
        opts = _marker_options(item)
        if not self.enabled and opts is None:
            return None
        if self._controlled_elsewhere():
            return None
        if "racetrace_explore" in getattr(item, "fixturenames", ()):
            # The explorers inside the test make (and keep) their own traces;
            # a recording around them could not nest.
            return None
        from racetrace.node_run import node_program

        opts = opts or {}
        rerun = int(opts.get("rerun", 0) or 0) or self.rerun
        return Plan(
            path=os.path.join(self.dir, pytest_summary.trace_name(item.nodeid)),
            program=node_program(item),
            include=list(opts.get("include", ())),
            exclude=list(opts.get("exclude", ())),
            attempts=max(1, rerun),
            explore=self.explore,
        )

    def _ensure_dir(self) -> None:
        os.makedirs(self.dir, exist_ok=True)

    # --- running: attempts, each one recorded ----------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        plan = self.plan_for(item)
        if plan is None:
            return None
        from _pytest.runner import runtestprotocol

        item.stash[_PLAN] = plan
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        reports: list[pytest.TestReport] = []
        for attempt in range(1, plan.attempts + 1):
            plan.attempt = attempt
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
            call_failed = any(r.failed for r in reports if r.when == "call")
            # A setup error or a skip would do the same every time.
            other = any((r.failed or r.skipped) for r in reports if r.when != "call")
            if call_failed or other or not any(r.when == "call" for r in reports):
                break
        if plan.attempts > 1:
            # How many recorded runs it took (or passed), for the summary.
            for r in reports:
                if r.when == "call":
                    r.racetrace_runs = (plan.attempt, plan.attempts)  # type: ignore[attr-defined]
        for r in reports:
            item.ihook.pytest_runtest_logreport(report=r)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        plan = item.stash.get(_PLAN, None)
        if plan is None:
            yield
            return
        self._ensure_dir()
        orig = item.runtest
        if plan.explore:
            item.runtest = self._explored(plan, orig)  # type: ignore[method-assign]
        else:
            item.runtest = self._recorded(  # type: ignore[method-assign]
                plan, orig, str(getattr(item, "path", "")), item.nodeid
            )
        try:
            yield
        finally:
            del item.runtest

    def _recorded(self, plan: Plan, call: Callable[[], None], test_file: str, item_id: str) -> Callable[[], None]:
        import shlex
        import sys

        from racetrace.recording import record

        def recorded() -> None:
            rec = record(plan.path, include=plan.include, exclude=plan.exclude, program=shlex.join(plan.program))
            try:
                rec.__enter__()
            except (OSError, RuntimeError) as e:
                # Already recording (`racetrace record -m pytest --racetrace`),
                # or no room for the trace: the test still runs.
                import warnings

                warnings.warn(f"racetrace: {e}; the test runs unrecorded", stacklevel=1)
                call()
                return
            exc_info: tuple[Any, Any, Any] = (None, None, None)
            # The recording closes the trace if the test calls os._exit;
            # say so first, since pytest will print no summary.
            closing_exit = os._exit
            os._exit = _announcing_exit(closing_exit, item_id, plan.path, self._uncapture)  # type: ignore[assignment]
            try:
                call()
            except BaseException:
                exc_info = sys.exc_info()
                raise
            finally:
                os._exit = closing_exit
                rec.__exit__(exc_info[0], exc_info[1], _from_test(exc_info[2], test_file))

        return recorded

    def _uncapture(self) -> None:
        """Gives pytest's captured stderr back to the terminal (the process
        is about to end)."""
        capman = self.config.pluginmanager.getplugin("capturemanager")
        if capman is not None:
            capman.suspend_global_capture(in_=True)

    def _explored(self, plan: Plan, call: Callable[[], None]) -> Callable[[], None]:
        import shlex

        from racetrace import control
        from racetrace.node_run import reraise, run_call_controlled

        def explored() -> None:
            seed = (self.seed + plan.attempt * 0x9E3779B1) & 0x7FFFFFFF
            res = run_call_controlled(
                call,
                schedule=None,
                trace_source=None,
                trace=plan.path,
                deadlock_timeout=control.DEFAULT_DEADLOCK_TIMEOUT,
                max_steps=control.DEFAULT_MAX_STEPS,
                program=shlex.join(plan.program),
                include=plan.include,
                exclude=plan.exclude,
                pct=(seed, 3, plan.longest or 100),
            )
            plan.longest = max(plan.longest, res.steps)
            reraise(res)

        return explored

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome = yield
        if call.when != "call":
            return
        rep: pytest.TestReport = outcome.get_result()
        entries = item.stash.get(_FIXTURE_TRACES, [])
        item.stash[_FIXTURE_TRACES] = []
        plan = item.stash.get(_PLAN, None)
        if plan is not None and os.path.exists(plan.path):
            keep = self.keep == "all" or (self.keep == "failed" and rep.failed)
            if keep:
                entries.insert(0, pytest_summary.summarize(plan.path, item.nodeid, plan.attempt, plan.attempts))
            else:
                os.unlink(plan.path)
        if entries:
            # A plain attribute travels with the report to an xdist controller.
            rep.racetrace = entries  # type: ignore[attr-defined]

    # --- the summary -------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        runs = getattr(report, "racetrace_runs", None)
        if runs and report.passed:
            self.passed_reruns.append((report.nodeid, int(runs[1])))
        entries = getattr(report, "racetrace", None)
        if entries:
            self.kept.extend(entries)
            return
        # (xdist reports a crashed worker's test with `when` "???".)
        if report.failed and report.when not in ("setup", "teardown") and self.enabled and not self.worker:
            # A test whose process died (an xdist worker that crashed) sends
            # no trace with its report; its trace may be on disk all the same.
            path = os.path.join(self.dir, pytest_summary.trace_name(report.nodeid))
            if os.path.exists(path) and os.path.getmtime(path) >= self.started - 1:
                e = pytest_summary.summarize(path, report.nodeid, 0, 0)
                e["incomplete"] = ["the test's process died; this is what its trace holds", *e["incomplete"]]
                self.kept.append(e)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.worker:
            return
        if self.kept or self.passed_reruns:
            terminalreporter.write_sep("=", "racetrace")
            if self.kept:
                for line in pytest_summary.render(self.kept, os.getcwd()):
                    terminalreporter.write_line(line)
            if self.passed_reruns:
                if self.kept:
                    terminalreporter.write_line("")
                terminalreporter.write_line(
                    f"passed every recorded run ({len(self.passed_reruns)} test"
                    f"{'s' if len(self.passed_reruns) != 1 else ''}; no trace kept):"
                )
                for nodeid, runs in self.passed_reruns:
                    terminalreporter.write_line(f"  {nodeid}: {runs} runs")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # Under xdist the controller does it, once every worker is done.
        if not self.dir_existed and not self.worker:
            try:
                os.rmdir(self.dir)  # only if empty: nothing was kept
            except OSError:
                pass


def _announcing_exit(
    exit: Callable[[int], Any], nodeid: str, path: str, uncapture: Callable[[], None]
) -> Callable[[int], Any]:
    """``os._exit`` during a recorded test: one line on stderr naming the
    test and its trace (closed and kept by ``exit``), since the process
    ends before pytest can summarize."""

    def announcing(status: int) -> Any:
        try:
            uncapture()
        except Exception:  # noqa: BLE001 - the exit must happen regardless
            pass
        try:
            os.write(
                2,
                f"\nracetrace: {nodeid} called os._exit({status}); its trace is closed and kept in {path}"
                f" (explain: racetrace explain {path})\n".encode(errors="replace"),
            )
        except OSError:
            pass
        return exit(status)

    return announcing


def _from_test(tb: Any, test_file: str) -> Any:
    """The traceback from the test's own file on (pytest's and the
    plugin's frames above the test function are not the program's)."""
    t = tb
    while t is not None and t.tb_frame.f_code.co_filename != test_file:
        t = t.tb_next
    return t if t is not None else tb


# --- the explore fixture --------------------------------------------------


class Explorer:
    """The ``racetrace_explore`` fixture: the explore API inside a test.
    A failing exploration's trace is kept like a failing test's (and listed
    in the summary); with ``check`` (the default) a failure fails the test
    with the explanation."""

    def __init__(self, item: pytest.Item, plugin: RecordingPlugin | None) -> None:
        self.item = item
        self.plugin = plugin

    def _keep(self, result: ExploreResult, which: str) -> None:
        import shutil

        if not result.failures or not result.failures[0].trace or self.plugin is None:
            return
        if self.plugin.keep == "none":
            return
        self.plugin._ensure_dir()
        name = pytest_summary.trace_name(self.item.nodeid, suffix=f"-{which}")
        path = os.path.join(self.plugin.dir, name)
        shutil.copyfile(result.failures[0].trace, path)
        entry = pytest_summary.summarize(path, self.item.nodeid, 1, 1)
        self.item.stash.setdefault(_FIXTURE_TRACES, []).append(entry)

    def _check(self, result: ExploreResult, check: bool) -> ExploreResult:
        if check and not result.property_holds:
            raise AssertionError(result.explanation)
        return result

    def dpor(self, setup: Callable[[], Any], threads: Any, invariant: Any = None, *, check: bool = True,
             **kwargs: Any) -> ExploreResult:
        """``racetrace.explore_dpor`` (same arguments)."""
        from racetrace import explore_dpor

        result = explore_dpor(setup, threads, invariant, **kwargs)
        self._keep(result, "dpor")
        return self._check(result, check)

    def interleavings(self, setup: Callable[[], Any], threads: Any, invariant: Any = None, *,
                      check: bool = True, **kwargs: Any) -> ExploreResult:
        """``racetrace.explore_interleavings`` (same arguments)."""
        from racetrace import explore_interleavings

        result = explore_interleavings(setup, threads, invariant, **kwargs)
        self._keep(result, "interleavings")
        return self._check(result, check)


@pytest.fixture
def racetrace_explore(request: pytest.FixtureRequest) -> Explorer:
    """Explore a test's threads: ``racetrace_explore.dpor(setup, threads,
    invariant)`` or ``.interleavings(...)``; fails the test (with the
    explanation) when an interleaving breaks the invariant, and keeps that
    interleaving's trace."""
    plugin = request.config.pluginmanager.get_plugin("racetrace-recording")
    return Explorer(request.node, plugin if isinstance(plugin, RecordingPlugin) else None)
