"""A small locking helper, excluded from tracing by the test (its accesses
are not recorded; its lock operations still are)."""

import threading

_lock = threading.Lock()


def locked(fn):
    with _lock:
        fn()


def locked_explicitly(fn):
    _lock.acquire()
    try:
        fn()
    finally:
        _lock.release()


def unlocked(fn):
    fn()
