"""Comment markers: a line of code ending in ``# racetrace: NAME`` marks a
point that an actor reaches just before that line runs (for a statement
over several lines, before its first line runs).

This module finds the markers in source files (with ``tokenize``, once per
file and version of it) and reads marker schedules (``"alice:read"``,
``"alice:read#2"``, ``"alice:end"``). Which lines are marked is handed to
the native side, which makes the first instruction of each marked line a
scheduling point of the controlled run (``recorder/src/marks.rs``).
"""

from __future__ import annotations

import io
import os
import re
import sys
import tokenize
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

#: A marker name: a Python identifier (ASCII).
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: A comment that is a marker (whatever follows the colon is checked).
_COMMENT = re.compile(r"#\s*racetrace\s*:(.*)\Z", re.DOTALL)
#: The pseudo-marker of an actor's end (``alice:end``): no line may use it.
END = "end"
#: Its id in a marker schedule (``strategy::markers::END``).
END_ID = 2**32 - 1
#: One schedule entry: actor, marker, optional occurrence.
_ENTRY = re.compile(r"\s*([^:#\s]+)\s*:\s*([^:#\s]+)\s*(?:#\s*(\S+))?\s*\Z")


class MarkerError(ValueError):
    """A malformed marker comment, or a marker schedule that names an
    unknown actor or marker, or cannot be completed."""


@dataclass(frozen=True)
class Marker:
    """One marked line."""

    name: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


_cache: dict[str, tuple[tuple[int, int], list[Marker]]] = {}


def scan_source(text: str, file: str) -> list[Marker]:
    """The markers of one source text; ``MarkerError`` (naming file:line)
    for a malformed one."""
    out: list[Marker] = []
    start: int | None = None  # first line of the statement being read
    skip = {tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                m = _COMMENT.match(tok.string)
                if m is not None:
                    out.append(_marker(m.group(1), file, tok.start[0], start))
            elif tok.type == tokenize.NEWLINE:
                start = None
            elif tok.type not in skip and start is None:
                start = tok.start[0]
    except (tokenize.TokenError, SyntaxError) as e:  # not Python: nothing marked
        if out:
            raise MarkerError(f"{file}: cannot read its markers: {e}") from None
        return []
    return out


def _marker(rest: str, file: str, line: int, start: int | None) -> Marker:
    where = f"{file}:{line}"
    name = rest.strip()
    if start is None:
        raise MarkerError(
            f"{where}: a marker comment must end a line of code (it marks the line it ends): "
            f"`# racetrace:{rest}`"
        )
    if "racetrace" in name or "," in name:
        raise MarkerError(f"{where}: two markers on one line (`# racetrace:{rest}`): one marker per line")
    if not NAME.match(name):
        raise MarkerError(
            f"{where}: malformed marker name {name!r} in `# racetrace:{rest}`"
            " (a marker name is an identifier: letters, digits, _)"
        )
    if name == END:
        raise MarkerError(f"{where}: `{END}` is reserved (`actor:{END}` is an actor's end), choose another name")
    return Marker(name, file, start)


def scan_file(path: str) -> list[Marker]:
    """The markers of a file (cached while the file does not change)."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _cache.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    found: list[Marker] = []
    if b"racetrace" in data:
        try:
            text = data.decode(tokenize.detect_encoding(io.BytesIO(data).readline)[0])
        except (SyntaxError, LookupError, UnicodeDecodeError):
            text = ""
        found = scan_source(text, path)
    _cache[path] = (stamp, found)
    return found


def _own_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__)) + os.sep


def source_files(extra: Iterable[Callable[..., object]] = ()) -> list[str]:
    """The files whose markers count: every module loaded (racetrace's own
    aside) and the files of ``extra`` callables. A module imported only
    while the run goes on is not scanned."""
    own = _own_dir()
    files: dict[str, None] = {}
    for fn in extra:
        code = getattr(fn, "__code__", None) or getattr(getattr(fn, "func", None), "__code__", None)
        if code is not None:
            files[code.co_filename] = None
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if isinstance(f, str) and f.endswith(".py") and not f.startswith(own):
            files[f] = None
    return [f for f in files if not f.startswith("<")]


def find_markers(extra: Iterable[Callable[..., object]] = ()) -> list[Marker]:
    """Every marked line of the files that count (``source_files``)."""
    out: list[Marker] = []
    for f in source_files(extra):
        out.extend(scan_file(f))
    return out


@dataclass(frozen=True)
class Step:
    """One entry of a marker schedule, resolved."""

    actor: str
    marker: str
    #: 1-based occurrence, 0 for the next one reached.
    nth: int

    def __str__(self) -> str:
        return f"{self.actor}:{self.marker}" + (f"#{self.nth}" if self.nth else "")


def parse_schedule(schedule: str | Sequence[str], actors: Sequence[str], markers: Sequence[Marker]) -> list[Step]:
    """The entries of a marker schedule (a list of ``actor:marker[#n]``
    strings, or one string of them separated by commas or spaces), checked
    against the actors and the markers found."""
    items = schedule.replace(",", " ").split() if isinstance(schedule, str) else list(schedule)
    if not items:
        raise MarkerError("the marker schedule is empty (give entries such as 'alice:read')")
    names = {m.name for m in markers}
    out = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, str):
            raise MarkerError(f"schedule entry {i} is {type(item).__name__}, not a string 'actor:marker'")
        m = _ENTRY.match(item)
        if m is None:
            raise MarkerError(f"schedule entry {i} {item!r} is not 'actor:marker' or 'actor:marker#n'")
        actor, marker, nth = m.group(1), m.group(2), m.group(3)
        if actor not in actors:
            raise MarkerError(
                f"schedule entry {i} {item!r} names an unknown actor {actor!r} (actors: {', '.join(actors)})"
            )
        if marker != END and marker not in names:
            known = ", ".join(sorted(f"{m.name} ({m.where})" for m in markers)) or "none"
            raise MarkerError(
                f"schedule entry {i} {item!r}: no line is marked `# racetrace: {marker}` (markers found: {known})"
            )
        n = 0
        if nth is not None:
            if not nth.isdigit() or int(nth) < 1:
                raise MarkerError(f"schedule entry {i} {item!r}: the occurrence after # must be a number from 1")
            if marker == END:
                raise MarkerError(f"schedule entry {i} {item!r}: an actor ends once (no #n after {END})")
            n = int(nth)
        out.append(Step(actor, marker, n))
    return out


@dataclass(frozen=True)
class MarkerTable:
    """The markers of a run: names numbered (sorted), and every marked
    line as the native side takes it."""

    markers: list[Marker]

    @property
    def names(self) -> list[str]:
        return sorted({m.name for m in self.markers})

    def id_of(self, name: str) -> int:
        return END_ID if name == END else self.names.index(name)

    def name_of(self, ident: int) -> str:
        return END if ident == END_ID else self.names[ident]

    def lines(self) -> list[tuple[str, int, int]]:
        ids = {n: i for i, n in enumerate(self.names)}
        return [(m.file, m.line, ids[m.name]) for m in self.markers]

    def where(self, name: str) -> str:
        return ", ".join(m.where for m in self.markers if m.name == name) or "?"

    def entries(self, steps: Sequence[Step], actor_ids: Mapping[str, int]) -> list[tuple[int, int, int]]:
        return [(actor_ids[s.actor], self.id_of(s.marker), s.nth) for s in steps]
