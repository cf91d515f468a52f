"""Maelstrom's workloads, for programs run with ``--system maelstrom``.

``lin-kv`` is our register workload and ``kafka`` our queue workload as Maelstrom's
clients do them (no consumer groups: every reassignment is an ``assign``, which lists the
committed offsets). ``broadcast`` and ``g-counter`` are Maelstrom's own, small:

- ``broadcast``: ``broadcast v`` of a unique integer, ``read`` of the set a node holds;
  final: a read on every node (each client reads its own server). Every acknowledged
  value must be in every final read (``checkers/maelstrom.py``).
- ``g-counter``: ``add d`` (a small non-negative delta), ``read``; final: a read on
  every node, which must lie between the sum of the acknowledged adds and that sum plus
  the indefinite ones.

Both are only eventually consistent, so their final reads wait ``SETTLE_S`` after the
heal (at most half of ``--recovery-time``), as Maelstrom waits ("Waiting for recovery",
10 s) before its final reads: a correct program that gossips every second, backs off
after a partition, or whose timers a clock fault delayed, has converged by then.
"""

from __future__ import annotations

from typing import Any

from workloads import Workload
from workloads.queue import QueueWorkload
from workloads.register import RegisterWorkload


class LinKVWorkload(RegisterWorkload):
    name = "lin-kv"


class KafkaWorkload(QueueWorkload):
    name = "kafka"

    def _reassign(self) -> tuple[str, Any, Any]:
        n = self.rng.randint(1, len(self.keys))
        return ("assign", None, sorted(self.rng.sample(self.keys, n)))


#: seconds an eventually consistent workload's final reads wait after the heal
SETTLE_S = 10.0


class BroadcastWorkload(Workload):
    name = "broadcast"
    checkers = ("broadcast",)
    settle_s = SETTLE_S
    P_BROADCAST = 0.6

    def __init__(self, config: Any, rng: Any) -> None:
        self.rng = rng
        self.next_value = 0

    def next_op(self, process: int) -> tuple[str, Any, Any]:
        if self.rng.random() < self.P_BROADCAST:
            self.next_value += 1
            return ("broadcast", None, self.next_value)
        return ("read", None, None)

    def final_ops(self) -> list[tuple[str, Any, Any]]:
        return [("read", None, "final")]


class GCounterWorkload(Workload):
    name = "g-counter"
    checkers = ("counter",)
    settle_s = SETTLE_S
    P_ADD = 0.6
    MAX_DELTA = 5

    def __init__(self, config: Any, rng: Any) -> None:
        self.rng = rng

    def next_op(self, process: int) -> tuple[str, Any, Any]:
        if self.rng.random() < self.P_ADD:
            return ("add", None, self.rng.randint(0, self.MAX_DELTA))
        return ("read", None, None)

    def final_ops(self) -> list[tuple[str, Any, Any]]:
        return [("read", None, "final")]
