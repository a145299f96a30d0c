"""``python -m racetrace ...``: the same as the ``racetrace`` console script."""

from racetrace.cli import main

main()
