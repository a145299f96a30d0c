"""Worker processes for parallel exploration (``workers=N``): actors in one
interpreter share its GIL, so executions run in parallel only in separate
processes. Each worker is started with the 'spawn' method (a fresh
interpreter: nothing of the parent's recording or controlled run is
inherited) and imports the test (``setup``, ``threads``, ``invariant``) by
its qualified name, which is why these must be importable, module-level
objects. A worker writes the schedule of the execution in progress to a
journal file (``_native.journal_open``), so that when it dies (a segfault in
a C extension, ``os._exit``) the schedule that killed it is known.

This module is the parent's side of the mechanics: start, message, stop,
detect an exit. What the messages mean is each explorer's
(``dpor_parallel``, ``attempts_parallel``); the workers' side is
``racetrace.workers``.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from racetrace import _native

#: What a worker's exit looks like to the explorer: it ended without saying
#: it was done (a crash), with this description.
Crash = str


def resolve_workers(api: str, workers: int) -> int:
    """``workers`` checked; 0 means one per core."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ValueError(f"{api}: workers must be an int >= 0 (0: one per core), not {workers!r}")
    if workers == 0:
        return max(1, os.cpu_count() or 1)
    return workers


def why_not_portable(objects: dict[str, object]) -> str | None:
    """Why these cannot be sent to a worker process (None: they can). A
    worker imports each by its module and qualified name."""
    main = sys.modules.get("__main__")
    for name, obj in objects.items():
        what = getattr(obj, "__qualname__", None) or type(obj).__name__
        try:
            pickle.dumps(obj)
        except Exception as e:  # noqa: BLE001 - any pickling error says the same
            return (
                f"{name} ({what}) cannot be imported by a worker process ({type(e).__name__}: {e}); worker"
                " processes import setup, threads and invariant by their qualified name, so they must be"
                " defined at the top level of a module (not a lambda, a nested function or a closure)"
            )
        module = getattr(obj, "__module__", None)
        if module == "__main__" and not getattr(main, "__file__", None):
            return (
                f"{name} ({what}) is defined in an interactive session, which a worker process cannot"
                " import; define it in a module"
            )
    return None


def portable_or_warn(api: str, workers: int, objects: dict[str, object]) -> bool:
    """Whether the test can run in worker processes; if not, warns (the
    exploration then runs in this process)."""
    why = why_not_portable(objects)
    if why is None:
        return True
    warnings.warn(f"{api}(workers={workers}): {why}; exploring in this process instead", RuntimeWarning, stacklevel=3)
    return False


def describe_exit(code: int | None) -> str:
    if code is None:
        return "it did not exit"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class Interrupts:
    """Ctrl-C while the parent runs an exploration with workers: the first
    one sets ``hit``, which the parent's loop reads between two waits (it
    stops the workers and collects what they explored), instead of raising
    ``KeyboardInterrupt`` wherever the parent happens to be: in the middle
    of reading a worker's message it would leave the rest of that message
    in the pipe, and the next read would take its bytes for a length and
    wait for ever. A second Ctrl-C raises at once. Only where Python's own
    handler is in place (the main thread, no handler of the program's)."""

    #: Seconds the stopping workers get to report what they explored.
    GRACE = 2.0

    def __init__(self) -> None:
        self.hit = False
        self._prev: Any = None
        self._at: float | None = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread() and (
            signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._prev = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def over(self, pool: Pool, out: Any) -> bool:
        """Whether the parent's loop ends now: after a Ctrl-C, ``out`` is
        marked interrupted and the workers are asked to stop (once), and
        what they send still comes for ``GRACE`` seconds."""
        if not self.hit:
            return False
        if self._at is None:
            self._at = time.monotonic()
            out.stopped = "interrupted (KeyboardInterrupt)"
            pool.stop_all()
            return False
        return time.monotonic() - self._at > self.GRACE

    def __exit__(self, *exc: object) -> None:
        if self._prev is not None:
            signal.signal(signal.SIGINT, self._prev)
            self._prev = None


class WorkerStartError(RuntimeError):
    """A worker process ended before it could start."""


class Worker:
    """One worker process and its pipe."""

    def __init__(self, index: int, target: Callable[..., None], spec: Any, journal: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.index = index
        self.journal = journal
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child, spec), name=f"racetrace-worker-{index}", daemon=True)
        self.proc.start()
        child.close()
        self.done = False
        self.ready = False
        self.closed = False
        self.stop_sent = False
        self.started = time.monotonic()

    def send(self, msg: tuple[Any, ...]) -> None:
        if self.closed:
            return
        try:
            self.conn.send(msg)
        except (OSError, ValueError):
            self.closed = True

    def stop(self) -> None:
        if not self.stop_sent:
            self.stop_sent = True
            self.send(("stop",))

    def alive(self) -> bool:
        return not self.closed

    def crashed_at(self) -> tuple[int, str] | None:
        """(execution number, schedule) the journal holds, if any."""
        got = _native.journal_read(self.journal)
        return None if got is None else (got[0], got[1])

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.closed = True


class Pool:
    """The worker processes of one exploration."""

    def __init__(self, target: Callable[..., None], make_spec: Callable[[int, str], Any]) -> None:
        self.target = target
        self.make_spec = make_spec
        self.dir = tempfile.TemporaryDirectory(prefix="racetrace-workers-")
        self.workers: list[Worker] = []
        self.count = 0

    def start(self) -> Worker:
        index = self.count
        self.count += 1
        journal = os.path.join(self.dir.name, f"worker-{index}.journal")
        w = Worker(index, self.target, self.make_spec(index, journal), journal)
        self.workers.append(w)
        return w

    def live(self) -> list[Worker]:
        return [w for w in self.workers if w.alive()]

    #: Most messages read from one worker per call of ``events``: the caller
    #: checks Ctrl-C and its limits between calls, and workers that keep
    #: the pipe busy (a claim answered at once is followed by the next)
    #: would otherwise keep it reading for ever.
    BATCH = 64

    def events(self, timeout: float) -> Iterator[tuple[Worker, tuple[Any, ...] | Crash | None]]:
        """Messages from the workers, as (worker, message); an exit as
        (worker, None) after a 'done' message, else (worker, description of
        how it died). At most ``BATCH`` messages from each worker."""
        live = self.live()
        if not live:
            return
        ready = multiprocessing.connection.wait([w.conn for w in live], timeout)
        for w in live:
            if w.conn not in ready:
                continue
            for _ in range(self.BATCH):
                if w.closed:
                    break
                try:
                    if not w.conn.poll():
                        break
                    msg = w.conn.recv()
                except (EOFError, OSError):
                    w.closed = True
                    w.proc.join(10)
                    if not w.ready:
                        raise WorkerStartError(
                            f"worker process {w.index} ended ({describe_exit(w.proc.exitcode)}) before it could"
                            " start: worker processes are started with 'spawn', which imports the main module"
                            " again; a script that explores with workers must keep its top-level code under"
                            " `if __name__ == '__main__':` (its traceback is on stderr above)"
                        ) from None
                    yield w, (None if w.done else describe_exit(w.proc.exitcode))
                    break
                if msg[0] == "ready":
                    w.ready = True
                    continue
                if msg[0] == "done":
                    w.done = True
                yield w, msg

    def stop_all(self) -> None:
        for w in self.live():
            w.stop()

    def close(self, grace: float) -> None:
        """Waits up to ``grace`` seconds for workers asked to stop, then
        kills the rest; removes the journals."""
        deadline = time.monotonic() + grace
        for w in self.workers:
            w.proc.join(max(0.0, deadline - time.monotonic()))
            w.kill()
            w.conn.close()
        self.dir.cleanup()
