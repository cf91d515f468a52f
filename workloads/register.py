"""The register workload: read / write / compare-and-set over a few keys.

Each key is an independent register (a znode in ZooKeeper), so the linearizability
checker checks key by key. Writes and cas targets take values from a small range (small
so that a cas has a fair chance to succeed; a value may repeat, which the checker
handles). Reads go through ``sync`` by default (linearizable in ZooKeeper since
ZOOKEEPER-1675); with ``--reads local`` they are plain local reads, which ZooKeeper
promises only to be sequentially consistent.

Keys rotate, as in Jepsen's independent-key tests: ``keys`` registers are in use at any
time, and each is retired after ``OPS_PER_KEY`` operations for a fresh one. The search
for a linearization is exponential in the number of concurrent indeterminate operations
on one key, so bounding a key's history keeps every check fast and decided, while the
run still exercises as many operations as it likes.
"""

from __future__ import annotations

from typing import Any

from workloads import Workload


class RegisterWorkload(Workload):
    name = "register"
    checkers = ("linearizable",)

    #: values are drawn from 0..VALUES-1: few enough that a cas has a fair chance
    VALUES = 5
    #: operations on one key before it is retired (Jepsen's independent tests use ~100-200)
    OPS_PER_KEY = 120

    def __init__(self, config: Any, rng: Any):
        self.rng = rng
        self.next_key = config.keys
        self.active = [f"x{i}" for i in range(config.keys)]
        self.used = {k: 0 for k in self.active}

    def _key(self) -> str:
        i = self.rng.randrange(len(self.active))
        key = self.active[i]
        self.used[key] += 1
        if self.used[key] >= self.OPS_PER_KEY:
            fresh = f"x{self.next_key}"
            self.next_key += 1
            self.active[i] = fresh
            self.used[fresh] = 0
        return key

    def next_op(self, process: int) -> tuple[str, Any, Any]:
        rng = self.rng
        key = self._key()
        r = rng.random()
        if r < 0.5:
            return ("read", key, None)
        if r < 0.8:
            return ("write", key, rng.randrange(self.VALUES))
        return ("cas", key, [rng.randrange(self.VALUES), rng.randrange(self.VALUES)])

    def final_ops(self) -> list[tuple[str, Any, Any]]:
        """A final read of every key still in use (retired keys saw their last reads)."""
        return [("read", k, None) for k in self.active]
