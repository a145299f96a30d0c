"""One pytest test's call, recorded or run under control.

The pytest plugin records (or explores) the *call* of each test: its
fixtures are set up and torn down as usual, outside the trace. A trace of
one test names it as ``pytest-node NODE_ID ...`` (``racetrace.programs``);
replaying it runs pytest on that node with ``NodeRun`` as a plugin, which
puts the call under control with the recorded schedule, so the same code
runs in the same order.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Generator, Sequence
from typing import Any

import pytest

from racetrace import control
from racetrace.programs import NodeNotRun
from racetrace.run_result import RunResult, raise_for


def absolute_node_id(item: pytest.Item) -> str:
    """The node id with its file made absolute, so that a replay finds the
    test from any directory."""
    file_part, sep, rest = item.nodeid.partition("::")
    path = getattr(item, "path", None)
    if path is None:
        return item.nodeid
    return f"{os.fspath(path)}{sep}{rest}"


def node_program(item: pytest.Item) -> list[str]:
    """The words of a one-test program (``racetrace.programs``)."""
    return ["pytest-node", absolute_node_id(item), f"--rootdir={item.config.rootpath}"]


def run_call_controlled(
    call: Callable[[], Any],
    *,
    schedule: str | None,
    trace_source: str | None,
    trace: str | None,
    deadlock_timeout: float,
    max_steps: int,
    program: str,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    pct: tuple[int, int, int] | None = None,
) -> RunResult:
    """Runs a test's call under control; raises what the call raised, or
    the error of a run that did not complete (divergence, deadlock, ...)."""
    res = control.execute(
        call,
        (),
        {},
        schedule=schedule,
        trace_source=trace_source,
        seed=None,
        trace=trace,
        deadlock_timeout=deadlock_timeout,
        max_steps=max_steps,
        include=include,
        exclude=exclude,
        program=program,
        pct=pct,
    )
    return res


def reraise(res: RunResult) -> None:
    """What the test's call does after a controlled run: fail as the
    program did."""
    raise_for(res)
    if res.exception is not None:
        raise res.exception
    if res.worker_exceptions:
        # As pytest's threadexception plugin would report it, but as a
        # failure: the run failed the way the trace recorded.
        name, exc = res.worker_exceptions[0]
        raise exc


class NodeRun:
    """A pytest plugin object: the selected test's call runs under control
    (``schedule`` or the trace ``trace_source`` forced step by step); the
    run's result is kept in ``result``."""

    def __init__(
        self,
        *,
        schedule: str | None = None,
        trace_source: str | None = None,
        trace: str | None = None,
        deadlock_timeout: float = control.DEFAULT_DEADLOCK_TIMEOUT,
        max_steps: int = control.DEFAULT_MAX_STEPS,
    ) -> None:
        self.schedule = schedule
        self.trace_source = trace_source
        self.trace = trace
        self.deadlock_timeout = deadlock_timeout
        self.max_steps = max_steps
        self.result: RunResult | None = None
        self.nodes: list[str] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        if self.result is not None:
            # One test per replay: a second one would not follow the trace.
            yield
            return
        self.nodes.append(item.nodeid)
        orig = item.runtest

        def controlled() -> None:
            self.result = run_call_controlled(
                orig,
                schedule=self.schedule,
                trace_source=self.trace_source,
                trace=self.trace,
                deadlock_timeout=self.deadlock_timeout,
                max_steps=self.max_steps,
                program=shlex.join(node_program(item)),
            )
            reraise(self.result)

        item.runtest = controlled  # type: ignore[method-assign]
        try:
            yield
        finally:
            del item.runtest


def pytest_args(node: str, extra: Sequence[str]) -> list[str]:
    """The pytest command line of a one-test replay: that node, quietly,
    with no cache written."""
    return [node, *extra, "-q", "-p", "no:cacheprovider"]


def run_node(node: str, extra: Sequence[str], runner: NodeRun) -> int:
    """Runs pytest on ``node`` in this process with ``runner``; returns
    pytest's exit code."""
    sys.stdout.flush()
    code = pytest.main(pytest_args(node, extra), plugins=[runner])
    return int(code)


def replay_node(
    source: str,
    node: str,
    extra: Sequence[str] = (),
    *,
    deadlock_timeout: float = control.DEFAULT_DEADLOCK_TIMEOUT,
    max_steps: int = control.DEFAULT_MAX_STEPS,
    trace: str | None = None,
    raise_failure: bool = True,
) -> tuple[int, RunResult]:
    """Replays one recorded test (``source``: its trace or an ``rts1:``
    schedule); returns pytest's exit code and the run. Raises the error of
    a run that did not follow (``DivergenceError``, ``DeadlockError``,
    ...), and with ``raise_failure`` the test's own failure too (pytest has
    reported it already; a replay script raises it again to fail)."""
    schedule, trace_source = (source, None) if source.strip().startswith("rts") else (None, source)
    runner = NodeRun(
        schedule=schedule,
        trace_source=trace_source,
        trace=trace,
        deadlock_timeout=deadlock_timeout,
        max_steps=max_steps,
    )
    code = run_node(node, extra, runner)
    if runner.result is None:
        raise NodeNotRun(
            f"pytest did not run the test {node} in this process (exit code {code}): "
            "is it still there, and not distributed to other processes (pytest-xdist's -n)?"
        )
    raise_for(runner.result)
    if raise_failure:
        reraise(runner.result)
    return code, runner.result
