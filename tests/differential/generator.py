"""Small random concurrent programs, as Python source, for the
differential soundness test.

A program is deterministic from its seed and the feature groups it may
use, and is written as source (not built from closures) so that a failing
one can be printed, saved under ``tests/differential/regressions`` and
read by a person. Every program has the same shape:

* ``setup()`` resets the module globals and returns a fresh ``State``;
* ``THREADS``: 2-3 functions of the state, the actors the test starts
  (spawned threads and executor jobs add more);
* ``outcome(state)``: the canonical text of everything the run produced.

The outcome of a run must be a function of the interleaving alone, so that
the set of outcomes seen by an independent scheduler can be compared with
the set ``explore_dpor`` reports. So each actor writes what it *observed*
(values read, results of try-acquires and timed waits, the exception it
raised, with its line) into a list of its own in the state, and ends with
``"end"`` (an actor that never gets there was stuck in a deadlock). The
actors catch their exceptions themselves: an escaping one would be a
failure of the exploration and end it differently from the plain run.

Programs stay small (a few statements per actor) so that ``explore_dpor``
exhausts them in well under a second; what makes them interesting is which
operations they combine, chosen by feature group (``FEATURES``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

#: The feature groups, in the order the report lists them.
FEATURES: tuple[str, ...] = (
    "attrs",  # attributes of the state and module globals
    "containers",  # list/dict/set/deque methods and subscripts
    "iteration",  # for-loops over shared containers, truthiness, len
    "locks",  # Lock/RLock with-blocks, nested (lock-order deadlocks)
    "trylocks",  # acquire(blocking=False), acquire(timeout=...)
    "semaphores",  # counting and bounded semaphores, semaphore signals
    "events",  # Event set/clear/is_set/wait (timed and not)
    "conditions",  # Condition notify/wait/wait_for (timed and not)
    "queues",  # queue.Queue put/get (timed, nowait, blocking), qsize
    "spawn",  # threads started (and joined) by the actors
    "executors",  # ThreadPoolExecutor jobs
)

#: Groups whose statements touch only data: the bodies of with-blocks and
#: try-acquires are drawn from these.
DATA = ("attrs", "containers", "iteration")

#: A timeout short enough to keep plain runs fast; explorers must treat it
#: as "may time out whenever blocked", never as real time.
TIMEOUT = "0.05"

#: Actors at most (threads, children, jobs; the main actor aside): each
#: one multiplies the interleavings, and a program explore_dpor cannot
#: exhaust within its budget proves nothing.
MAX_ACTORS = 4

HEADER = '''"""racetrace differential program: {title}."""

import collections
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

G = 0


class State:
    def __init__(self):
        self.a = 0
        self.b = 0
        self.l = [1, 2]
        self.d = {{1: 1}}
        self.st = {{1}}
        self.dq = collections.deque([1])
        self.lock = threading.Lock()
        self.lock2 = threading.Lock()
        self.rlock = threading.RLock()
        self.sem = threading.Semaphore(2)
        self.bsem = threading.BoundedSemaphore(1)
        self.sig = threading.Semaphore(0)
        self.ev = threading.Event()
        self.cv = threading.Condition()
        self.qu = queue.Queue()
        self.o = [[] for _ in range({actors})]


def setup():
    global G
    G = 0
    return State()


def _where(e):
    # The line of this file where the exception was raised (the deepest one).
    tb = e.__traceback__
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == __file__:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
'''

FOOTER = '''

def outcome(s):
    data = (G, s.a, s.b, s.l, sorted(s.d.items()), sorted(s.st), list(s.dq), s.ev.is_set(), list(s.qu.queue), s.o)
    if any(o and o[-1] != 'end' for o in s.o):
        # A deadlock: how the stuck actors are unwound may release their
        # locks and semaphores, so only the data is compared.
        return repr(('deadlock', data))
    return repr((data, s.lock.locked(), s.lock2.locked(), s.sem._value, s.bsem._value, s.sig._value))
'''


@dataclass
class Program:
    """One generated program: its seed, the groups it was drawn from, and
    its source."""

    seed: int
    features: tuple[str, ...]
    source: str


@dataclass
class _Actor:
    index: int
    name: str
    body: list[str] = field(default_factory=list)
    kids: list[str] = field(default_factory=list)
    returns: bool = False


class _Gen:
    """Draws one program; ``rng`` is its only source of choices."""

    def __init__(self, seed: int, features: Sequence[str]) -> None:
        unknown = sorted(set(features) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown feature groups: {unknown}")
        self.rng = random.Random(seed)
        self.seed = seed
        # A program uses one to three of the enabled groups, so that a
        # failing program points at few features.
        pool = [f for f in FEATURES if f in features]
        k = min(len(pool), self.rng.choice((1, 1, 2, 2, 3)))
        self.used = sorted(self.rng.sample(pool, k), key=FEATURES.index) if pool else ["attrs"]
        self.data = [f for f in self.used if f in DATA] or ["attrs"]
        self.actors: list[_Actor] = []
        self.defs: list[str] = []
        self.value = 0
        self.spawned = False

    # -- helpers -------------------------------------------------------------

    def v(self) -> int:
        """A fresh small constant: writes of different statements differ."""
        self.value += 1
        return self.value

    def key(self) -> int:
        return self.rng.choice((1, 2))

    def pick(self, options: Sequence[Callable[[], list[str]]]) -> list[str]:
        return self.rng.choice(options)()

    # -- statements of each group ----------------------------------------------

    def attrs(self) -> list[str]:
        v = self.v()
        return self.pick(
            [
                lambda: ["s.a += 1"],
                lambda: [f"s.a = {v}"],
                lambda: ["o.append(s.a)"],
                lambda: ["s.b = s.a + 1"],
                lambda: ["x = s.a", f"s.a = x + {v}"],
                lambda: ["if s.a == 0:", f"    s.a = {v}"],
                lambda: ["G += 1"],
                lambda: ["o.append(G)"],
                lambda: ["G = s.a"],
            ]
        )

    def containers(self) -> list[str]:
        v, k = self.v(), self.key()
        return self.pick(
            [
                lambda: [f"s.l.append({v})"],
                lambda: ["o.append(s.l.pop())"],
                lambda: [f"s.l[0] = {v}"],
                lambda: [f"s.l.insert(0, {v})"],
                lambda: ["o.append(s.l[-1])"],
                lambda: [f"s.d[{k}] = {v}"],
                lambda: [f"o.append(s.d.pop({k}, None))"],
                lambda: [f"o.append(s.d.get({k}))"],
                lambda: [f"o.append(s.d.setdefault({k}, {v}))"],
                lambda: [f"del s.d[{k}]"],
                lambda: [f"s.st.add({v})"],
                lambda: [f"s.st.discard({k})"],
                lambda: [f"o.append({k} in s.st)"],
                lambda: [f"s.dq.append({v})"],
                lambda: [f"s.dq.appendleft({v})"],
                lambda: ["o.append(s.dq.popleft())"],
                lambda: ["o.append(s.dq.pop())"],
            ]
        )

    def iteration(self) -> list[str]:
        v, k = self.v(), self.key()
        return self.pick(
            [
                lambda: ["if s.dq:", "    o.append(s.dq.popleft())"],
                lambda: ["if s.l:", "    o.append(s.l.pop())"],
                lambda: ["if not s.st:", f"    s.st.add({v})"],
                lambda: [f"if {k} in s.d:", f"    o.append(s.d[{k}])"],
                lambda: ["if s.d:", "    o.append(len(s.d))"],
                lambda: ["for x in s.l:", "    o.append(x)"],
                lambda: ["for x in s.d:", "    o.append(x)"],
                lambda: ["for x in s.dq:", "    o.append(x)"],
                lambda: ["for x in s.st:", "    o.append(x)"],
                lambda: ["o.append([x for x in s.l])"],
                lambda: ["o.append(len(s.l))"],
                lambda: ["o.append(len(s.dq))"],
                lambda: ["o.append(bool(s.st))"],
                lambda: ["while s.dq:", "    o.append(s.dq.popleft())"],
                lambda: ["o.append(sorted(s.d))"],
            ]
        )

    def inner(self) -> list[str]:
        """One or two data statements, for the body of a block."""
        out: list[str] = []
        for _ in range(self.rng.choice((1, 1, 2))):
            out += getattr(self, self.rng.choice(self.data))()
        return out

    def locks(self) -> list[str]:
        inner = _indent(self.inner())
        return self.pick(
            [
                lambda: ["with s.lock:", *inner],
                lambda: ["with s.lock2:", *inner],
                lambda: ["with s.lock:", "    with s.lock2:", *_indent(inner)],
                lambda: ["with s.lock2:", "    with s.lock:", *_indent(inner)],
                lambda: ["with s.rlock:", "    with s.rlock:", *_indent(inner)],
                lambda: ["s.lock.acquire()", "try:", *inner, "finally:", "    s.lock.release()"],
            ]
        )

    def _guarded(self, acquire: str, release: str) -> list[str]:
        inner = _indent(_indent(self.inner()))
        return [
            f"if {acquire}:",
            "    o.append('got')",
            "    try:",
            *inner,
            "    finally:",
            f"        {release}",
            "else:",
            "    o.append('busy')",
        ]

    def trylocks(self) -> list[str]:
        return self.pick(
            [
                lambda: self._guarded("s.lock.acquire(blocking=False)", "s.lock.release()"),
                lambda: self._guarded(f"s.lock.acquire(timeout={TIMEOUT})", "s.lock.release()"),
                lambda: self._guarded("s.rlock.acquire(blocking=False)", "s.rlock.release()"),
                lambda: ["with s.lock:", *_indent(self.inner())],
            ]
        )

    def semaphores(self) -> list[str]:
        return self.pick(
            [
                lambda: ["with s.sem:", *_indent(self.inner())],
                lambda: ["with s.bsem:", *_indent(self.inner())],
                lambda: self._guarded("s.sem.acquire(blocking=False)", "s.sem.release()"),
                lambda: self._guarded(f"s.bsem.acquire(timeout={TIMEOUT})", "s.bsem.release()"),
                lambda: ["s.sig.release()"],
                lambda: [f"o.append(s.sig.acquire(timeout={TIMEOUT}))"],
                lambda: ["s.sig.acquire()", "o.append('signalled')"],
                lambda: ["s.bsem.release()"],
            ]
        )

    def events(self) -> list[str]:
        return self.pick(
            [
                lambda: ["s.ev.set()"],
                lambda: ["s.ev.set()"],
                lambda: ["s.ev.clear()"],
                lambda: ["o.append(s.ev.is_set())"],
                lambda: [f"o.append(s.ev.wait({TIMEOUT}))"],
                lambda: ["s.ev.wait()", "o.append('woken')"],
                lambda: ["if not s.ev.is_set():", *_indent(self.inner())],
            ]
        )

    def conditions(self) -> list[str]:
        return self.pick(
            [
                lambda: ["with s.cv:", *_indent(self.inner()), "    s.cv.notify()"],
                lambda: ["with s.cv:", "    s.a += 1", "    s.cv.notify_all()"],
                lambda: ["with s.cv:", f"    o.append(s.cv.wait({TIMEOUT}))"],
                lambda: ["with s.cv:", f"    o.append(s.cv.wait_for(lambda: s.a > 0, timeout={TIMEOUT}))"],
                lambda: ["with s.cv:", "    s.cv.wait()", "    o.append('woken')"],
                lambda: ["with s.cv:", "    while s.a == 0:", "        s.cv.wait()", "    o.append(s.a)"],
            ]
        )

    def queues(self) -> list[str]:
        v = self.v()
        return self.pick(
            [
                lambda: [f"s.qu.put({v})"],
                lambda: [f"s.qu.put({v})"],
                lambda: [f"o.append(s.qu.get(timeout={TIMEOUT}))"],
                lambda: ["o.append(s.qu.get_nowait())"],
                lambda: ["o.append(s.qu.get())"],
                lambda: ["o.append(s.qu.qsize())"],
                lambda: ["o.append(s.qu.empty())"],
            ]
        )

    def spawn(self, actor: _Actor) -> list[str]:
        kid = self.new_actor("c")
        self.fill(kid, plain=True)
        actor.kids.append(kid.name)
        return [f"k = threading.Thread(target={kid.name}, args=(s,))", "kids.append(k)", "k.start()"]

    def executors(self, actor: _Actor) -> list[str]:
        jobs = [self.new_actor("j") for _ in range(self.rng.choice((1, 2)))]
        out = [f"with ThreadPoolExecutor(max_workers={self.rng.choice((1, 2))}) as ex:"]
        for j in jobs:
            j.returns = True
            self.fill(j, plain=True)
            out.append(f"    f{j.index} = ex.submit({j.name}, s)")
        if self.rng.random() < 0.5:
            out.append(f"    o.append(f{jobs[0].index}.done())")
        out += [f"o.append(f{j.index}.result())" for j in jobs]
        return out

    # -- actors ---------------------------------------------------------------

    def new_actor(self, prefix: str) -> _Actor:
        a = _Actor(len(self.actors), f"{prefix}{len(self.actors)}")
        self.actors.append(a)
        return a

    def fill(self, actor: _Actor, plain: bool = False) -> None:
        """One to three statements; ``plain`` actors (children and jobs)
        start no actors themselves, and there are at most MAX_ACTORS."""
        groups = [g for g in self.used if not plain or g not in ("spawn", "executors")] or self.data
        for _ in range(self.rng.choice((1, 2, 2, 3) if not plain else (1, 1, 2))):
            g = self.rng.choice(groups)
            room = MAX_ACTORS - len(self.actors)
            if g == "spawn" and room >= 1:
                actor.body += self.spawn(actor)
            elif g == "executors" and room >= 2 and not self.spawned:
                self.spawned = True  # one pool per program: they are slow to explore
                actor.body += self.executors(actor)
            elif g in ("spawn", "executors"):
                actor.body += getattr(self, self.rng.choice(self.data))()
            else:
                actor.body += getattr(self, g)()

    def program(self) -> Program:
        top = [self.new_actor("t") for _ in range(self.rng.choice((2, 2, 3)))]
        for a in top:
            self.fill(a)
        title = f"seed {self.seed}, features {', '.join(self.used)}"
        source = assemble(title, top, self.actors)
        return Program(self.seed, tuple(self.used), source)


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


def _function(a: _Actor) -> str:
    lines = [
        "",
        "",
        f"def {a.name}(s):",
        "    global G",
        f"    o = s.o[{a.index}]",
        "    o.append('start')",
        "    kids = []",
        "    try:",
        *_indent(_indent(a.body)),
        "    except Exception as e:",
        "        o.append((type(e).__name__, _where(e)))",
        "    for k in kids:",
        "        k.join()",
        "    o.append('end')",
    ]
    if a.returns:
        lines.append("    return len(o)")
    return "\n".join(lines) + "\n"


def assemble(title: str, threads: Sequence[_Actor], actors: Sequence[_Actor]) -> str:
    """The source of a program: ``actors`` (each with its observation
    list ``s.o[index]``) of which ``threads`` are started by the test."""
    text = HEADER.format(title=title, actors=len(actors))
    for a in actors:
        text += _function(a)
    text += f"\n\nTHREADS = [{', '.join(a.name for a in threads)}]\n"
    return text + FOOTER


def program_of(title: str, bodies: dict[str, list[str]], threads: Sequence[str] = ()) -> Program:
    """A hand-written program of the same shape as generated ones (for
    regression tests): ``bodies`` maps each actor's name to its statements;
    ``threads`` (default: every actor) are the ones the test starts, the
    others are children or jobs started by them."""
    actors = [_Actor(i, name, list(body)) for i, (name, body) in enumerate(bodies.items())]
    top = [a for a in actors if not threads or a.name in threads]
    return Program(0, (), assemble(title, top, actors))


def generate(seed: int, features: Sequence[str]) -> Program:
    """The program of ``seed``, drawn from the groups in ``features``."""
    return _Gen(seed, features).program()
