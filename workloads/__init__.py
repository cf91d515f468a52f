"""What clients do, and what must hold: one module per workload.

A workload is built from the run config and its own random stream and answers three
questions for the client pool: what a process does next (``next_op``), what each client
reads at the end once faults have healed (``final_ops``), and which checkers judge it
(``checkers``).
"""

from __future__ import annotations

from typing import Any, Protocol


class Workload(Protocol):
    name: str

    def next_op(self, process: int) -> tuple[str, Any, Any]:
        """(f, key, value) of the next operation of ``process``."""

    def final_ops(self) -> list[tuple[str, Any, Any]]:
        """The operations each client performs after healing (final reads)."""


#: workload name -> "module:Class"; each class is built as ``Class(config, rng)``
WORKLOADS = {
    "register": "workloads.register:RegisterWorkload",
    "election": "workloads.election:ElectionWorkload",
    "queue": "workloads.queue:QueueWorkload",
    # Maelstrom's workloads, for --system maelstrom
    "lin-kv": "workloads.maelstrom:LinKVWorkload",
    "kafka": "workloads.maelstrom:KafkaWorkload",
    "broadcast": "workloads.maelstrom:BroadcastWorkload",
    "g-counter": "workloads.maelstrom:GCounterWorkload",
}


def workload_names() -> list[str]:
    """The workloads whose module is present (others are being written)."""
    import importlib.util

    return [n for n, target in WORKLOADS.items()
            if importlib.util.find_spec(target.split(":")[0]) is not None]


def make_workload(name: str, config: Any, rng: Any) -> Workload:
    import importlib

    if name not in workload_names():
        raise KeyError(f"unknown workload {name!r} (known: {', '.join(workload_names())})")
    module, cls = WORKLOADS[name].split(":")
    return getattr(importlib.import_module(module), cls)(config, rng)
