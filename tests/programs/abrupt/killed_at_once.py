"""Killed (SIGKILL) right after recording starts, before anything was
flushed by time: the trace's header must already be on disk."""

import os
import signal

os.kill(os.getpid(), signal.SIGKILL)
