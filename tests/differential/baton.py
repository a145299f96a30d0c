"""An instruction-level scheduler in pure Python: the oracle of the
differential soundness test.

It shares nothing with racetrace's recorder (no idea of which operations
are visible): ``sys.settrace`` with ``f_trace_opcodes`` stops the running
thread before *every* bytecode instruction of the program under test, and
a seeded random policy decides there whether another thread runs next.
Exactly one thread holds the baton at a time; the others wait on a gate
(a real lock) of their own. An instruction is one step, as under the GIL:
a C call (``list.append``, ``dict.pop``, a sorted() of a dict) is never
split, so every run the oracle makes is a run CPython itself could make.

Blocking. A thread that blocks in C while holding the baton would stop
everyone, so for the duration of a run the ``threading`` lock factories
make ``OracleLock``s (a real lock, acquired without blocking, and polled):
Event, Condition, Semaphore, Barrier and ``queue`` all wait through those,
and ``SimpleQueue`` (the executors' work queue) is replaced by its
pure-Python twin, which waits through a Semaphore. A failed poll marks the
thread blocked and hands the baton on; the thread is polled again only
after some lock was released or some thread ended (the *epoch* moved).
``Thread.join`` polls the same way; ``Thread.start`` returns once the new
thread has reached its first traced call and waits for the baton, so a
run is deterministic from its seed.

Timeouts. A timed wait may time out whenever it is blocked, as with real
time under an unlucky OS schedule: each decision offers a blocked timed
waiter to the policy with a small probability, and when nothing else can
run one of them must time out. Time is virtual (``threading._time`` and
``queue.time`` are replaced during a run): a wait that times out moves
the clock by its timeout, so the standard library's own deadline loops
end as they would. When every thread is blocked and none has a timeout,
the run is a deadlock: the threads are unwound by ``OracleAbort`` and the
outcome is that of a deadlock.

The code the threads run inside the standard library is not traced: a
primitive's operation is one step, which is one of the orders real threads
could take (those internals are guarded by the primitive's own lock).
"""

from __future__ import annotations

import _thread
import queue
import random
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import thread as futures_thread
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType, ModuleType
from typing import Any

_real_lock = _thread.allocate_lock
_real_start = threading.Thread.start
_real_join = threading.Thread.join

READY, BLOCKED, EXITED = "ready", "blocked", "exited"
RETRY, TIMEOUT = "retry", "timeout"


class OracleAbort(BaseException):
    """Unwinds the threads of a run that ended early (deadlock, step
    limit). A BaseException: the programs catch only Exception."""


class OracleError(RuntimeError):
    """The oracle itself failed (a thread stuck outside its control)."""


@dataclass
class Policy:
    """How one run chooses: ``switch`` is the chance to hand the baton to
    another thread at an instruction (random walk), or PCT when ``pct`` is
    set (priorities, ``pct`` change points spread over ``horizon`` steps);
    ``timeouts``: the chance that a blocked timed waiter is offered to
    the policy at a decision."""

    seed: int
    switch: float = 0.1
    pct: int | None = None
    horizon: int = 200
    timeouts: float = 0.05

    @staticmethod
    def draw(seed: int, horizon: int) -> Policy:
        """The policy of schedule ``seed``: half random walks with a
        switch probability from rare to constant, half PCT of depth 1-3
        (a bug of depth d needs d-1 well placed switches)."""
        r = random.Random(seed)
        timeouts = r.choice((0.0, 0.02, 0.2))
        if r.random() < 0.5:
            return Policy(seed, switch=r.choice((0.02, 0.1, 0.3, 0.7)), timeouts=timeouts)
        return Policy(seed, pct=r.choice((1, 2, 3)), horizon=max(horizon, 10), timeouts=timeouts)


@dataclass(eq=False)
class Actor:
    """A thread under the baton."""

    name: str
    order: int
    priority: float
    gate: Any = field(default_factory=_real_lock)  # released to hand it the baton
    arrived: Any = field(default_factory=_real_lock)  # released when it first waits
    state: str = READY
    timed: bool = False
    blocked_epoch: int = -1
    wake: str = RETRY
    atomic: int = 0
    ident: int | None = None
    thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.gate.acquire()
        self.arrived.acquire()


@dataclass
class Run:
    """What one run produced: its outcome text, ``deadlock`` or ``ok``
    (``step_limit`` if it ran away), the steps taken, and the schedule as
    the list of switches: (thread, line it resumed at, or "timeout")."""

    outcome: str
    status: str
    steps: int
    switches: list[tuple[str, int | str]]
    policy: Policy

    def schedule(self) -> str:
        return " ".join(f"{name}@{where}" for name, where in self.switches)


class Baton:
    """The scheduler of one run."""

    def __init__(self, policy: Policy, program_file: str, max_steps: int, snapshot: Callable[[], str]) -> None:
        self.policy = policy
        self.snapshot = snapshot
        self.outcome: str | None = None
        self.rng = random.Random(policy.seed)
        self.file = program_file
        self.max_steps = max_steps
        self.actors: list[Actor] = []
        self.by_ident: dict[int, Actor] = {}
        self.by_thread: dict[threading.Thread, Actor] = {}
        self.current: Actor | None = None
        self.epoch = 0
        self.steps = 0
        self.aborting: str | None = None
        self.now = 0.0
        self.switches: list[tuple[str, int | str]] = []
        self.pct_points: set[int] = set()
        if policy.pct is not None:
            points = range(1, policy.horizon + 1)
            self.pct_points = set(self.rng.sample(points, min(policy.pct - 1, len(points))))
        self.lowest = 0.0
        self.strays = 0

    # -- actors ----------------------------------------------------------------

    def new_actor(self, name: str, thread: threading.Thread | None) -> Actor:
        a = Actor(name, len(self.actors), self.rng.random(), thread=thread)
        self.actors.append(a)
        if thread is not None:
            self.by_thread[thread] = a
        return a

    def me(self) -> Actor | None:
        return self.by_ident.get(_thread.get_ident())

    def controls(self, a: Actor | None) -> bool:
        """Whether ``a`` (the calling thread's actor) runs under the baton
        right now, so that it must poll rather than block."""
        return a is not None and a.state == READY and not a.atomic and self.aborting is None and self.current is a

    # -- decisions -------------------------------------------------------------

    def candidates(self, me: Actor, me_runnable: bool) -> list[Actor]:
        out = []
        offer = self.policy.timeouts > 0 and self.rng.random() < self.policy.timeouts
        for a in self.actors:
            runnable = a.state == READY and (a is not me or me_runnable)
            # A blocked actor is worth a poll once something changed; a
            # timed one may also be offered the chance to time out.
            woken = a.state == BLOCKED and a is not me and (a.blocked_epoch < self.epoch or (a.timed and offer))
            if runnable or woken:
                out.append(a)
        return out

    def choose(self, me: Actor, me_runnable: bool) -> Actor | None:
        """Who runs next (None: nobody can, a deadlock). A blocked actor
        chosen learns why in ``wake``: something changed since it
        blocked (retry) or it times out."""
        cands = self.candidates(me, me_runnable)
        if not cands:
            timed = [a for a in self.actors if a.state == BLOCKED and a.timed]
            if not timed:
                return None
            nxt = self.rng.choice(timed)
        elif self.policy.pct is not None:
            if me_runnable and self.steps in self.pct_points:
                self.lowest -= 1.0
                me.priority = self.lowest
                cands = self.candidates(me, me_runnable)
            nxt = max(cands, key=lambda a: a.priority)
        elif me_runnable and self.rng.random() >= self.policy.switch:
            nxt = me
        else:
            others = [a for a in cands if a is not me] or cands
            nxt = self.rng.choice(others)
        if nxt.state == BLOCKED:
            nxt.wake = RETRY if nxt.blocked_epoch < self.epoch else TIMEOUT
        return nxt

    def hand(self, me: Actor, nxt: Actor, where: int | str) -> None:
        """Gives the baton to ``nxt`` and waits until it comes back."""
        self.current = nxt
        self.switches.append((nxt.name, where if nxt.state == READY else nxt.wake))
        nxt.gate.release()
        me.gate.acquire()
        if self.aborting is not None:
            raise OracleAbort(self.aborting)

    def step(self, frame: FrameType) -> None:
        """Before an instruction of the program: maybe switch."""
        me = self.current
        if self.aborting is not None:
            return
        if me is None or me.ident != _thread.get_ident():
            # Program code run by a thread without the baton: the oracle
            # lost control (checked at the end of the run).
            self.strays += 1
            return
        self.steps += 1
        if self.steps > self.max_steps:
            self.abort("step_limit")
            raise OracleAbort("step_limit")
        nxt = self.choose(me, me_runnable=True)
        if nxt is not None and nxt is not me:
            self.hand(me, nxt, frame.f_lineno or 0)

    def block(self, me: Actor, timed: bool) -> str:
        """``me`` cannot go on (a failed poll): the baton goes to another
        actor until something changed for ``me``. Returns RETRY (poll
        again) or TIMEOUT (give up the timed wait)."""
        me.state, me.timed, me.blocked_epoch = BLOCKED, timed, self.epoch
        nxt = self.choose(me, me_runnable=False)
        if nxt is None:
            self.abort("deadlock")
            raise OracleAbort("deadlock")
        if nxt is not me:
            self.hand(me, nxt, "")
        else:
            self.switches.append((me.name, TIMEOUT))
        me.state = READY
        return me.wake

    def progress(self) -> None:
        """A lock was released or a thread ended: blocked actors may go on."""
        self.epoch += 1

    def exit(self, me: Actor) -> None:
        """``me`` leaves control (its run() returned)."""
        me.state = EXITED
        # Its thread id may be reused by a thread started later.
        if me.ident is not None:
            self.by_ident.pop(me.ident, None)
        self.progress()
        if self.aborting is not None:
            return
        nxt = self.choose(me, me_runnable=False)
        if nxt is None:
            if any(a.state != EXITED for a in self.actors):
                self.abort("deadlock")
            return
        self.current = nxt
        self.switches.append((nxt.name, "" if nxt.state == READY else nxt.wake))
        nxt.gate.release()

    def arrive(self, a: Actor) -> None:
        """A started thread's first traced call: wait for the baton."""
        a.ident = _thread.get_ident()
        self.by_ident[a.ident] = a
        a.arrived.release()
        a.gate.acquire()
        if self.aborting is not None:
            raise OracleAbort(self.aborting)

    def abort(self, why: str) -> None:
        """Ends the run: every waiting actor wakes and unwinds. A run ended
        early has the outcome of this moment, when every actor is parked:
        unwinding may release locks, and run actions (an executor's worker
        takes its next job) that the run never reached."""
        if self.aborting is None:
            self.aborting = why
            if why != "done":
                self.outcome = self.snapshot()
            for a in self.actors:
                if a.state != EXITED and a is not self.current and a.gate.locked():
                    a.gate.release()

    # -- tracing ---------------------------------------------------------------

    def global_trace(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        me = self.by_ident.get(_thread.get_ident())
        if me is None:
            a = self.by_thread.get(threading.current_thread())
            if a is None or a.ident is not None or event != "call":
                return None
            self.arrive(a)
            frame.f_trace_lines = False

            def leave(frame: FrameType, event: str, arg: object) -> Any:
                if event == "return":
                    self.exit(a)
                return leave

            return leave
        if frame.f_code.co_filename != self.file:
            return None
        frame.f_trace_lines = False
        frame.f_trace_opcodes = True
        return self.local_trace

    def local_trace(self, frame: FrameType, event: str, arg: object) -> Any:
        if event == "opcode":
            self.step(frame)
        return self.local_trace


#: The baton of the run in progress (the patches find it here).
_BATON: Baton | None = None


class OracleLock:
    """``_thread.lock``'s interface over a real lock that is only ever
    acquired without blocking: a thread under the baton polls it."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = _real_lock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(False):
            return True
        if not blocking or timeout == 0:
            return False
        b = _BATON
        if b is not None and b.aborting is not None:
            # An unwinding run: the holder may never release it.
            if self._lock.acquire(True, 0.1):
                return True
            raise OracleAbort(b.aborting)
        me = b.me() if b is not None else None
        if b is None or me is None or not b.controls(me):
            # Not under the baton (a thread starting or ending): the lock
            # is held by someone who goes on.
            return bool(self._lock.acquire(True, timeout))
        while True:
            if b.block(me, timed=timeout > 0) == TIMEOUT:
                b.now += timeout
                return False
            if self._lock.acquire(False):
                return True

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        self._lock.release()
        if _BATON is not None:
            _BATON.progress()

    def locked(self) -> bool:
        return bool(self._lock.locked())

    def _at_fork_reinit(self) -> None:
        self._lock = _real_lock()


def _start(self: threading.Thread) -> None:
    b = _BATON
    me = b.me() if b is not None else None
    if b is None or me is None or b.aborting is not None:
        _real_start(self)
        return
    a = b.new_actor(self.name, self)
    # The start itself (the new thread signalling that it runs) is not
    # scheduled: the starter blocks for real until the thread waits at its
    # first call for the baton, which keeps runs deterministic.
    me.atomic += 1
    try:
        _real_start(self)
    finally:
        me.atomic -= 1
    a.arrived.acquire()


def _join(self: threading.Thread, timeout: float | None = None) -> None:
    b = _BATON
    me = b.me() if b is not None else None
    a = b.by_thread.get(self) if b is not None else None
    if b is None or me is None or a is None or not b.controls(me):
        _real_join(self, timeout)
        return
    while a.state != EXITED:
        if b.block(me, timed=timeout is not None) == TIMEOUT:
            b.now += timeout or 0.0
            return
    _real_join(self)  # it has left control: it ends at once


def _excepthook(args: Any) -> None:
    if not isinstance(args.exc_value, OracleAbort):
        sys.__excepthook__(args.exc_type, args.exc_value, args.exc_traceback)


@contextmanager
def _patched(b: Baton) -> Iterator[None]:
    global _BATON
    saved: list[tuple[object, str, object]] = []

    def put(obj: object, name: str, value: object) -> None:
        saved.append((obj, name, getattr(obj, name)))
        setattr(obj, name, value)

    put(threading, "Lock", OracleLock)
    put(threading, "_allocate_lock", OracleLock)
    put(threading, "_CRLock", None)
    put(threading, "_time", lambda: b.now)
    put(threading, "excepthook", _excepthook)
    put(threading.Thread, "start", _start)
    put(threading.Thread, "join", _join)
    put(queue, "time", lambda: b.now)
    put(queue, "SimpleQueue", queue._PySimpleQueue)  # type: ignore[attr-defined]
    put(futures_thread, "_global_shutdown_lock", OracleLock())
    _BATON = b
    try:
        yield
    finally:
        _BATON = None
        for obj, name, value in reversed(saved):
            setattr(obj, name, value)


def run_once(module: ModuleType, policy: Policy, max_steps: int = 20_000) -> Run:
    """One run of the program in ``module`` (``setup``, ``THREADS``,
    ``outcome``) under ``policy``, as explore_dpor runs a test: the main
    thread starts the threads, then joins them."""
    state: Any = None
    b = Baton(policy, module.__file__ or "", max_steps, lambda: str(module.outcome(state)))
    main = b.new_actor("main", None)
    main.ident = _thread.get_ident()
    b.by_ident[main.ident] = main
    b.current = main
    status = "ok"
    with _patched(b):
        state = module.setup()
        threading.settrace(b.global_trace)
        sys.settrace(b.global_trace)
        workers = [threading.Thread(target=fn, args=(state,), name=f"t{i}") for i, fn in enumerate(module.THREADS)]
        try:
            for t in workers:
                t.start()
            for t in workers:
                t.join()
        except OracleAbort as e:
            status = str(e)
        finally:
            sys.settrace(None)
            threading.settrace(None)
            main.state = EXITED
            b.abort(b.aborting or "done")
            for a in b.actors:
                if a.thread is not None and a.thread.ident is not None:
                    _real_join(a.thread, 10.0)
                    if a.thread.is_alive():
                        raise OracleError(f"thread {a.name} did not end ({b.aborting})")
        text = b.outcome if b.outcome is not None else module.outcome(state)
    if b.strays:
        raise OracleError(f"{b.strays} instructions ran without the baton")
    return Run(text, status, b.steps, b.switches, policy)
