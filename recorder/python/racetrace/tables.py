"""What the native side recognizes, handed to it at the start of a
recording (``racetrace.record``) and of a controlled run (``racetrace.run``):
the standard library's thread and synchronization functions (by code
object), the builtin methods that read or write their container, the
modules whose own use of threading primitives is not the program's, and
the directories that are not traced by default.
"""

from __future__ import annotations

import _thread
import collections
import os
import queue
import sysconfig
import threading
import time
from types import CodeType

#: The directory of the racetrace package (never traced).
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def code_roles() -> list[tuple[CodeType, str]]:
    """Standard-library functions whose calls are synchronization operations,
    by code object (what the native side compares against)."""
    t, q = threading, queue
    funcs = [
        (t.Thread.start, "thread_start"),
        (t.Thread.join, "thread_join"),
        # A private method, which typeshed does not declare.
        (t.Thread._bootstrap_inner, "thread_bootstrap_inner"),  # type: ignore[attr-defined]
        (t.Event.set, "event_set"),
        (t.Event.clear, "event_clear"),
        (t.Event.wait, "event_wait"),
        (t.Condition.__enter__, "cond_enter"),
        (t.Condition.__exit__, "cond_exit"),
        (t.Condition.wait, "cond_wait"),
        (t.Condition.wait_for, "cond_wait_for"),
        (t.Condition.notify, "cond_notify"),
        (t.Condition.notify_all, "cond_notify_all"),
        (t.Semaphore.acquire, "sem_acquire"),
        (t.Semaphore.release, "sem_release"),
        (t.Semaphore.__exit__, "sem_exit"),
        (t.BoundedSemaphore.release, "sem_release"),
        (t.Barrier.wait, "barrier_wait"),
        (q.Queue.put, "queue_put"),
        (q.Queue.get, "queue_get"),
        (q.Queue.put_nowait, "queue_nowait"),
        (q.Queue.get_nowait, "queue_nowait"),
        (q.Queue.task_done, "queue_task_done"),
        (q.Queue.join, "queue_join"),
    ]
    from concurrent.futures import _base, thread as futures_thread

    funcs += [
        (futures_thread._WorkItem.__init__, "future_submit"),
        (futures_thread._WorkItem.run, "future_run"),
        (_base.Future.set_result, "future_set"),
        (_base.Future.set_exception, "future_set"),
        (_base.Future.result, "future_result"),
        (_base.Future.exception, "future_result"),
        (_base.wait, "futures_wait"),
        (_base.as_completed, "futures_as_completed"),
    ]
    return [(f.__code__, role) for f, role in funcs]


# Builtin methods: which ones read and which write their container. Item
# roles name the key given as first argument; "arg_read" builtins read their
# first argument as a whole.
_METHODS: list[tuple[type, str, str]] = [
    (list, "append extend insert pop remove clear sort reverse", "write"),
    (list, "index count copy __len__ __iter__ __contains__", "read"),
    (dict, "update clear popitem", "write"),
    (dict, "pop setdefault", "item_write"),
    (dict, "get __contains__ __getitem__", "item_read"),
    (dict, "keys values items copy __len__ __iter__", "read"),
    (
        set,
        "add discard remove pop clear update difference_update"
        " intersection_update symmetric_difference_update",
        "write",
    ),
    (set, "copy union intersection difference issubset issuperset isdisjoint __len__", "read"),
    (
        collections.deque,
        "append appendleft extend extendleft pop popleft remove clear rotate insert reverse",
        "write",
    ),
    (collections.deque, "count index copy __len__", "read"),
    (bytearray, "append extend insert pop remove clear reverse", "write"),
    (bytearray, "count index find decode", "read"),
    (_thread.LockType, "acquire acquire_lock __enter__", "lock_acquire"),
    (_thread.LockType, "release release_lock __exit__", "lock_release"),
    (_thread.RLock, "acquire __enter__", "lock_acquire"),
    (_thread.RLock, "release __exit__", "lock_release"),
    (queue.SimpleQueue, "put put_nowait", "queue_put"),
    (queue.SimpleQueue, "get get_nowait", "queue_get"),
]
# CPython 3.13's Thread.join waits on the thread's handle, in C.
_thread_handle: type | None = getattr(_thread, "_ThreadHandle", None)
if _thread_handle is not None:
    _METHODS.append((_thread_handle, "join", "handle_join"))


def call_roles() -> list[tuple[object, str]]:
    import builtins

    table: list[tuple[object, str]] = []
    for cls, names, role in _METHODS:
        for name in names.split():
            attr = cls.__dict__.get(name)
            if attr is not None:
                table.append((attr, role))
    for name in ("len", "sorted", "sum", "min", "max", "any", "all"):
        table.append((getattr(builtins, name), "arg_read"))
    # Copying constructors read their argument as a whole: list(x), dict(d).
    for cls in (list, tuple, set, frozenset, dict, bytearray, collections.deque):
        table.append((cls, "arg_read"))
    table += [
        (getattr, "getattr"),
        (hasattr, "getattr"),
        (setattr, "setattr"),
        (delattr, "delattr"),
        (object.__getattribute__, "getattr"),
        (object.__setattr__, "setattr"),
        (object.__delattr__, "delattr"),
    ]
    # A scheduling point with no memory effect (a `Yield` event): under
    # control a yield to the other actors, not a wall-clock wait.
    table.append((time.sleep, "sleep"))
    return table


def default_excluded_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    # Console-script wrappers (like `racetrace` itself) live in "scripts".
    dirs = {paths.get("stdlib"), paths.get("platstdlib"), paths.get("scripts"), PACKAGE_DIR}
    return sorted(os.path.abspath(d) for d in dirs if d)


def sync_lib_files() -> list[str]:
    """Modules whose internal use of threading primitives is an
    implementation detail (not recorded as the user's operations)."""
    from concurrent.futures import _base, thread as futures_thread

    return [threading.__file__, queue.__file__, _base.__file__, futures_thread.__file__]
