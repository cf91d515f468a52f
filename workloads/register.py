"""The register workload: read / write / compare-and-set over a few keys.

Each key is an independent register (a znode in ZooKeeper), so the linearizability
checker can check key by key. Writes and cas targets take fresh values from a small range
(small so that cas often succeeds; a value may repeat, which the checker handles).
Reads go through ``sync`` by default (linearizable in ZooKeeper since ZOOKEEPER-1675);
with ``--reads local`` they are plain local reads, which ZooKeeper promises only to be
sequentially consistent.
"""

from __future__ import annotations

from typing import Any


class RegisterWorkload:
    name = "register"

    #: values are drawn from 0..VALUES-1: few enough that a cas has a fair chance
    VALUES = 5

    def __init__(self, config: Any, rng: Any):
        self.rng = rng
        self.keys = [f"x{i}" for i in range(config.keys)]

    def next_op(self, process: int) -> tuple[str, Any, Any]:
        rng = self.rng
        key = rng.choice(self.keys)
        r = rng.random()
        if r < 0.5:
            return ("read", key, None)
        if r < 0.8:
            return ("write", key, rng.randrange(self.VALUES))
        return ("cas", key, [rng.randrange(self.VALUES), rng.randrange(self.VALUES)])

    def final_ops(self) -> list[tuple[str, Any, Any]]:
        return [("read", k, None) for k in self.keys]
