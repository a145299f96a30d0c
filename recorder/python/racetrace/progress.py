"""A progress line for long explorations, on a terminal: executions so far,
the estimated total (for ``explore_dpor``, the engine's estimate from the
branching seen so far, which converges to the total), executions per
second and the time left at that rate. Redrawn at most ten times a second
on stderr; the explorers show it by themselves when stderr is a terminal
(``progress=None``), or always (``progress=True``, or
``RACETRACE_PROGRESS=1``, for a plugin that writes to the terminal
itself)."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO


def wanted(progress: bool | None) -> bool:
    """Whether to show the progress line: ``progress``, else
    ``RACETRACE_PROGRESS`` (``1``/``0``), else whether stderr is a
    terminal."""
    if progress is not None:
        return progress
    env = os.environ.get("RACETRACE_PROGRESS", "").strip()
    if env:
        return env not in ("0", "false", "no")
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class ProgressLine:
    """``on_progress``-shaped: ``line(done, estimate)``; ``close()`` ends
    the line."""

    def __init__(self, label: str, stream: TextIO | None = None, exact_total: bool = False) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.exact_total = exact_total
        self.started = time.monotonic()
        self.last = 0.0
        self.shown = False

    def text(self, done: int, estimate: int, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        total = max(estimate, done)
        mark = "" if self.exact_total else "~"
        frac = done / total if total else 0.0
        width = 24
        filled = int(frac * width)
        bar = "#" * filled + "-" * (width - filled)
        left = (total - done) / rate if rate > 0 else 0.0
        return (
            f"{self.label} [{bar}] {done:,}/{mark}{total:,} executions"
            f"  {rate:,.0f}/s  {_duration(elapsed)} elapsed, ~{_duration(left)} left"
        )

    def __call__(self, done: int, estimate: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        self.stream.write("\r" + self.text(done, estimate, now) + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def close(self, done: int | None = None) -> None:
        """Ends the line, drawn a last time with ``done`` as the total."""
        if done is not None and (self.shown or done):
            self.exact_total = True
            self.stream.write("\r" + self.text(done, done, time.monotonic()) + "\x1b[K")
            self.shown = True
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
