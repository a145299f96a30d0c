"""Where a thread is stuck: what a controlled run stopped by
``deadlock_timeout`` says about the actor that never reached its next
scheduling point (it blocks in a call the scheduler cannot see)."""

from __future__ import annotations

import linecache
import os
import sys
import sysconfig
import types


def where_stuck(ident: int | None) -> str | None:
    """Where the thread ``ident`` is now: its innermost frame outside the
    standard library and racetrace (``file:line in function: source``),
    and the innermost one if that is elsewhere; None if it is gone."""
    if ident is None:
        return None
    frame = sys._current_frames().get(ident)
    if frame is None:
        return None

    def text(f: types.FrameType) -> str:
        code = f.f_code
        src = linecache.getline(code.co_filename, f.f_lineno).strip()
        return f"{code.co_filename}:{f.f_lineno} in {code.co_name}: `{src}`"

    library = (sysconfig.get_paths()["stdlib"], os.path.dirname(__file__))
    user: types.FrameType | None = frame
    while user is not None and user.f_code.co_filename.startswith(library):
        user = user.f_back
    if user is None:
        return text(frame)
    if user is frame:
        return text(user)
    return f"{text(user)} (inside {text(frame)})"
