"""Threads and asyncio tasks in one exploration: a task that hands work
to a thread (``asyncio.to_thread``, ``run_in_executor``), thread workers
beside task workers, threads handing callbacks to the loop
(``call_soon_threadsafe``, ``run_coroutine_threadsafe``), loops the
program runs itself, and timeouts.

Once a thread could come between the events of a task's step, the
exploration starts again with task steps split into their events: the
outcomes of generated programs of tasks and a thread are checked against
a brute force over every interleaving that keeps each task step whole
with respect to the other tasks only."""

from __future__ import annotations

import asyncio
import random
import threading
import types
from collections.abc import Callable
from typing import Any, TypeVar

import racetrace
from racetrace import _native
from racetrace.aio import THREADS_BETWEEN_STEPS

S = TypeVar("S")
T = TypeVar("T")


def _outcomes(
    setup: Callable[[], S], workers: list[Callable[[S], Any]], look: Callable[[S], T], **options: Any
) -> tuple[racetrace.ExploreResult, set[T]]:
    """Explores every class (not stopping at a failure); the result and
    what ``look`` saw at the end of each execution."""
    seen: set[T] = set()

    def note(s: S) -> bool:
        seen.add(look(s))
        return True

    r = racetrace.explore_dpor(setup, workers, note, stop_on_first=False, shrink=False, progress=False, **options)
    return r, seen


class State:
    def __init__(self) -> None:
        self.n = 0
        self.got: object = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_ready = threading.Event()
        self.go = threading.Event()


def bump(s: State) -> None:
    v = s.n
    s.n = v + 1


async def to_thread_bump(s: State) -> None:
    await asyncio.to_thread(bump, s)


async def split_bump(s: State) -> None:
    v = s.n
    await asyncio.sleep(0)
    s.n = v + 1


def test_a_to_thread_worker_racing_a_task_across_its_await_is_found() -> None:
    r, seen = _outcomes(State, [to_thread_bump, split_bump], lambda s: s.n)
    # The thread's update lands between the task's read and write (lost),
    # or not.
    assert seen == {1, 2}
    r = racetrace.explore_dpor(State, [to_thread_bump, split_bump], lambda s: s.n == 2, progress=False)
    assert r.failures and r.failures[0].kind == "invariant violation", r.explanation
    text = r.explanation
    assert "v = s.n" in text and "s.n = v + 1" in text and "await asyncio.sleep(0)" in text
    # The thread is the executor's worker, an actor of its own.
    assert "asyncio_0" in text, text
    # Task steps were split into their events (a thread ran beside the
    # tasks): nothing was left out.
    assert not any(THREADS_BETWEEN_STEPS in line for line in r.limits), r.limits


async def hands_back(s: State) -> None:
    s.got = await asyncio.to_thread(lambda: 41)
    s.n = s.got + 1  # type: ignore[operator]


async def in_executor(s: State) -> None:
    loop = asyncio.get_running_loop()
    s.got = await loop.run_in_executor(None, bump, s)
    s.n += 10


def test_what_a_thread_returns_reaches_the_task_that_awaits_it() -> None:
    r, seen = _outcomes(State, [hands_back], lambda s: s.n)
    assert not r.failures and r.stopped_because is None, r.explanation
    assert seen == {42}
    r, seen = _outcomes(State, [in_executor], lambda s: (s.got, s.n))
    assert not r.failures and seen == {(None, 11)}, r.explanation


def fails(s: State) -> None:
    raise ValueError("in the thread")


async def catches(s: State) -> None:
    try:
        await asyncio.to_thread(fails, s)
    except ValueError as e:
        s.got = str(e)


async def lets_it_go(s: State) -> None:
    await asyncio.to_thread(fails, s)


def test_an_exception_in_the_thread_is_raised_in_the_task_that_awaits_it() -> None:
    r, seen = _outcomes(State, [catches], lambda s: s.got)
    assert not r.failures and seen == {"in the thread"}, r.explanation
    r = racetrace.explore_dpor(State, [lets_it_go], lambda s: True, shrink=False, progress=False)
    assert r.failures, r.explanation
    assert "task-1" in r.failures[0].message and "ValueError: in the thread" in r.failures[0].message


def test_thread_workers_and_task_workers_run_together() -> None:
    # A thread worker beside a task worker: the thread's update lands
    # between the task's read and its write after the await, or not.
    r, seen = _outcomes(State, [bump, split_bump], lambda s: s.n)
    assert seen == {1, 2}, r.explanation
    r = racetrace.explore_dpor(State, [bump, split_bump], lambda s: s.n == 2, progress=False)
    assert r.failures, r.explanation
    steps = r.explanation.split("the steps that matter:")[1]
    assert "T1 (thread-1)" in steps and "T2 (task-2)" in steps, steps
    assert "resumes after its await" in steps


async def _add_ten(s: State) -> int:
    v = s.n
    await asyncio.sleep(0)
    s.n = v + 10
    return s.n


def submits_to_the_loop(s: State) -> None:
    s.loop_ready.wait()
    assert s.loop is not None
    s.got = asyncio.run_coroutine_threadsafe(_add_ten(s), s.loop).result()


async def serves(s: State) -> None:
    s.loop = asyncio.get_running_loop()
    s.loop_ready.set()
    while s.got is None:
        await asyncio.sleep(0.01)


def test_a_thread_runs_a_coroutine_on_the_loop_and_waits_for_its_result() -> None:
    r, seen = _outcomes(State, [submits_to_the_loop, serves], lambda s: (s.n, s.got))
    assert not r.failures and r.stopped_because is None, r.explanation
    assert seen == {(10, 10)}


def waits_for_go(s: State) -> None:
    s.go.wait()


async def waits_for_a_thread_that_waits_for_it(s: State) -> None:
    await asyncio.to_thread(waits_for_go, s)
    s.go.set()


def test_a_task_and_a_thread_waiting_for_each_other_is_a_deadlock_naming_both() -> None:
    r = racetrace.explore_dpor(
        State, [waits_for_a_thread_that_waits_for_it], lambda s: True, shrink=False, progress=False
    )
    assert r.failures and r.failures[0].kind == "deadlock", r.explanation
    msg = r.failures[0].message
    assert "T1 (task-1) awaits" in msg and "await asyncio.to_thread(waits_for_go, s)" in msg, msg
    assert "(asyncio_0) waits at" in msg and "test_explore_async_threads.py" in msg.split("asyncio_0")[1], msg


class Guarded:
    def __init__(self) -> None:
        self.lock = threading.Lock()


async def hands_its_held_lock_to_an_executor(g: Guarded) -> None:
    g.lock.acquire()
    await asyncio.get_running_loop().run_in_executor(None, g.lock.acquire)


def test_a_thread_blocked_in_library_code_is_named_where_it_waits_and_on_what() -> None:
    # The executor's thread calls `lock.acquire` itself: no traced code on
    # its stack, yet the lock has the name traced code gave it.
    r = racetrace.explore_dpor(Guarded, [hands_its_held_lock_to_an_executor], lambda g: True, progress=False)
    assert r.failures and r.failures[0].kind == "deadlock", r.explanation
    line = next(x for x in r.failures[0].message.splitlines() if "(asyncio_0) waits at" in x)
    assert "concurrent/futures/thread.py:" in line and "for lock `Guarded.lock`" in line, line
    assert "is held by T1 (task-1)" in line and "<unknown>" not in line, line
    # The task holds the lock the thread it awaits wants: a cycle.
    assert "deadlock cycle" in r.explanation, r.explanation


async def sleeps_while_a_thread_works(s: State) -> None:
    try:
        s.got = await asyncio.wait_for(asyncio.to_thread(lambda: 7), timeout=5)
    except TimeoutError:
        s.got = "timed out"
    await asyncio.sleep(1)
    s.n = 1


def test_timers_and_threads_together() -> None:
    # The thread's result comes first, or the timeout fires first (it is
    # explored wherever it could fire); the sleep fires in virtual time.
    r, seen = _outcomes(State, [sleeps_while_a_thread_works], lambda s: (s.got, s.n))
    assert not r.failures and r.stopped_because is None, r.explanation
    assert seen == {(7, 1), ("timed out", 1)}


async def _two_split_bumps(s: State) -> None:
    await asyncio.gather(split_bump(s), split_bump(s))


def runs_its_own_loop(s: State) -> None:
    asyncio.run(_two_split_bumps(s))


def test_a_loop_the_program_runs_in_a_thread_has_its_tasks_explored() -> None:
    # asyncio's own order runs both reads before both writes (1); the
    # controlled loop the run gives `asyncio.run` explores the other (2).
    r, seen = _outcomes(State, [runs_its_own_loop], lambda s: s.n)
    assert seen == {1, 2}, r.explanation
    assert not r.failures and r.exhausted, r.limits
    r = racetrace.explore_dpor(State, [runs_its_own_loop], lambda s: s.n == 2, progress=False)
    assert r.failures and "resumes after its await" in r.explanation, r.explanation
    # Outside a run, asyncio.run is asyncio's own again.
    s = State()
    runs_its_own_loop(s)
    assert s.n == 1 and type(asyncio.get_event_loop_policy()).__module__.startswith("asyncio")


class Waits:
    def __init__(self) -> None:
        self.q: asyncio.Queue[int] = asyncio.Queue()
        self.got: object = None
        self.ev = asyncio.Event()


async def gets_with_a_timeout(s: Waits) -> None:
    try:
        s.got = await asyncio.wait_for(s.q.get(), timeout=1)
    except TimeoutError:
        s.got = "timed out"


async def puts(s: Waits) -> None:
    await s.q.put(7)


async def waits_in_a_timeout_block(s: Waits) -> None:
    try:
        async with asyncio.timeout(1):
            await s.ev.wait()
        s.got = "set"
    except TimeoutError:
        s.got = "timed out"


async def sets(s: Waits) -> None:
    s.ev.set()


def test_a_timeout_is_explored_firing_before_and_after_what_it_guards() -> None:
    # The item arrives first, or the timeout fires first: both, and no
    # "virtual time" limit (no sleep), so the result is exhaustive.
    r, seen = _outcomes(Waits, [gets_with_a_timeout, puts], lambda s: s.got)
    assert seen == {7, "timed out"}, r.explanation
    assert not r.failures and r.exhausted, r.limits
    r, seen = _outcomes(Waits, [waits_in_a_timeout_block, sets], lambda s: s.got)
    assert seen == {"set", "timed out"}, r.explanation
    assert r.exhausted, r.limits
    # Alone, a wait nobody ends times out (it does not deadlock).
    r, seen = _outcomes(Waits, [gets_with_a_timeout], lambda s: s.got)
    assert seen == {"timed out"} and r.exhausted, r.explanation


def test_a_timeout_found_firing_is_a_failure_with_its_steps() -> None:
    r = racetrace.explore_dpor(Waits, [gets_with_a_timeout, puts], lambda s: s.got == 7, progress=False)
    assert r.failures and r.failures[0].kind == "invariant violation", r.explanation
    # The first execution is the natural one (the timeout fires only once
    # nothing else can go); the failing one's schedule replays it.
    assert r.num_explored > 1
    assert "reproduced 10/10 times" in r.explanation, r.explanation
    # Which timeout fired, named by the line that set it.
    with open(__file__) as source:
        line = next(n for n, text in enumerate(source, 1) if "wait_for(s.q.get(), timeout=1)" in text)
    assert "timeouts that fired:" in r.explanation, r.explanation
    assert f"(timeout at test_explore_async_threads.py:{line}) fired" in r.explanation, r.explanation


async def waits_for_a_task_with_a_timeout(s: Waits) -> None:
    t = asyncio.get_running_loop().create_task(s.ev.wait())
    done, _pending = await asyncio.wait([t], timeout=1)
    s.got = "done" if done else "pending"
    t.cancel()


def test_wait_with_a_timeout_sees_the_task_done_or_not() -> None:
    r, seen = _outcomes(Waits, [waits_for_a_task_with_a_timeout, sets], lambda s: s.got)
    assert seen == {"done", "pending"}, r.explanation
    assert not r.failures and r.exhausted, r.limits


# -- generated programs of tasks and a thread against a brute force ------------

Access = tuple[str, int]  # ("r" | "w", attribute index)


def _gen_program(rng: random.Random) -> tuple[list[list[list[Access]]], list[Access]]:
    """Tasks (each a list of steps, each a list of accesses) and a thread
    (a list of accesses)."""

    def accesses(n: int) -> list[Access]:
        return [(rng.choice("rw"), rng.randrange(2)) for _ in range(n)]

    tasks = [[accesses(rng.randint(1, 2)) for _ in range(rng.randint(1, 2))] for _ in range(rng.randint(1, 2))]
    return tasks, accesses(rng.randint(1, 3))


def _source(tasks: list[list[list[Access]]], thread: list[Access]) -> str:
    """Each write stores a value of its own; each read folds what it saw
    into its actor's `acc`, kept at the end: the outcome tells the orders
    of conflicting accesses apart."""

    def body(actor: int, ops: list[Access], start: int, indent: str) -> list[str]:
        out = []
        for j, (mode, x) in enumerate(ops):
            if mode == "r":
                out.append(f"{indent}acc = acc * 64 + s.x{x}")
            else:
                out.append(f"{indent}s.x{x} = {10 * (actor + 1) + start + j + 1}")
        return out

    out = ["class State:", "    def __init__(self):", "        self.x0 = 0", "        self.x1 = 0"]
    out.append("        self.out = {}")
    out += ["", "", "def thread(s):", "    acc = 0", *body(0, thread, 0, "    "), "    s.out[0] = acc"]
    for t, steps in enumerate(tasks):
        out += ["", "", f"async def task{t}(s):", "    import asyncio", "", "    acc = 0"]
        n = 0
        for k, step in enumerate(steps):
            if k:
                out.append("    await asyncio.sleep(0)")
            out += body(t + 1, step, n, "    ")
            n += len(step)
        out.append(f"    s.out[{t + 1}] = acc")
    return "\n".join(out) + "\n"


def _brute_outcomes(tasks: list[list[list[Access]]], thread: list[Access]) -> set[tuple[int, ...]]:
    """Every outcome: the tasks' steps in any order that keeps each task's
    own order (each step whole), the thread's accesses anywhere among the
    steps' accesses."""
    outcomes: set[tuple[int, ...]] = set()

    def run(order: list[tuple[int, int, Access]]) -> tuple[int, ...]:
        x = [0, 0]
        acc = [0] * (len(tasks) + 1)
        for actor, j, (mode, i) in order:
            if mode == "r":
                acc[actor] = acc[actor] * 64 + x[i]
            else:
                x[i] = 10 * (actor + 1) + j + 1
        return (*x, *acc)

    def step_orders(pc: list[int], seq: list[list[tuple[int, int, Access]]]) -> None:
        if all(pc[t] == len(tasks[t]) for t in range(len(tasks))):
            flat = [a for block in seq for a in block]
            merge(flat, 0, 0, [])
            return
        for t in range(len(tasks)):
            if pc[t] < len(tasks[t]):
                start = sum(len(st) for st in tasks[t][: pc[t]])
                block = [(t + 1, start + j, a) for j, a in enumerate(tasks[t][pc[t]])]
                pc[t] += 1
                step_orders(pc, [*seq, block])
                pc[t] -= 1

    def merge(flat: list[tuple[int, int, Access]], i: int, j: int, out: list[tuple[int, int, Access]]) -> None:
        if i == len(flat) and j == len(thread):
            outcomes.add(run(out))
            return
        if i < len(flat):
            merge(flat, i + 1, j, [*out, flat[i]])
        if j < len(thread):
            merge(flat, i, j + 1, [*out, (0, j, thread[j])])

    step_orders([0] * len(tasks), [])
    return outcomes


def test_generated_programs_of_tasks_and_a_thread_reach_every_outcome(tmp_path) -> None:
    # (Taken whole, 11 of the first 30 miss outcomes.)
    rng = random.Random(2026)
    for i in range(60):
        tasks, thread = _gen_program(rng)
        path = tmp_path / f"mixed{i}.py"
        path.write_text(_source(tasks, thread))
        mod = types.ModuleType(f"mixed{i}")
        mod.__file__ = str(path)
        exec(compile(path.read_text(), str(path), "exec"), mod.__dict__)
        workers = [mod.thread, *(getattr(mod, f"task{t}") for t in range(len(tasks)))]
        n = len(tasks) + 1
        r, seen = _outcomes(mod.State, workers, lambda s, n=n: (s.x0, s.x1, *(s.out[a] for a in range(n))))
        expected = _brute_outcomes(tasks, thread)
        assert not r.failures and r.stopped_because is None, (tasks, thread, r.explanation)
        assert r.exhausted, (tasks, thread, r.limits)
        assert seen == expected, (tasks, thread, sorted(seen ^ expected))


# -- review regressions ---------------------------------------------------------


class Log:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.fut: asyncio.Future[str] | None = None


def runs_a_loop_with_a_leftover_task(s: Log) -> None:
    async def background() -> None:
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            s.log.append("background cancelled")
            raise

    async def main() -> None:
        asyncio.get_running_loop().create_task(background())
        await asyncio.sleep(0)
        s.log.append("main done")

    asyncio.run(main())
    s.log.append("after the run")


def test_a_loop_the_program_runs_again_keeps_its_pending_tasks() -> None:
    # asyncio.run runs its loop again to cancel what main left: the task
    # left pending by the first run is still there for the second.
    r, seen = _outcomes(Log, [runs_a_loop_with_a_leftover_task], lambda s: tuple(s.log))
    assert not r.failures, r.explanation
    plain = Log()
    runs_a_loop_with_a_leftover_task(plain)
    assert seen == {tuple(plain.log)} == {("main done", "background cancelled", "after the run")}


async def waits_two_seconds(s: Log) -> None:
    s.fut = asyncio.get_running_loop().create_future()
    try:
        await asyncio.wait_for(s.fut, 2)
        s.log.append("got it")
    except TimeoutError:
        s.log.append("timed out")


async def sleeps_one_second_then_sets(s: Log) -> None:
    loop = asyncio.get_running_loop()
    loop.call_later(1, lambda: s.log.append(f"timer at {loop.time():g}"))
    await asyncio.sleep(1)
    if s.fut is not None and not s.fut.done():
        s.fut.set_result("b")


def test_a_timeout_never_fires_before_a_timer_due_earlier() -> None:
    r, seen = _outcomes(Log, [waits_two_seconds, sleeps_one_second_then_sets], lambda s: tuple(s.log))
    assert not r.failures, r.explanation
    # A one-second timer set before the timeout fires always fires at 1 s,
    # before the timeout is due (which then fires, or not, before the work
    # ready at 1 s is done). The timeout may also fire before the sleeper's
    # first step (ready steps go in any order here, not asyncio's first in,
    # first out): its timer is then set at 2 s and fires at 3 s. Before
    # timeouts waited for earlier timers, the timer set at 0 s fired at 2 s.
    allowed = {("timer at 1", "got it"), ("timer at 1", "timed out"), ("timed out", "timer at 3")}
    assert seen <= allowed, seen
    assert ("timer at 1", "got it") in seen and ("timer at 1", "timed out") in seen, seen


def sleeps_in_its_own_loop(seconds: int, name: str) -> Callable[[Log], None]:
    def run(s: Log) -> None:
        async def main() -> None:
            await asyncio.sleep(seconds)
            s.log.append(name)

        asyncio.run(main())

    return run


def test_loops_of_two_threads_fire_their_timers_in_deadline_order() -> None:
    workers = [sleeps_in_its_own_loop(5, "slow"), sleeps_in_its_own_loop(1, "fast")]
    r, seen = _outcomes(Log, workers, lambda s: tuple(s.log))
    assert not r.failures and seen == {("fast", "slow")}, (seen, r.explanation)


class Handoff:
    def __init__(self) -> None:
        self.n = 0
        self.go = threading.Event()
        self.done = asyncio.Event()


async def _child(s: Handoff) -> None:
    v = s.n
    s.go.set()
    s.n = v + 10


async def creates_a_task_from_a_timer(s: Handoff) -> None:
    loop = asyncio.get_running_loop()
    loop.call_later(1, lambda: loop.create_task(_child(s)))
    loop.call_later(2, s.done.set)
    await s.done.wait()


def waits_for_the_child(s: Handoff) -> None:
    s.go.wait()
    v = s.n
    s.n = v + 1


def test_a_timer_creates_a_task_while_the_loop_waits_for_a_thread() -> None:
    r, seen = _outcomes(Handoff, [creates_a_task_from_a_timer, waits_for_the_child], lambda s: s.n, deadlock_timeout=3)
    assert not r.failures and r.stopped_because is None, r.explanation
    # The thread's update before, between or after the child's read and write.
    assert seen == {1, 10, 11}


class Shared:
    value = 0


async def _incr(c: type[Shared]) -> None:
    v = c.value
    await asyncio.sleep(0)
    c.value = v + 1


def _program() -> int:
    Shared.value = 0

    async def main() -> None:
        await asyncio.gather(_incr(Shared), _incr(Shared))

    asyncio.run(main())
    return Shared.value


def test_a_controlled_run_of_an_asyncio_program_makes_its_tasks_actors(tmp_path) -> None:
    # racetrace.run (as `racetrace replay`) of a program that calls
    # asyncio.run: its tasks are actors of the trace, and a schedule that
    # interleaves them gives the lost update.
    path = tmp_path / "run.rtt"
    res = racetrace.run(_program, trace=path)
    assert res.status == "ok" and res.value == 2
    steps, _program_name, _outcome = _native.trace_steps(str(path))
    names = {name for _actor, name, *_rest in steps}
    assert sum("(_incr)" in name for name in names) == 2, names
    lost = {racetrace.run(_program, seed=seed).value for seed in range(30)}
    assert lost == {1, 2}, lost
