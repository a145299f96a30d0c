"""The controlled event loop runs its own work untraced (3.11) and its
tasks' steps traced: what the program and the exploration see of the
tasks is what they saw when the whole loop was traced."""

from __future__ import annotations

import asyncio
import sys
from types import FrameType
from typing import Any

import racetrace
from racetrace import _native


class Counter:
    def __init__(self) -> None:
        self.value = 0


def quiet(frame: FrameType, event: str, arg: Any) -> Any:
    """A program's tracer that asks for nothing."""
    return None


def update(s: Counter) -> None:
    v = s.value
    s.value = v + 1


def test_a_tracer_the_program_sets_in_a_task_sees_its_steps_across_awaits() -> None:
    seen: list[list[int]] = []

    async def traced_worker(s: Counter) -> None:
        lines: list[int] = []
        me = traced_worker.__code__

        def tracer(frame: FrameType, event: str, arg: Any) -> Any:
            if frame.f_code is me and event == "line":
                lines.append(frame.f_lineno - me.co_firstlineno)
            return tracer

        sys.settrace(tracer)
        v = s.value
        await asyncio.sleep(0)
        s.value = v + 1
        await asyncio.sleep(0)
        sys.settrace(None)
        seen.append(lines)

    async def plain_worker(s: Counter) -> None:
        v = s.value
        await asyncio.sleep(0)
        s.value = v + 1

    async def both() -> None:
        s = Counter()
        await asyncio.gather(traced_worker(s), plain_worker(s))

    asyncio.run(both())
    plainly = seen.pop()
    assert plainly, "the tracer saw the lines after the first await"
    res = racetrace.explore_dpor(Counter, [traced_worker, plain_worker], lambda s: True, shrink=False)
    # (3.12+: setting a tracer inside a traced function took the
    # recorder's events away, and one execution was all it explored.)
    assert res.exhausted and res.num_explored >= 2
    assert seen == [plainly] * res.num_explored


def test_a_lost_update_made_by_tasks_a_task_creates_is_found() -> None:
    async def child(s: Counter) -> None:
        v = s.value
        await asyncio.sleep(0)
        s.value = v + 1

    async def parent(s: Counter) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(loop.create_task(child(s)), loop.create_task(child(s)))

    res = racetrace.explore_dpor(Counter, [parent], lambda s: s.value == 2, shrink=False)
    assert not res.property_holds
    assert "s.value = v + 1" in res.explanation


def test_what_runs_untraced_is_taken_back_and_an_error_restores_the_tracer() -> None:
    """In an actor: an exception out of `traced` inside `untraced` leaves
    the tracer as it was, and the accesses after it are recorded (the lost
    update between the two threads is found on its line)."""

    def boom() -> None:
        raise ValueError("inside traced")

    def inner() -> None:
        _native.traced(boom)

    def worker(s: Counter) -> None:
        try:
            _native.untraced(inner)
        except ValueError:
            pass
        s.value = s.value + 1  # the racy update

    res = racetrace.explore_dpor(Counter, [worker, worker], lambda s: s.value == 2, shrink=False)
    assert not res.property_holds
    assert "s.value = s.value + 1" in res.explanation


def test_threads_that_set_a_tracer_are_explored_whole() -> None:
    def worker(s: Counter) -> None:
        sys.settrace(quiet)
        try:
            update(s)
        finally:
            sys.settrace(None)

    res = racetrace.explore_dpor(Counter, [worker, worker], lambda s: s.value == 2, shrink=False, stop_on_first=False)
    assert res.exhausted and res.num_explored == 4 and len(res.failures) == 2
    assert not res.limits


def test_a_tracer_set_and_removed_inside_a_traced_function_leaves_the_rest_seen() -> None:
    """The case CPython 3.12/3.13 got wrong: legacy tracing turned on and off
    inside a function whose code the recorder instruments; the accesses
    after it, in the same function and in the ones it calls, are seen."""

    def worker(s: Counter) -> None:
        sys.settrace(quiet)
        sys.settrace(None)
        v = s.value
        s.value = v + 1
        update(s)

    res = racetrace.explore_dpor(Counter, [worker, worker], lambda s: s.value == 4, shrink=False, stop_on_first=False)
    assert res.exhausted and not res.property_holds
    assert res.num_explored >= 6
