"""Programs run under control by tests/test_control.py. Lines the tests
look for end with `# MARK: name`."""

from __future__ import annotations

import contextvars
import queue
import select
import threading
import time

# Created at import time, before any controlled run starts.
MODULE_LOCK = threading.Lock()
MODULE_RLOCK = threading.RLock()
LOCAL = threading.local()
VAR = contextvars.ContextVar("VAR", default="unset")


def run_threads(*targets, names=None):
    threads = [
        threading.Thread(target=t, name=(names[i] if names else None)) for i, t in enumerate(targets)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def lock_order():
    a, b = threading.Lock(), threading.Lock()

    def transfer():
        with a:  # MARK: transfer-holds
            with b:  # MARK: transfer-waits
                pass

    def audit():
        with b:  # MARK: audit-holds
            with a:  # MARK: audit-waits
                pass

    run_threads(transfer, audit, names=["transfer", "audit"])


def missed_signal():
    ready = threading.Event()
    data = {}

    def producer():
        data["x"] = 1  # forgets ready.set()

    t = threading.Thread(target=producer)
    t.start()
    ready.wait()  # MARK: wait
    t.join()
    return data


def barrier_rounds(parties=3, rounds=3):
    barrier = threading.Barrier(parties)
    log = []

    def member(i):
        def body():
            for r in range(rounds):
                log.append((r, i))
                barrier.wait()

        return body

    run_threads(*(member(i) for i in range(parties)))
    return log


def producer_consumer(rounds=4):
    cond = threading.Condition()
    items: list[int] = []
    got: list[int] = []

    def producer():
        for i in range(rounds):
            with cond:
                items.append(i)
                cond.notify()

    def consumer():
        while len(got) < rounds:
            with cond:
                cond.wait_for(lambda: items)
                got.append(items.pop(0))

    run_threads(consumer, producer)
    return got


def primitives():
    """Every threading primitive, with the return values and exceptions of
    the real ones (checked here, so a run that completes is correct)."""
    out = {}
    # Lock / RLock, including locks created at import time.
    lock = threading.Lock()
    assert lock.acquire() is True
    assert lock.acquire(False) is False
    assert lock.acquire(timeout=0.01) is False
    lock.release()
    with MODULE_LOCK:
        assert MODULE_LOCK.locked()
    with MODULE_RLOCK:
        with MODULE_RLOCK:
            pass
    try:
        lock.release()
    except RuntimeError:
        out["release-unlocked"] = True

    # A lock held by another thread: timed acquire times out, then succeeds.
    held = threading.Event()
    go = threading.Event()

    def holder():
        with lock:
            held.set()
            go.wait()

    t = threading.Thread(target=holder)
    t.start()
    held.wait()
    assert lock.acquire(timeout=0.05) is False
    go.set()
    t.join()
    assert lock.acquire(timeout=0.05) is True
    lock.release()

    # Semaphore / BoundedSemaphore.
    sem = threading.Semaphore(1)
    assert sem.acquire() is True
    assert sem.acquire(blocking=False) is False
    assert sem.acquire(timeout=0.01) is False
    sem.release()
    bsem = threading.BoundedSemaphore(1)
    try:
        bsem.release()
    except ValueError:
        out["bounded"] = True

    # Event: timed wait returns False, then True once set by a thread.
    ev = threading.Event()
    assert ev.wait(0.01) is False
    threading.Thread(target=ev.set).start()
    assert ev.wait() is True

    # Condition: notify_all wakes every waiter; wait(timeout) returns False.
    cond = threading.Condition()
    woken = []

    def waiter(i):
        def body():
            with cond:
                assert cond.wait_for(lambda: len(woken) >= 0 and out.get("go"), timeout=5) is True
                woken.append(i)

        return body

    ws = [threading.Thread(target=waiter(i)) for i in range(2)]
    for w in ws:
        w.start()
    with cond:
        assert cond.wait(0.01) is False
        out["go"] = True
        cond.notify_all()
    for w in ws:
        w.join()
    assert sorted(woken) == [0, 1]

    # Barrier: abort and reset; a timed-out wait breaks it.
    b = threading.Barrier(2)
    try:
        b.wait(timeout=0.01)
    except threading.BrokenBarrierError:
        out["barrier-timeout"] = True
    assert b.broken
    b.reset()
    assert not b.broken
    b.abort()
    try:
        b.wait()
    except threading.BrokenBarrierError:
        out["barrier-abort"] = True

    # Queues: blocking, non-blocking, timed.
    for q in (queue.Queue(), queue.LifoQueue(), queue.PriorityQueue(), queue.SimpleQueue()):
        try:
            q.get(timeout=0.01)
        except queue.Empty:
            out.setdefault("empty", 0)
            out["empty"] += 1
        try:
            q.get_nowait()
        except queue.Empty:
            pass
        threading.Thread(target=lambda q=q: q.put(7)).start()
        assert q.get() == 7
    full = queue.Queue(maxsize=1)
    full.put(1)
    try:
        full.put(2, timeout=0.01)
    except queue.Full:
        out["full"] = True

    # join with a timeout on a thread that waits; sleep yields to others.
    stop = threading.Event()
    slow = threading.Thread(target=stop.wait)
    slow.start()
    slow.join(timeout=0.01)
    assert slow.is_alive()
    stop.set()
    slow.join()
    assert not slow.is_alive()
    flag = []
    t = threading.Thread(target=lambda: flag.append(1))
    t.start()
    while not flag:
        time.sleep(0.01)  # polling: under control a yield, not a wait
    t.join()

    # Threads started by threads.
    inner = []

    def parent():
        c = threading.Thread(target=lambda: inner.append("grandchild"))
        c.start()
        c.join()

    run_threads(parent)
    assert inner == ["grandchild"]
    return out


def broken_barrier():
    """Two of three parties arrive; the third never does: the waits time out."""
    b = threading.Barrier(3, timeout=0.5)
    errors = []

    def party():
        try:
            b.wait()
        except threading.BrokenBarrierError as e:
            errors.append(type(e).__name__)

    run_threads(party, party)
    return errors


def queue_timeout():
    q = queue.Queue()
    try:
        q.get(timeout=1.0)
    except queue.Empty as e:
        return type(e).__name__
    return None


def c_level_block(seconds):
    """A wait the scheduler cannot see: select() blocks in C."""
    t = threading.Thread(target=lambda: None)
    t.start()
    select.select([], [], [], seconds)  # MARK: select
    t.join()
    return "done"


def worker_exception():
    results = []

    def bad():
        raise ValueError("boom in worker")  # MARK: raise

    def good():
        results.append("good finished")

    run_threads(bad, good)
    return results


def ping_pong(rounds=1000):
    class Box:
        value = 0

    box = Box()

    def player():
        for _ in range(rounds):
            box.value += 1

    run_threads(player, player)
    return box.value


def tiny():
    class Box:
        value = 0

    box = Box()

    def inc():
        box.value += 1

    run_threads(inc, inc)
    return box.value


def fresh_thread_state():
    """What a new thread sees of thread-local data and context variables
    (a controlled run reuses OS threads between runs)."""
    seen = []

    def body():
        seen.append((getattr(LOCAL, "x", "unset"), VAR.get()))
        LOCAL.x = "set"
        VAR.set("set")

    run_threads(body, body)
    return seen
