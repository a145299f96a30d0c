"""racetrace: find, explain and replay concurrency bugs in Python programs."""

from importlib.metadata import PackageNotFoundError, version

from racetrace import _native  # noqa: F401  (fails early if the extension is missing)

try:
    __version__ = version("racetrace")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"
