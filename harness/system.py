"""How the harness finds a system under test: servers, client-library nodes, settings.

A system (``systems/zab``, later ``systems/kafka``) registers one :class:`SystemSpec`.
The simulator builds server nodes and client nodes through it and never looks inside
them; everything they do reaches the harness as effects (see ``harness.node``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from harness.node import Node


@dataclass(frozen=True, slots=True)
class NodeContext:
    """What a node is built from.

    ``rng`` is a ``random.Random`` derived from (run seed, node id, incarnation): the only
    source of randomness a node may use. ``servers`` lists every server id in the
    ensemble, ``settings`` the system's settings (a dict of plain values from the run
    config), ``bugs`` the planted bugs switched on for this run.
    """

    node_id: str
    servers: tuple[str, ...]
    rng: Any
    settings: dict = field(default_factory=dict)
    bugs: frozenset = frozenset()


class SystemSpec(Protocol):
    name: str
    #: the files each server keeps on disk (reported and used by disk faults)
    files: tuple[str, ...]
    #: True for a system of real OS processes (``harness.live``): the runner then calls
    #: ``run_live(config, workdir) -> SimOutput`` instead of simulating, and checks, stores
    #: and reports its output as a simulated run's. A live spec may also give
    #: ``trace_checkers`` (checkers that need the simulator's trace of the servers, which a
    #: live run has not: reported "not applicable", verdict unknown, not counted).
    live: bool = False

    def default_settings(self) -> dict: ...

    def make_server(self, ctx: NodeContext) -> Node: ...

    def make_client(self, ctx: NodeContext) -> Node: ...

    def is_leader(self, server: Node) -> bool: ...


_REGISTRY: dict[str, Callable[[], SystemSpec]] = {}


def register_system(name: str, factory: Callable[[], SystemSpec]) -> None:
    _REGISTRY[name] = factory


def get_system(name: str) -> SystemSpec:
    _load_builtin()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise KeyError(f"unknown system {name!r} (known: {', '.join(sorted(_REGISTRY))})") from None


def system_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    import importlib

    for name in ("zab", "kafka"):
        if name not in _REGISTRY:
            try:
                importlib.import_module(f"systems.{name}.spec")  # registers itself
            except ImportError:
                pass
    if "zookeeper" not in _REGISTRY:  # a real ZooKeeper ensemble, run live
        try:
            importlib.import_module("harness.live.zookeeper.spec")
        except ImportError:
            pass
    if "maelstrom" not in _REGISTRY:  # any program speaking Maelstrom's protocol, run live
        try:
            importlib.import_module("harness.live.maelstrom.spec")
        except ImportError:
            pass
