"""The queue workload: Jepsen's Kafka queue test, on keys mapped one to one to partitions.

Each client is a producer and a consumer (as in Jepsen). Operations, with the history
fields of docs/anomalies.md:

- ``send`` key value: a unique integer to a random key (partition ``k<i>`` -> ``i``);
  the ok completion adds ``"offset"``. The workload never retries a send; the producer
  library does, within its delivery timeout, and idempotence is what keeps those retries
  from duplicating.
- ``poll``: read what the consumer's partitions hold past its position; the ok completion
  is ``{key: [[offset, value], ...]}``.
- ``commit``: commit the consumer's positions; the ok completion is ``{key: offset}``
  (the invoke carries null: the workload does not know the positions, the client does).
- ``assign`` keys / ``subscribe`` keys: consume a random non-empty subset of the keys
  directly, or join the consumer group for all of them (partitions then come from the
  coordinator and move with each rebalance).

A process starts with an ``assign`` or ``subscribe`` (a new process, after an ``info``,
stands for a reopened client, which has no assignment), then mixes the others, and
re-assigns or re-subscribes now and then.

Final drain (``final_ops``): each client assigns every key, then polls with value
``"drain"``: from the group's committed offsets until it has caught up with every
partition's log end. The drain is over only when everything acknowledged has been read:
whatever an acknowledged send wrote sits below the log end it catches up with. Reading
from the committed offsets rather than from 0 makes the group's view count: a record the
group's commits skipped is a lost write there, as docs/kafka.md asks for
``kafka-commit-before-process``; every record below a committed offset was returned by
some poll, so for a correct system the two drains find the same lost writes.
"""

from __future__ import annotations

from typing import Any

from workloads import Workload


class QueueWorkload(Workload):
    name = "queue"
    checkers = ("durability",)

    #: operation mix, after a process's first (re)assignment
    P_SEND = 0.5
    P_POLL = 0.3
    P_COMMIT = 0.12
    # the rest: re-assign or re-subscribe

    def __init__(self, config: Any, rng: Any) -> None:
        self.rng = rng
        self.keys = [f"k{i}" for i in range(config.keys)]
        self.next_value = 0
        self.started: set[int] = set()

    def _reassign(self) -> tuple[str, Any, Any]:
        if self.rng.random() < 0.5:
            n = self.rng.randint(1, len(self.keys))
            return ("assign", None, sorted(self.rng.sample(self.keys, n)))
        return ("subscribe", None, list(self.keys))

    def next_op(self, process: int) -> tuple[str, Any, Any]:
        if process not in self.started:
            self.started.add(process)
            return self._reassign()
        r = self.rng.random()
        if r < self.P_SEND:
            self.next_value += 1
            return ("send", self.rng.choice(self.keys), self.next_value)
        if r < self.P_SEND + self.P_POLL:
            return ("poll", None, None)
        if r < self.P_SEND + self.P_POLL + self.P_COMMIT:
            return ("commit", None, None)
        return self._reassign()

    def final_ops(self) -> list[tuple[str, Any, Any]]:
        return [("assign", None, list(self.keys)), ("poll", None, "drain")]
