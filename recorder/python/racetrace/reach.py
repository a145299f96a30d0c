"""The objects a test's actors share from the start of an execution, in an
order that is the same in every execution.

The recorder numbers objects in the order a run first sees them, which
depends on the schedule: the lock of a condition may be object 4 in one
execution and object 5 in the next, when another actor looked at
something else first. The DPOR explorer compares operations of different
executions, so it names objects by something every execution agrees on:
for an object that exists before the actors run, its place in the list
made here (``DporExplorer.shared_objects``), reached from the state
``setup`` returned and from the threads' closures the same way each time.
"""

from __future__ import annotations

import collections
import functools
import types
from collections.abc import Callable, Sequence
from typing import Any

#: Most objects listed: a state holding a large structure is named by its
#: first objects (the rest are named as the run meets them).
LIMIT = 5000

#: Values that are never recorded (immutable, or definitions).
_SKIP = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    range,
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.CodeType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
)


def shared_objects(state: object, threads: Sequence[Callable[..., object]]) -> list[object]:
    """``state`` and what it reaches (instance attributes, items of lists,
    tuples, deques and dicts; not the members of sets, whose order follows
    addresses), then what the threads reach through their closures, bound
    ``self`` and ``functools.partial`` arguments; their globals dicts
    (module globals are keys of those), then the objects at the top level of
    those modules."""
    out: list[object] = []
    seen: set[int] = set()
    todo: collections.deque[object] = collections.deque()

    def add(o: object) -> None:
        if isinstance(o, _SKIP) or id(o) in seen or len(out) >= LIMIT:
            return
        seen.add(id(o))
        out.append(o)
        todo.append(o)

    def drain() -> None:
        while todo and len(out) < LIMIT:
            for child in _children(todo.popleft()):
                add(child)

    add(state)
    drain()
    for fn in threads:
        for part in _callable_parts(fn):
            add(part)
        drain()
    namespaces = []
    for fn in threads:
        g = getattr(fn, "__globals__", None)
        if isinstance(g, dict) and id(g) not in seen:
            seen.add(id(g))
            out.append(g)
            namespaces.append(g)
    # Module-level objects (a lock, a list at the top of the test module)
    # exist before the run too.
    for g in namespaces:
        for name, value in list(g.items()):
            # `__builtins__`, `__spec__` and the like are not the program's.
            if not (isinstance(name, str) and name.startswith("__") and name.endswith("__")):
                add(value)
        drain()
    return out


def _children(o: object) -> list[Any]:
    if isinstance(o, (list, tuple, collections.deque)):
        return list(o)
    if isinstance(o, dict):
        return list(o.values())
    if isinstance(o, (set, frozenset)):
        return []
    if isinstance(o, types.CellType):
        try:
            return [o.cell_contents]
        except ValueError:  # empty cell
            return []
    try:
        d = object.__getattribute__(o, "__dict__")
    except AttributeError:
        return []
    return list(d.values()) if isinstance(d, dict) else []


def _callable_parts(fn: object) -> list[object]:
    parts: list[object] = []
    closure = getattr(fn, "__closure__", None)
    if closure:
        parts.extend(closure)
    self_ = getattr(fn, "__self__", None)
    if self_ is not None and not isinstance(self_, types.ModuleType):
        parts.append(self_)
    if isinstance(fn, functools.partial):
        parts.append(fn.func)
        parts.extend(fn.args)
        parts.extend(fn.keywords.values())
        parts.extend(_callable_parts(fn.func))
    return parts
