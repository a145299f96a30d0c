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
        (t.Event.is_set, "event_check"),
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
        (t.Timer.run, "timer_run"),
        (t.Timer.cancel, "timer_cancel"),
        (q.Queue.put, "queue_put"),
        (q.Queue.get, "queue_get"),
        (q.Queue.put_nowait, "queue_nowait"),
        (q.Queue.get_nowait, "queue_nowait"),
        (q.Queue.task_done, "queue_task_done"),
        (q.Queue.join, "queue_join"),
        (q.Queue.qsize, "queue_check"),
        (q.Queue.empty, "queue_check"),
        (q.Queue.full, "queue_check"),
    ]
    from concurrent.futures import _base, thread as futures_thread

    funcs += [
        (futures_thread._WorkItem.__init__, "future_submit"),
        (futures_thread._WorkItem.run, "future_run"),
        (_base.Future.set_result, "future_set"),
        (_base.Future.set_exception, "future_set"),
        (_base.Future.result, "future_result"),
        (_base.Future.exception, "future_result"),
        (_base.Future.done, "event_check"),
        (_base.wait, "futures_wait"),
        (_base.as_completed, "futures_as_completed"),
    ]
    # The thread pool's own C-queue operations (its work queue): which
    # worker takes which item is part of the schedule.
    pool = futures_thread.ThreadPoolExecutor
    funcs += [
        (futures_thread._worker, "queue_user"),
        (pool.submit, "queue_user"),
        (pool.shutdown, "queue_user"),
        (futures_thread._python_exit, "queue_user"),
    ]
    codes = [(f.__code__, role) for f, role in funcs]
    # The weakref callback of `_adjust_thread_count` wakes a worker with
    # `q.put(None)` when its executor is collected.
    codes += [
        (c, "queue_user")
        for c in pool._adjust_thread_count.__code__.co_consts
        if isinstance(c, CodeType)
    ]
    return codes


# What each method of the builtin containers does to its container (self):
# "write" and "read" (the container as a whole), "item_write"/"item_read"
# (the item named by the first argument), "pure" (nothing of the
# container: object plumbing), "arg_read" (a class method reading only its
# arguments). Whatever the
# role, the containers among the other arguments are read (`a.extend(b)`
# reads `b`), except for "pure". Every method of these types is listed
# (tests/test_visibility_tables.py checks it against dir()); the
# README's table is this one in prose.
_PLUMBING = (
    "__class__ __delattr__ __dir__ __getattribute__ __init_subclass__"
    " __new__ __setattr__ __subclasshook__"
)
_COMPARE = "__eq__ __ne__ __lt__ __le__ __gt__ __ge__"
_SHOW = "__repr__ __str__ __format__ __reduce__ __reduce_ex__ __sizeof__ __getstate__"

CONTAINER_METHODS: dict[type, dict[str, str]] = {
    list: {
        "write": "append extend insert pop remove clear sort reverse __iadd__ __imul__ __delitem__ __init__",
        "item_write": "__setitem__",
        "item_read": "__getitem__",
        "read": f"index count copy __len__ __iter__ __reversed__ __contains__ __add__ __mul__ __rmul__"
        f" {_COMPARE} {_SHOW}",
        "pure": f"__class_getitem__ {_PLUMBING}",
    },
    dict: {
        "write": "update clear popitem __ior__ __init__",
        "item_write": "pop setdefault __setitem__ __delitem__",
        "item_read": "get __contains__ __getitem__",
        "read": f"keys values items copy __len__ __iter__ __reversed__ __or__ __ror__ {_COMPARE} {_SHOW}",
        # `dict.fromkeys(keys)` makes a new dict from `keys`.
        "arg_read": "fromkeys",
        "pure": f"__class_getitem__ {_PLUMBING}",
    },
    set: {
        "write": "add discard remove pop clear update difference_update intersection_update"
        " symmetric_difference_update __iand__ __ior__ __isub__ __ixor__ __init__",
        "item_read": "__contains__",
        "read": "copy union intersection difference symmetric_difference issubset issuperset isdisjoint"
        f" __len__ __iter__ __and__ __or__ __sub__ __xor__ __rand__ __ror__ __rsub__ __rxor__ {_COMPARE} {_SHOW}",
        "pure": f"__class_getitem__ {_PLUMBING}",
    },
    collections.deque: {
        "write": "append appendleft extend extendleft pop popleft remove clear rotate insert reverse"
        " __iadd__ __imul__ __delitem__ __init__",
        "item_write": "__setitem__",
        "item_read": "__getitem__",
        "read": f"count index copy __copy__ __len__ __iter__ __reversed__ __contains__ __add__ __mul__ __rmul__"
        f" {_COMPARE} {_SHOW}",
        "pure": f"__class_getitem__ {_PLUMBING}",
    },
    bytearray: {
        "item_write": "__setitem__",
        "item_read": "__getitem__",
        # The bytes-like methods read self and make new objects.
        "read": "copy __len__ __iter__ __contains__ __add__ __mul__ __rmul__ __mod__ __rmod__ __alloc__"
        " capitalize center count decode endswith expandtabs find hex index isalnum isalpha isascii"
        " isdigit islower isspace istitle isupper join ljust lower lstrip partition removeprefix"
        " removesuffix replace rfind rindex rjust rpartition rsplit rstrip split splitlines startswith"
        f" strip swapcase title translate upper zfill {_COMPARE} {_SHOW}",
        "pure": f"fromhex maketrans __release_buffer__ {_PLUMBING}",
        # The buffer protocol in Python (3.12+): a memoryview of the bytes,
        # through which they can be changed.
        "write": "append extend insert pop remove clear reverse __iadd__ __imul__ __delitem__ __init__ __buffer__",
    },
}

#: Methods that only some supported versions have (3.12's buffer protocol
#: in Python); elsewhere they are left out of the table.
_NEWER_METHODS = {"__buffer__", "__release_buffer__"}


def container_method_roles(cls: type) -> dict[str, str]:
    """Method name → role for one of the builtin container types."""
    return {
        name: role
        for role, names in CONTAINER_METHODS[cls].items()
        for name in names.split()
        if name not in _NEWER_METHODS or hasattr(cls, name)
    }


# Builtin functions by what they do with their arguments.
_BUILTINS = {
    # Read the containers among their arguments, drain the iterators.
    "arg_read": "len sorted sum min max any all print repr str ascii format bool",
    # Touch nothing shared: a later step of the iterator they return reads.
    "pure": "isinstance issubclass id type callable hash iter enumerate zip map filter reversed range"
    " super vars dir object",
    "iter_next": "next",
}


def _library_roles() -> list[tuple[object, str]]:
    """Standard-library callables that the conservative rule for unknown
    calls would over-approximate in common code."""
    import copy
    import functools
    import heapq
    import itertools
    import json
    import operator
    import weakref
    from concurrent.futures import thread as futures_thread

    table: list[tuple[object, str]] = [
        (copy.copy, "arg_read"),
        (copy.deepcopy, "arg_read"),
        (json.dumps, "arg_read"),
        (heapq.nsmallest, "arg_read"),
        (heapq.nlargest, "arg_read"),
        (operator.contains, "arg_read"),
        (operator.countOf, "arg_read"),
        (operator.indexOf, "arg_read"),
        (functools.reduce, "arg_read"),
        (str.join, "arg_read"),
        (bytes.join, "arg_read"),
        (str.format, "arg_read"),
        (functools.partial, "pure"),
        (weakref.ref, "pure"),
        (object.__init__, "pure"),
        # Submitting hands the arguments to the task (ordered by the submit).
        (futures_thread.ThreadPoolExecutor.submit, "pure"),
    ]
    for name in ("chain", "islice", "cycle", "count", "repeat", "zip_longest", "tee", "product", "accumulate"):
        table.append((getattr(itertools, name), "pure"))
    return table


def call_roles() -> list[tuple[object, str]]:
    import builtins

    table: list[tuple[object, str]] = []
    for cls in CONTAINER_METHODS:
        for name, role in container_method_roles(cls).items():
            table.append((getattr(cls, name), role))
    for role, names in _BUILTINS.items():
        for name in names.split():
            table.append((getattr(builtins, name), role))
    # Copying constructors read their argument as a whole: list(x), dict(d).
    for cls in (list, tuple, set, frozenset, dict, bytearray, bytes, collections.deque):
        table.append((cls, "arg_read"))
    table += _library_roles()
    # Later entries win: these dunders are also the containers' plumbing.
    table += [
        (getattr, "getattr"),
        (hasattr, "getattr"),
        (setattr, "setattr"),
        (delattr, "delattr"),
        (object.__getattribute__, "getattr"),
        (object.__setattr__, "setattr"),
        (object.__delattr__, "delattr"),
    ]
    for cls, names, role in _SYNC_METHODS:
        for name in names.split():
            attr = cls.__dict__.get(name)
            if attr is not None:
                table.append((attr, role))
    # A scheduling point with no memory effect (a `Yield` event): under
    # control a yield to the other actors, not a wall-clock wait.
    table.append((time.sleep, "sleep"))
    return table


_SYNC_METHODS: list[tuple[type, str, str]] = [
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
    _SYNC_METHODS.append((_thread_handle, "join", "handle_join"))


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
