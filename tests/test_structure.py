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
``src/a/b/mod.rs`` are ``crate::a::b``; ``lib.rs`` and ``main.rs`` are the
crate root). The edges are the ``crate::...`` paths of ``use`` statements
and of code (comments and string literals left out), each resolved to the
longest module path that is a file: ``crate::a::b::Item`` is an edge to
``a/b.rs`` if it exists, else to ``a.rs``. A parent declaring ``mod child;``
is not an edge.
"""

from __future__ import annotations

import ast
import itertools
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


# --- Size ---------------------------------------------------------------------


def source_files(root: Path = ROOT) -> list[Path]:
    """The non-test source files the size rule applies to."""
    files = [p for crate in RUST_CRATES for p in sorted((root / crate / "src").rglob("*.rs"))]
    files += sorted((root / "recorder" / "python").rglob("*.py"))
    return files


def oversize(files: Iterable[Path], root: Path = ROOT, limit: int = MAX_LINES) -> list[str]:
    """``path: N lines`` for each file longer than ``limit`` lines."""
    out = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > limit:
            out.append(f"{path.relative_to(root)}: {n} lines (limit {limit})")
    return out


# --- Cycles -------------------------------------------------------------------


def cycles(graph: Graph) -> list[list[Path]]:
    """One loop per strongly connected component of more than one file (or a
    file importing itself), as the list of files along it, the first file
    repeated at the end. Components come sorted, each loop starts at its
    smallest file."""
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
            if len(comp) > 1 or v in graph.get(v, {}):
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_loop_in(graph, comp) for comp in sorted(components)]


def _loop_in(graph: Graph, comp: list[Path]) -> list[Path]:
    """The shortest loop through the first file of a component (breadth-first
    inside the component)."""
    start, members = comp[0], set(comp)
    parent: dict[Path, Path] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, {})):
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w not in parent:
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no loop in the component {comp}")  # pragma: no cover


def describe(graph: Graph, loops: list[list[Path]], root: Path) -> str:
    """The loops in words: the files of each circle, one loop through them,
    then each edge of that loop with where it is made."""
    lines = []
    for loop in loops:
        members = _component_of(graph, loop[0])
        names = [str(p.relative_to(root)) for p in loop]
        lines.append(f"import circle between {', '.join(str(p.relative_to(root)) for p in members)}")
        lines.append(f"  loop: {' -> '.join(names)}")
        for a, b in zip(loop, loop[1:]):
            lines.append(f"    {a.relative_to(root)} uses {b.relative_to(root)} ({graph[a][b]})")
    return "\n".join(lines)


def _component_of(graph: Graph, start: Path) -> list[Path]:
    """The files that reach ``start`` and that ``start`` reaches."""

    def reach(edges: dict[Path, set[Path]]) -> set[Path]:
        seen, todo = {start}, [start]
        while todo:
            for w in edges.get(todo.pop(), set()):
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen

    forward = {v: set(ws) for v, ws in graph.items()}
    backward: dict[Path, set[Path]] = {}
    for v, ws in graph.items():
        for w in ws:
            backward.setdefault(w, set()).add(v)
    return sorted(reach(forward) & reach(backward))


# --- Python imports -------------------------------------------------------------


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

        def add(target: Path | None, node: ast.stmt) -> None:
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


# --- Rust modules ----------------------------------------------------------------

_RAW_STRING = re.compile(r'b?r(#*)"')


def strip_rust(text: str) -> str:
    """The code with comments, string and character literals blanked out
    (newlines kept, so line numbers stay)."""
    out: list[str] = []
    i, n = 0, len(text)

    def blank(s: str) -> str:
        return "".join(c if c == "\n" else " " for c in s)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif (m := _RAW_STRING.match(text, i)) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find('"' + m.group(1), m.end())
            j = n if end < 0 else end + 1 + len(m.group(1))
            out.append(blank(text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(blank(text[i : j + 1]))
            i = j + 1
        elif c == "'":
            # A character literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            m = re.match(r"'(\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'])'", text[i : i + 12], re.S)
            if m:
                out.append(blank(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


_TOKEN = re.compile(r"\s*(::|[{},*;]|[A-Za-z_][A-Za-z0-9_]*|.)", re.S)


def _crate_paths(code: str) -> list[tuple[int, list[str]]]:
    """Every ``crate::...`` path in the (stripped) code, as (line, segments);
    use trees (``crate::a::{b, c::D}``) give one path per leaf."""
    found: list[tuple[int, list[str]]] = []
    for m in re.finditer(r"(?<![\w$])crate\s*::", code):
        line = code.count("\n", 0, m.start()) + 1
        # Enough tokens for any use tree; a path ends at its first non-path token.
        toks = [t.group(1) for t in itertools.islice(_TOKEN.finditer(code, m.end()), 2000)]
        pos = 0

        def tree(prefix: list[str]) -> None:
            # path := ident (:: ident)* [:: ({ tree, ... } | *)]
            nonlocal pos
            path = list(prefix)
            while pos < len(toks):
                tok = toks[pos]
                if tok == "{":
                    pos += 1
                    while pos < len(toks) and toks[pos] != "}":
                        if toks[pos] == ",":
                            pos += 1
                            continue
                        tree(path)
                    pos += 1
                    return
                if tok == "*" or not re.match(r"[A-Za-z_]", tok):
                    break
                if tok == "self":
                    pos += 1
                    break
                path.append(tok)
                pos += 1
                if pos < len(toks) and toks[pos] == "::":
                    pos += 1
                    continue
                break
            if pos < len(toks) and toks[pos] == "as":  # `a::b as c`
                pos += 2
            found.append((line, path))

        tree([])
    return found


def rust_module_files(src: Path) -> dict[tuple[str, ...], Path]:
    """Module path -> file, for the files of a crate's ``src``."""
    modules: dict[tuple[str, ...], Path] = {}
    for path in sorted(src.rglob("*.rs")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts in (("lib",), ("main",)):
            parts = ()
        elif parts[-1] == "mod":
            parts = parts[:-1]
        elif parts[0] == "bin":
            continue  # separate binaries: crate roots of their own
        modules.setdefault(parts, path)  # lib.rs before main.rs
    return modules


def rust_module_graph(src: Path) -> Graph:
    """The ``crate::`` references between the module files of one crate."""
    modules = rust_module_files(src)
    graph: Graph = {}
    for path in modules.values():
        edges = graph.setdefault(path, {})
        code = strip_rust(path.read_text(encoding="utf-8"))
        for line, segments in _crate_paths(code):
            parts = tuple(segments)
            while parts and parts not in modules:
                parts = parts[:-1]
            target = modules.get(parts)
            if target is not None and target != path:
                edges.setdefault(target, f"line {line}: crate::{'::'.join(segments)}")
    return graph


# --- The rules, on this tree -----------------------------------------------------


def test_python_source_files_are_small() -> None:
    files = [p for p in source_files() if p.suffix == ".py"]
    assert files
    too_long = oversize(files)
    if too_long:
        pytest.fail("split these files:\n" + "\n".join(too_long), pytrace=False)


@pytest.mark.parametrize("crate", RUST_CRATES)
def test_rust_source_files_are_small(crate: str) -> None:
    files = sorted((ROOT / crate / "src").rglob("*.rs"))
    assert files
    too_long = oversize(files)
    if too_long:
        pytest.fail("split these files:\n" + "\n".join(too_long), pytrace=False)


def test_python_modules_import_no_circle() -> None:
    graph = python_import_graph(PYTHON_SOURCE, PACKAGE, extension_modules())
    assert len(graph) > 5 and any(graph.values())
    loops = cycles(graph)
    if loops:
        pytest.fail(describe(graph, loops, ROOT), pytrace=False)


@pytest.mark.parametrize("crate", RUST_CRATES)
def test_rust_modules_use_no_circle(crate: str) -> None:
    graph = rust_module_graph(ROOT / crate / "src")
    assert len(graph) > 1
    loops = cycles(graph)
    if loops:
        pytest.fail(describe(graph, loops, ROOT), pytrace=False)


# --- The checkers, on small generated trees --------------------------------------


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
    loops = cycles(graph)
    assert loops == [[p / "a.py", p / "b.py", p / "c.py", p / "a.py"]]
    text = describe(graph, loops, tmp_path)
    assert "import circle between pkg/a.py, pkg/b.py, pkg/c.py\n  loop: pkg/a.py -> pkg/b.py -> pkg/c.py -> pkg/a.py" in text
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
    assert cycles(graph) == []


def test_rust_checker_finds_a_circle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "src/lib.rs": "mod a;\nmod b;\npub mod c;\npub use a::A;\n",
            "src/a.rs": "use crate::{b::{self, B}, c::d::D as E};\npub struct A;\n",
            "src/b.rs": (
                "// crate::c is only mentioned here\n"
                'const S: &str = "crate::c::X";\n'
                "pub fn f<'a>(x: &'a str) -> char { let _ = x; 'c' }\n"
                "pub struct B(crate::c::C);\n"
            ),
            "src/c/mod.rs": "pub mod d;\npub struct C;\n",
            "src/c/d.rs": "pub struct D;\nfn g() -> crate::A { crate::a::A }\n",
            "src/main.rs": "fn main() {}\n",
        },
    )
    graph = rust_module_graph(tmp_path / "src")
    s = tmp_path / "src"
    assert set(graph[s / "a.rs"]) == {s / "b.rs", s / "c" / "d.rs"}
    assert set(graph[s / "b.rs"]) == {s / "c" / "mod.rs"}
    # `mod d;` in c/mod.rs is no edge; `crate::A` is the crate root's.
    assert set(graph[s / "c" / "mod.rs"]) == set()
    assert set(graph[s / "c" / "d.rs"]) == {s / "lib.rs", s / "a.rs"}
    loops = cycles(graph)
    assert loops == [[s / "a.rs", s / "c" / "d.rs", s / "a.rs"]]
    text = describe(graph, loops, tmp_path)
    assert "import circle between src/a.rs, src/c/d.rs\n  loop: src/a.rs -> src/c/d.rs -> src/a.rs" in text
    assert "src/c/d.rs uses src/a.rs (line 2: crate::a::A)" in text


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
    assert cycles(rust_module_graph(tmp_path / "src")) == []


def test_size_checker_names_long_files(tmp_path: Path) -> None:
    _write(tmp_path, {"short.py": "x = 1\n" * 3, "long.rs": "// line\n" * 7})
    files = sorted(tmp_path.iterdir())
    assert oversize(files, tmp_path, limit=5) == ["long.rs: 7 lines (limit 5)"]
