"""Unsynchronized accesses through builtins and container methods; each
`touch_*` pair races on one key, named as the test expects."""

import collections
import sys
import threading


class Config:
    pass


config = Config()
queue_ = collections.deque()
registry = {}
seen = set()
scores = [0, 0, 0]
names = []
flag_global = 0
this_module = sys.modules[__name__]
config.gone = True


def writer():
    setattr(config, "mode", "fast")  # MARK: setattr
    object.__setattr__(config, "level", 1)  # MARK: object-setattr
    config.__dict__["flag"] = True  # MARK: dict-write
    queue_.append(1)  # MARK: deque-append
    registry.setdefault("user", 0)  # MARK: setdefault
    seen.add("x")  # MARK: set-add
    scores[-1] = 5  # MARK: list-item
    delattr(config, "gone")  # MARK: delattr
    names.append("bob")  # MARK: names-append
    this_module.flag_global = 1  # MARK: module-attr


def reader(out):
    out.append(getattr(config, "mode", None))  # MARK: getattr
    out.append(config.level if hasattr(config, "level") else None)  # MARK: hasattr
    out.append(config.flag if "flag" in vars(config) else None)  # MARK: attr-read
    out.append(queue_.popleft() if queue_ else None)  # MARK: deque-popleft
    out.append(registry.get("user"))  # MARK: dict-get
    out.append(sorted(seen))  # MARK: sorted
    out.append(scores[2])  # MARK: list-read
    out.append(getattr(config, "gone", None))  # MARK: getattr-gone
    out.append("bob" in names)  # MARK: names-in
    out.append(flag_global)  # MARK: global-read


if __name__ == "__main__":
    out = []
    threads = [threading.Thread(target=writer), threading.Thread(target=reader, args=(out,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
