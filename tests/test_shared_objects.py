"""The objects a test's actors share from the start (the names DPOR gives
objects alike in every execution) are listed by the native walk exactly as
an independent Python walk lists them, on many generated object graphs:
same objects, same order, same limit."""

from __future__ import annotations

import collections
import functools
import random
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any

import pytest

import racetrace
from racetrace import _native

LIMIT = 5000

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


def oracle(state: object, threads: Sequence[Callable[..., object]]) -> list[object]:
    """The walk the documentation describes, written plainly."""
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
            for child in children(todo.popleft()):
                add(child)

    add(state)
    drain()
    for fn in threads:
        for part in callable_parts(fn):
            add(part)
        drain()
    namespaces = []
    for fn in threads:
        g = getattr(fn, "__globals__", None)
        if isinstance(g, dict) and id(g) not in seen:
            seen.add(id(g))
            out.append(g)
            namespaces.append(g)
    for g in namespaces:
        for name, value in list(g.items()):
            if not (isinstance(name, str) and name.startswith("__") and name.endswith("__")):
                add(value)
        drain()
    return out


def children(o: object) -> list[Any]:
    if isinstance(o, (list, tuple, collections.deque)):
        return list(o)
    if isinstance(o, dict):
        return list(o.values())
    if isinstance(o, (set, frozenset)):
        return []
    if isinstance(o, types.CellType):
        try:
            return [o.cell_contents]
        except ValueError:
            return []
    try:
        d = object.__getattribute__(o, "__dict__")
    except AttributeError:
        return []
    return list(d.values()) if isinstance(d, dict) else []


def callable_parts(fn: object) -> list[object]:
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
        parts.extend(callable_parts(fn.func))
    return parts


class Node:
    pass


class Slotted:
    __slots__ = ("a",)
    a: object


class MyList(list):  # type: ignore[type-arg]
    pass


class MyInt(int):
    pass


class Liar:
    """Says it is an int (as a mock with a spec does): `isinstance` believes it."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return int


class Hidden:
    """Hides its attributes from ordinary attribute access."""

    def __getattribute__(self, name: str) -> Any:
        raise AttributeError(name)


def method_of(node: Node) -> Callable[[], None]:
    def bound(self: Node) -> None:
        pass

    return types.MethodType(bound, node)


def graph(rng: random.Random, size: int) -> tuple[object, list[Callable[..., object]]]:
    """A random object graph (with shared parts and cycles) and thread
    functions that hold parts of it."""
    made: list[object] = []

    def leaf() -> object:
        return rng.choice(
            [None, True, 7, MyInt(3), Liar(), 2.5, "s", b"b", range(3), Node, types, len, print]
            + [(lambda: 0), frozenset({1})]
        )

    def some() -> object:
        if made and rng.random() < 0.3:
            return rng.choice(made)  # shared, or a cycle
        if rng.random() < 0.3:
            return leaf()
        kind = rng.randrange(9)
        o: Any
        if kind == 0:
            o = Node()
        elif kind == 1:
            o = []
        elif kind == 2:
            o = MyList()
        elif kind == 3:
            o = {}
        elif kind == 4:
            o = collections.deque()
        elif kind == 5:
            o = {rng.randrange(100)}
        elif kind == 6:
            o = Slotted()
        elif kind == 7:
            o = Hidden()
        else:
            o = threading.Lock()
        made.append(o)
        return o

    root = Node()
    made.append(root)
    for _ in range(size):
        owner = rng.choice(made)
        value = some()
        if isinstance(owner, Node) and not isinstance(owner, Hidden):
            setattr(owner, f"a{rng.randrange(6)}", value)
        elif isinstance(owner, list):
            owner.append(value)
        elif isinstance(owner, dict):
            owner[rng.choice(["k", 1, (2, 3), f"__x{rng.randrange(3)}__"])] = value
        elif isinstance(owner, collections.deque):
            owner.append(value)
        elif isinstance(owner, Slotted):
            owner.a = value
        elif isinstance(owner, Hidden):
            object.__setattr__(owner, "h", value)
    held = [rng.choice(made) for _ in range(3)]

    def closure_fn(s: object, **kw: object) -> object:
        return (held[0], held[1])

    def empty_cell() -> Callable[[], object]:
        def inner() -> object:
            return later  # noqa: F821 - a cell never filled

        if rng.random() < 0.5:
            later = held[2]  # noqa: F841
        return inner

    threads: list[Callable[..., object]] = [closure_fn, empty_cell()]
    node = next((o for o in made if type(o) is Node), root)
    threads.append(method_of(node))
    threads.append(functools.partial(closure_fn, held[2], k=rng.choice(made)))
    threads.append(type(rng.choice(made)).__init__)
    rng.shuffle(threads)
    return (root if rng.random() < 0.8 else (root, made[-1])), threads


@pytest.mark.parametrize("seed", range(200))
def test_the_native_walk_lists_what_the_oracle_lists(seed: int) -> None:
    rng = random.Random(seed)
    state, threads = graph(rng, rng.randrange(1, 80))
    expected = oracle(state, threads)
    got = _native.shared_objects(state, threads)
    assert [id(o) for o in got] == [id(o) for o in expected]
    assert len(got) > 1


def test_a_large_state_is_named_by_its_first_objects() -> None:
    state = Node()
    state.items = [[i] for i in range(3 * LIMIT)]  # type: ignore[attr-defined]
    got = _native.shared_objects(state, [])
    assert len(got) == LIMIT
    assert [id(o) for o in got] == [id(o) for o in oracle(state, [])]


def test_an_exception_while_walking_reaches_the_caller() -> None:
    class Bad(list):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            raise RuntimeError("no iterating me")

    with pytest.raises(RuntimeError, match="no iterating me"):
        _native.shared_objects(Bad([1]), [])
    # An exploration says so as a setup problem would: the error is raised.
    with pytest.raises(RuntimeError, match="no iterating me"):
        racetrace.explore_dpor(lambda: Bad([1]), [lambda s: None], lambda s: True)
