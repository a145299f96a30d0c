"""Runs CPython test modules (from the interpreter's own installation) with
unittest and prints one JSON line: how many ran, and which failed, errored
or were skipped, by test id. Used plainly and under ``racetrace record``."""

import importlib
import json
import sys
import unittest


def main(names: list[str]) -> int:
    suite = unittest.TestSuite()
    for name in names:
        suite.addTests(unittest.defaultTestLoader.loadTestsFromModule(importlib.import_module(name)))
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=0).run(suite)
    # On a line of its own: a test may have left its output unterminated.
    print()
    print(
        json.dumps(
            {
                "run": result.testsRun,
                "failures": sorted(t.id() for t, _ in result.failures),
                "errors": sorted(t.id() for t, _ in result.errors),
                "skipped": sorted(t.id() for t, _ in result.skipped),
            }
        )
    )
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
