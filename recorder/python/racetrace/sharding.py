"""Sharding an exploration across machines (``shard=(i, n)``, or
``RACETRACE_SHARD=i/n`` in the environment, as a CI matrix or pytest-xdist
sets it): shard ``i`` of ``n`` explores a deterministic ``1/n`` of the
work, and the ``n`` shards together explore everything exactly once.

- ``explore_dpor``: the exploration is split below its first branching
  points (see the analyzer's ``dpor::Explorer::split``); every shard runs
  the few executions that reach each subtree's root, and explores below
  the roots whose schedule hashes to ``i`` (``owns``).
- ``explore_interleavings``: shard ``i`` runs the attempts whose number is
  ``i`` modulo ``n``.

The hash is SHA-256 of the schedule text, so a shard explores the same
subtrees on every machine and Python version.
"""

from __future__ import annotations

import hashlib
import os

#: The environment variable the explorers read when ``shard`` is not given.
ENV = "RACETRACE_SHARD"

Shard = tuple[int, int]


def resolve(api: str, shard: Shard | None) -> Shard | None:
    """``shard`` checked, or the one ``RACETRACE_SHARD`` names (``i/n``),
    or None (the whole exploration). ``(0, 1)`` is the whole too."""
    source = "shard"
    if shard is None:
        text = os.environ.get(ENV, "").strip()
        if not text:
            return None
        source = f"{ENV}={text!r}"
        parts = text.split("/")
        try:
            if len(parts) != 2:
                raise ValueError
            shard = (int(parts[0]), int(parts[1]))
        except ValueError:
            raise ValueError(f"{api}: {source} must be 'i/n' (shard i of n, 0 <= i < n)") from None
    if (
        not isinstance(shard, tuple)
        or len(shard) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in shard)
    ):
        raise TypeError(f"{api}: {source} must be a pair of ints (i, n), not {shard!r}")
    i, n = shard
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"{api}: {source} names shard {i} of {n}; it must be 0 <= i < n")
    return shard


def owns(shard: Shard | None, key: str) -> bool:
    """Whether ``shard`` explores the subtree (or top leaf) whose schedule
    is ``key``."""
    if shard is None or shard[1] == 1:
        return True
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    return h % shard[1] == shard[0]


def describe(shard: Shard | None) -> str:
    return "" if shard is None else f"shard {shard[0]} of {shard[1]}"
