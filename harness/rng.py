"""Seed-derived random streams.

Every consumer of randomness in a run (the network, each node, each client, the nemesis,
the workload) gets its own ``random.Random`` derived from ``(seed, name...)`` through
SHA-256, never through Python's ``hash()`` (which PYTHONHASHSEED salts). Adding a consumer
does not shift the streams of the others.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *names: object) -> int:
    """A 64-bit seed from a root seed and a path of names."""
    h = hashlib.sha256(repr((int(seed),) + tuple(str(n) for n in names)).encode())
    return int.from_bytes(h.digest()[:8], "big")


def stream(seed: int, *names: object) -> random.Random:
    """An independent ``random.Random`` for the consumer named by ``names``."""
    return random.Random(derive_seed(seed, *names))
