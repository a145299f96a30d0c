"""The shape of the source tree: no source file longer than MAX_LINES lines,
and no import circle, neither among the Python modules of the ``racetrace``
package nor among the modules of each Rust crate.

Python: the edges are the ``import``/``from ... import`` statements of each
module (anywhere in it, function bodies and ``TYPE_CHECKING`` blocks
included), parsed with ``ast``. Importing a submodule does not count as an
import of its parent package. The compiled extension (``module-name`` in
``pyproject.toml``) imports nothing of the package: an import of it is no
edge.

Rust: each ``src/**/*.rs`` file is a module (``src/a/b.rs`` and
``src/a/b/mod.rs`` are ``crate::a::b``; ``lib.rs`` is the crate root, and so
is ``main.rs`` without a ``lib.rs``). The edges are the paths starting with
``crate::``, ``self::`` or ``super::`` in ``use`` statements and in code
(comments and string literals left out; ``self`` and ``super`` relative to
the inline module they are written in, such as ``mod tests { ... }``), each
resolved to the longest module path that is a file: ``crate::a::b::Item`` is
an edge to ``a/b.rs`` if it exists, else to ``a.rs`` (so an item that
``a.rs`` re-exports is ``a``'s). A module's references into its own
submodules are no edge (declaring them, re-exporting from them, calling
into them): a module with submodules is their common face, and they build
on what it defines, so circles are between siblings or more distant
modules. A path starting with a submodule's name (``child::f``) is such a
reference; any other path starts with a name in scope (another crate, or
what a ``use`` brought in, which is that ``use``'s edge).
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 600
RUST_CRATES = ("formats", "analyzer", "recorder")
PYTHON_SOURCE = ROOT / "recorder" / "python"
PACKAGE = "racetrace"

#: A graph between files: file -> {imported file: where (line and text)}.
Graph = dict[Path, dict[Path, str]]

#: A circle: the files of a strongly connected component, and one loop
#: through them (first file repeated at the end).
Circle = tuple[list[Path], list[Path]]


# --- Size ---------------------------------------------------------------------


def rust_sources(crate: str, root: Path = ROOT) -> list[Path]:
    return sorted((root / crate / "src").rglob("*.rs"))


def python_sources(root: Path = ROOT) -> list[Path]:
    return sorted((root / "recorder" / "python").rglob("*.py"))


def oversize(files: Iterable[Path], root: Path = ROOT, limit: int = MAX_LINES) -> list[str]:
    """``path: N lines`` for each file longer than ``limit`` lines."""
    out = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > limit:
            out.append(f"{path.relative_to(root)}: {n} lines (limit {limit})")
    return out


# --- Circles ------------------------------------------------------------------


def circles(graph: Graph) -> list[Circle]:
    """Each strongly connected component of more than one file, sorted, with
    the shortest loop through its first file."""
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    on_stack: set[Path] = set()
    components: list[list[Path]] = []

    def visit(v: Path) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [(comp, _loop_in(graph, comp)) for comp in sorted(components)]


def _loop_in(graph: Graph, comp: list[Path]) -> list[Path]:
    """The shortest loop from the first file of a component back to it
    (breadth-first inside the component)."""
    start, members = comp[0], set(comp)
    parent: dict[Path, Path] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, {})):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [*reversed(path), start]
                if w in members and w not in parent:
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no loop in the component {comp}")  # pragma: no cover


def describe(graph: Graph, found: list[Circle], root: Path) -> str:
    """The circles in words: their files, one loop through them, then each
    edge of that loop with where it is made."""
    lines = []
    for members, loop in found:
        lines.append(f"import circle between {', '.join(str(p.relative_to(root)) for p in members)}")
        lines.append(f"  loop: {' -> '.join(str(p.relative_to(root)) for p in loop)}")
        for a, b in zip(loop, loop[1:], strict=False):
            lines.append(f"    {a.relative_to(root)} uses {b.relative_to(root)} ({graph[a][b]})")
    return "\n".join(lines)


# --- Python imports -----------------------------------------------------------

#: What an import of a compiled extension module resolves to: no file.
COMPILED = Path("<compiled extension>")


def extension_modules(root: Path = ROOT) -> frozenset[str]:
    """The compiled modules the project builds (maturin's ``module-name``)."""
    with open(root / "pyproject.toml", "rb") as f:
        config = tomllib.load(f)
    name = config.get("tool", {}).get("maturin", {}).get("module-name")
    return frozenset([name] if name else [])


def _python_module_file(source: Path, dotted: str, extensions: frozenset[str]) -> Path | None:
    """The file of module ``dotted`` under ``source``, ``COMPILED`` for an
    extension module, None if there is no such module."""
    if dotted in extensions:
        return COMPILED
    base = source.joinpath(*dotted.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _module_name(source: Path, path: Path) -> str:
    parts = list(path.relative_to(source).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_import_graph(source: Path, package: str = PACKAGE, extensions: frozenset[str] = frozenset()) -> Graph:
    """The imports between the modules of ``package`` (found under
    ``source``); ``extensions`` are the dotted names of compiled modules."""
    graph: Graph = {}
    for path in sorted((source / package).rglob("*.py")):
        name = _module_name(source, path)
        is_package = path.name == "__init__.py"
        edges = graph.setdefault(path, {})
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

        def module_file(dotted: str) -> Path | None:
            return _python_module_file(source, dotted, extensions)

        def add(
            target: Path | None, node: ast.stmt, path: Path = path, edges: dict[Path, str] = edges
        ) -> None:
            if target is not None and target not in (COMPILED, path):
                edges.setdefault(target, f"line {node.lineno}: {ast.unparse(node)}")

        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        for node in sorted(imports, key=lambda n: (n.lineno, n.col_offset)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    # `import a.b.c` imports the deepest module named.
                    parts = alias.name.split(".")
                    while parts and module_file(".".join(parts)) is None:
                        parts.pop()
                    if parts and parts[0] == package:
                        add(module_file(".".join(parts)), node)
                continue
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                module = ".".join([*here, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module != package and not module.startswith(package + "."):
                continue
            for alias in node.names:
                sub = module_file(f"{module}.{alias.name}") if alias.name != "*" else None
                # A submodule, else a name defined in `module`.
                add(sub if sub is not None else module_file(module), node)
    return graph


# --- Rust modules -------------------------------------------------------------

#: Where a comment, a string or a character literal starts (a block comment,
#: which may nest, and a raw string, whose end depends on its `#`s, are
#: then followed by hand).
_RUST_SKIP = re.compile(
    r"""
      //[^\n]*
    | /\*
    | (?<![\w])b?r(?P<hashes>\#*)"
    | b?"(?:[^"\\]|\\.)*"
    | b?'(?:[^'\\\n]|\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.))'
    """,
    re.X | re.S,
)
_RUST_TOKEN = re.compile(r"::|[A-Za-z_]\w*|\S")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_PATH_START = ("crate", "self", "super")


def strip_rust(text: str) -> str:
    """The code with comments, string and character literals blanked out
    (newlines kept, so line numbers stay). A lifetime (``'a``) is code."""
    out: list[str] = []
    i = 0
    while m := _RUST_SKIP.search(text, i):
        out.append(text[i : m.start()])
        end = m.end()
        if m.group() == "/*":
            depth = 1
            while depth and end < len(text):
                if text.startswith("/*", end):
                    depth, end = depth + 1, end + 2
                elif text.startswith("*/", end):
                    depth, end = depth - 1, end + 2
                else:
                    end += 1
        elif m.group("hashes") is not None:
            close = text.find('"' + m.group("hashes"), end)
            end = len(text) if close < 0 else close + 1 + len(m.group("hashes"))
        out.append(re.sub(r"[^\n]", " ", text[m.start() : end]))
        i = end
    out.append(text[i:])
    return "".join(out)


def _use_tree(words: list[str], i: int, prefix: list[str]) -> tuple[list[list[str]], int]:
    """The leaf paths of the path or use tree at ``words[i]`` (which follows
    ``prefix::``) and the index after it: ``a::{b, c::D as E, f::*}`` gives
    ``a::b``, ``a::c::D`` and ``a::f``; a path in code ends at its first
    token that is not a name or ``::`` (``a::B::<T>``, ``a::f(``)."""
    path = list(prefix)
    while i < len(words):
        word = words[i]
        if word == "{":
            leaves: list[list[str]] = []
            i += 1
            while i < len(words) and words[i] != "}":
                if words[i] == ",":
                    i += 1
                    continue
                sub, after = _use_tree(words, i, path)
                leaves += sub
                i = max(after, i + 1)
            return leaves or [path], i + 1
        if word == "*":
            return [path], i + 1
        if not _IDENT.fullmatch(word):
            break
        if word != "self":  # `a::{self, B}`: `a` itself
            path.append(word)
        i += 1
        if words[i : i + 1] == ["as"]:
            return [path], i + 2
        if words[i : i + 1] != ["::"]:
            break
        i += 1
    return [path], i


def rust_paths(code: str) -> list[tuple[int, tuple[str, ...], list[str], list[str]]]:
    """Every path starting with ``crate``, ``self`` or ``super`` in the
    (stripped) code, as (line, the inline modules it is in, its start such
    as ``["super", "super"]``, the rest); a use tree gives one path per
    leaf."""
    tokens = list(_RUST_TOKEN.finditer(code))
    words = [t.group() for t in tokens]
    found = []
    inline: list[tuple[str, int]] = []  # (name, brace depth of its body)
    depth = 0
    i = 0
    while i < len(words):
        word = words[i]
        if word == "{":
            depth += 1
            if i >= 2 and words[i - 2] == "mod":
                inline.append((words[i - 1], depth))
        elif word == "}":
            if inline and inline[-1][1] == depth:
                inline.pop()
            depth -= 1
        # Not `a::crate`, `$crate` (a macro's) or `pub(in crate::a)`.
        elif word in _PATH_START and words[i + 1 : i + 2] == ["::"] and words[i - 1 : i] not in (["::"], ["$"], ["in"]):
            line = code.count("\n", 0, tokens[i].start()) + 1
            start: list[str] = []
            while i + 1 < len(words) and words[i] in _PATH_START and words[i + 1] == "::":
                start.append(words[i])
                i += 2
            leaves, i = _use_tree(words, i, [])
            found += [(line, tuple(name for name, _ in inline), start, leaf) for leaf in leaves]
            continue
        i += 1
    return found


def rust_module_files(src: Path) -> dict[tuple[str, ...], Path]:
    """Module path -> file, for the files of a crate's ``src``. Beside a
    ``lib.rs``, ``main.rs`` is a binary of its own (using the library by
    name), as are the files under ``src/bin``: not modules of the library."""
    modules: dict[tuple[str, ...], Path] = {}
    for path in sorted(src.rglob("*.rs")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[0] == "bin" and len(parts) > 1:
            continue
        if parts in (("lib",), ("main",)):
            parts = ()
        elif parts[-1] == "mod":
            parts = parts[:-1]
        modules.setdefault(parts, path)  # lib.rs sorts before main.rs
    return modules


def rust_module_graph(src: Path) -> Graph:
    """The references between the module files of one crate, but for those
    from a module into its own submodules."""
    modules = rust_module_files(src)
    graph: Graph = {}
    for here, path in modules.items():
        edges = graph.setdefault(path, {})
        for line, inline, start, rest in rust_paths(strip_rust(path.read_text(encoding="utf-8"))):
            scope = here + inline
            for word in start:
                scope = () if word == "crate" else scope[:-1] if word == "super" else scope
            target = scope + tuple(rest)
            while target and target not in modules:
                target = target[:-1]
            if target not in modules or target[: len(here)] == here:
                continue  # this module or one of its submodules
            edges.setdefault(modules[target], f"line {line}: {'::'.join(start + rest)}")
    return graph


# --- The rules, on this tree --------------------------------------------------


def test_python_source_files_are_small() -> None:
    files = python_sources()
    assert files
    too_long = oversize(files)
    if too_long:
        pytest.fail("split these files:\n" + "\n".join(too_long), pytrace=False)


@pytest.mark.parametrize("crate", RUST_CRATES)
def test_rust_source_files_are_small(crate: str) -> None:
    files = rust_sources(crate)
    assert files
    too_long = oversize(files)
    if too_long:
        pytest.fail("split these files:\n" + "\n".join(too_long), pytrace=False)


def test_python_modules_import_no_circle() -> None:
    graph = python_import_graph(PYTHON_SOURCE, PACKAGE, extension_modules())
    assert len(graph) > 5 and any(graph.values())
    found = circles(graph)
    if found:
        pytest.fail(describe(graph, found, ROOT), pytrace=False)


@pytest.mark.parametrize("crate", RUST_CRATES)
def test_rust_modules_use_no_circle(crate: str) -> None:
    graph = rust_module_graph(ROOT / crate / "src")
    assert len(graph) > 1 and any(graph.values())
    found = circles(graph)
    if found:
        pytest.fail(describe(graph, found, ROOT), pytrace=False)


# --- The checkers, on small generated trees -----------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_python_checker_finds_a_circle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import f\n",
            "pkg/a.py": "import os\nfrom pkg import b\n\ndef f():\n    return b.g()\n",
            "pkg/b.py": "def g():\n    from . import c\n    return c.h()\n",
            "pkg/c.py": "import pkg.a\n\ndef h():\n    return 1\n",
            "pkg/d.py": "from pkg.a import f\nfrom pkg import VALUE\n",
        },
    )
    graph = python_import_graph(tmp_path, "pkg")
    p = tmp_path / "pkg"
    assert set(graph[p / "d.py"]) == {p / "a.py", p / "__init__.py"}
    found = circles(graph)
    assert found == [([p / "a.py", p / "b.py", p / "c.py"], [p / "a.py", p / "b.py", p / "c.py", p / "a.py"])]
    text = describe(graph, found, tmp_path)
    assert "import circle between pkg/a.py, pkg/b.py, pkg/c.py\n" in text
    assert "  loop: pkg/a.py -> pkg/b.py -> pkg/c.py -> pkg/a.py" in text
    assert "pkg/b.py uses pkg/c.py (line 2: from . import c)" in text


def test_python_checker_passes_a_tree_without_circle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg import _ext\nfrom pkg.a import f\nfrom pkg.b import g\n",
            "pkg/a.py": "from pkg.b import g\n",
            # The extension is no name of the package's `__init__`.
            "pkg/b.py": "import json\nfrom pkg import _ext\nimport pkg._ext\n",
        },
    )
    graph = python_import_graph(tmp_path, "pkg", frozenset({"pkg._ext"}))
    assert graph[tmp_path / "pkg" / "b.py"] == {}
    assert circles(graph) == []


def test_rust_checker_finds_a_circle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "src/lib.rs": "mod a;\nmod b;\npub mod c;\npub use a::A;\n",
            "src/a.rs": "use crate::{b::{self, B}, c::d::D as E};\npub struct A;\n",
            "src/b.rs": (
                "// crate::c is only mentioned here\n"
                'const S: &str = "crate::c::X";\n'
                "/* crate::c /* nested */ crate::c */\n"
                'const R: &str = r#"crate::c "quoted""#;\n'
                "pub fn f<'a>(x: &'a str) -> char { let _ = x; '\"' }\n"
                "pub struct B(crate::c::C);\n"
            ),
            "src/c/mod.rs": "pub mod d;\npub struct C;\nfn c() -> crate::c::d::D { d::D }\n",
            "src/c/d.rs": "pub struct D;\nfn g() -> crate::A { crate::a::A }\n",
            "src/main.rs": "fn main() {}\n",
        },
    )
    graph = rust_module_graph(tmp_path / "src")
    s = tmp_path / "src"
    assert set(graph[s / "a.rs"]) == {s / "b.rs", s / "c" / "d.rs"}
    assert set(graph[s / "b.rs"]) == {s / "c" / "mod.rs"}
    # Into its own submodule: no edge; `crate::A` is the crate root's.
    assert set(graph[s / "c" / "mod.rs"]) == set()
    assert set(graph[s / "c" / "d.rs"]) == {s / "lib.rs", s / "a.rs"}
    assert set(graph[s / "lib.rs"]) == set()
    found = circles(graph)
    assert found == [([s / "a.rs", s / "c" / "d.rs"], [s / "a.rs", s / "c" / "d.rs", s / "a.rs"])]
    text = describe(graph, found, tmp_path)
    assert "import circle between src/a.rs, src/c/d.rs\n  loop: src/a.rs -> src/c/d.rs -> src/a.rs" in text
    assert "src/c/d.rs uses src/a.rs (line 2: crate::a::A)" in text


def test_rust_checker_follows_relative_paths(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "src/lib.rs": "pub mod p;\npub mod q;\n",
            "src/p/mod.rs": "mod x;\nmod y;\npub use x::X;\npub struct P;\nfn f() -> self::y::Y { y::Y }\n",
            "src/p/x.rs": (
                "use super::y::Y;\n"
                "pub struct X(Y);\n"
                "#[cfg(test)]\n"
                "mod tests {\n"
                "    use super::*;\n"
                "    use super::super::P;\n"
                "}\n"
            ),
            "src/p/y.rs": "pub struct Y;\nfn g() -> crate::q::Q { crate::q::Q }\n",
            "src/q.rs": "use crate::{p::{x::*, y}, q};\npub struct Q;\n",
        },
    )
    s = tmp_path / "src"
    graph = rust_module_graph(s)
    assert graph[s / "p" / "mod.rs"] == {}
    # `super::*` in the tests of x is x; `super::super::P` is p's.
    assert graph[s / "p" / "x.rs"] == {
        s / "p" / "y.rs": "line 1: super::y::Y",
        s / "p" / "mod.rs": "line 6: super::super::P",
    }
    assert set(graph[s / "q.rs"]) == {s / "p" / "x.rs", s / "p" / "y.rs"}
    found = circles(graph)
    assert [loop for _, loop in found] == [[s / "p" / "x.rs", s / "p" / "y.rs", s / "q.rs", s / "p" / "x.rs"]]


def test_rust_checker_passes_a_tree_without_circle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "src/lib.rs": "pub mod a;\npub mod b;\n",
            "src/a/mod.rs": "mod inner;\npub use inner::X;\n",
            "src/a/inner.rs": "use super::super::b::Y;\npub struct X(pub Y);\n",
            "src/b.rs": "pub struct Y;\n/// [`crate::a::X`] wraps it\npub fn y() {}\n",
        },
    )
    graph = rust_module_graph(tmp_path / "src")
    assert set(graph[tmp_path / "src" / "a" / "inner.rs"]) == {tmp_path / "src" / "b.rs"}
    assert circles(graph) == []


def test_size_checker_names_long_files(tmp_path: Path) -> None:
    _write(tmp_path, {"short.py": "x = 1\n" * 3, "long.rs": "// line\n" * 7})
    files = sorted(tmp_path.iterdir())
    assert oversize(files, tmp_path, limit=5) == ["long.rs: 7 lines (limit 5)"]
