"""racetrace: find, explain and replay concurrency bugs in Python programs.

PYTEST_DONT_REWRITE: racetrace's pytest plugin is loaded from this
package, often after the package itself (``racetrace replay`` of a test):
its modules hold no assertions for pytest to rewrite.
"""

import sys

# The native recorder reads the interpreter's private frame layout, which
# changes between Python versions: refuse early, with a clear message.
SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))
if sys.implementation.name != "cpython" or sys.version_info[:2] not in SUPPORTED_PYTHONS:
    raise ImportError(
        "racetrace supports CPython 3.11, 3.12 and 3.13; this is "
        f"{sys.implementation.name} {sys.version_info[0]}.{sys.version_info[1]}"
    )
if getattr(sys, "_is_gil_enabled", lambda: True)() is False:
    raise ImportError("racetrace supports CPython 3.11, 3.12 and 3.13 with the GIL; this is a free-threaded build")

from importlib.metadata import PackageNotFoundError, version  # noqa: E402

from racetrace import _native  # noqa: E402,F401  (fails early if the extension is missing)
from racetrace.control import RunAborted, replay, run  # noqa: E402
from racetrace.explore import ExploreResult, Failure, explore_dpor  # noqa: E402
from racetrace.interleavings import explore_interleavings  # noqa: E402
from racetrace.markers import MarkerError  # noqa: E402
from racetrace.recording import record, record_call  # noqa: E402
from racetrace.run_result import (  # noqa: E402
    ControlTimeout,
    DeadlockError,
    DivergenceError,
    RunError,
    RunResult,
    ScheduleError,
    StepLimitError,
)
from racetrace.schedules import ScheduleResult, explore_markers, run_schedule  # noqa: E402

try:
    __version__ = version("racetrace")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "record",
    "record_call",
    "run",
    "replay",
    "explore_dpor",
    "explore_interleavings",
    "run_schedule",
    "explore_markers",
    "ScheduleResult",
    "MarkerError",
    "ExploreResult",
    "Failure",
    "RunResult",
    "RunError",
    "DeadlockError",
    "DivergenceError",
    "ControlTimeout",
    "StepLimitError",
    "ScheduleError",
    "RunAborted",
    "__version__",
]
