"""What clients do, and what must hold: one module per workload.

A workload is a :class:`Workload` subclass, built from the run config and its own random
stream as ``Class(config, rng)``. It answers the client pool's questions: what a process
does next (``next_op``) and what each client does at the end once faults have healed
(``final_ops``); and it declares which checkers judge it (``checkers``, names in
``harness.checks``), which extra nodes the runner builds beside the clients
(``services``) and whether the nemesis may pause and skew its clients (``faulty_clients``).

Workloads are this package's (``WORKLOADS``) and those an installed package declares as
``harness.workloads`` entry points (see ``harness.plugins``).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import Any

from harness import plugins
from harness.schema import NO_SETTINGS, Setting


class Workload:
    name: str = ""
    #: checkers (names in ``harness.checks``) that judge this workload's history
    checkers: tuple[str, ...] = ()
    #: extra nodes the runner builds beside the clients (never faulted, not workers)
    services: tuple[str, ...] = ()
    #: whether the pause and clock faults may hit the client nodes too
    faulty_clients: bool = False
    #: type and range of each setting the workload owns (``harness.schema``)
    SETTINGS: Mapping[str, Setting] = NO_SETTINGS

    def __init__(self, config: Any, rng: Any):
        self.rng = rng

    def next_op(self, process: int) -> tuple[str, Any, Any]:
        """(f, key, value) of the next operation of ``process``."""
        raise NotImplementedError

    def final_ops(self) -> list[tuple[str, Any, Any]]:
        """The operations each client performs after healing (final reads)."""
        return []


#: this package's workloads: name -> "module:Class"
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
    """This package's workloads whose module is present, and the plug-ins'."""
    own = [n for n, target in WORKLOADS.items()
           if importlib.util.find_spec(target.split(":")[0]) is not None]
    return own + sorted(n for n in plugins.declared(plugins.WORKLOADS) if n not in WORKLOADS)


def is_workload(name: str) -> bool:
    """``name in workload_names()``, without listing the installed plug-ins (a scan of
    every package's metadata) when the workload is this package's."""
    if name in WORKLOADS:
        return importlib.util.find_spec(WORKLOADS[name].split(":")[0]) is not None
    return name in plugins.declared(plugins.WORKLOADS)


def workload_class(name: str) -> type[Workload]:
    if not is_workload(name):
        raise KeyError(f"unknown workload {name!r} (known: {', '.join(workload_names())})")
    if name in WORKLOADS:
        module, cls = WORKLOADS[name].split(":")
        found = getattr(importlib.import_module(module), cls)
    else:
        found = plugins.load(plugins.WORKLOADS, name)
    if not (isinstance(found, type) and issubclass(found, Workload)):
        raise plugins.PluginError(f"workload {name!r}: {found!r} is not a workloads.Workload subclass")
    return found


def make_workload(name: str, config: Any, rng: Any) -> Workload:
    return workload_class(name)(config, rng)
