"""How the harness finds a system under test: the plug-in API and the system registry.

A system is a :class:`SystemSpec` subclass: it builds server nodes and client nodes (see
``harness.node``) and declares what the harness needs to know about it (its files, crash
points, settings, server ids, the checkers that judge its servers, its planted bugs). The
simulator builds nodes through it and never looks inside them; everything they do reaches
the harness as effects.

This module and ``harness.node`` are the whole API a system may import (the layering
test, ``tests/test_layering.py``, holds ``systems/`` to ``NodeContext``, ``SystemSpec``
and ``BugInfo`` from here).

Systems are found in two places, by name: ``systems/<name>/spec.py`` in this project
(its ``SYSTEM`` attribute is the spec class; ``systems/<name>/bugs.py``'s ``BUGS`` lists
its planted bugs) and the ``harness.systems`` entry points of installed packages (see
``harness.plugins``). ``register_system`` adds one by hand (tests' toy systems).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness import plugins
from harness.node import Node
from harness.schema import NO_SETTINGS, Setting


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
    settings: dict[str, Any] = field(default_factory=dict)
    bugs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class BugInfo:
    """A planted bug: a named switch (``--bug NAME``) the system's code reads through
    ``ctx.bugs``, what it breaks, the checker that must catch it (``checker: kinds``) and
    the kind of fault schedule that exposes it."""

    name: str
    system: str
    breaks: str
    caught_by: str
    exposed_by: str = ""


class SystemSpec:
    """A system under test as the harness sees it. Subclass it, set ``name`` and
    override ``make_server`` and ``make_client``; every other hook has a default."""

    name: str = ""
    #: the files each server keeps on disk (reported, and lost or kept by disk faults)
    files: tuple[str, ...] = ()
    #: trace kinds a server may be crashed right after (the ``crash`` fault family): the
    #: effects that follow the trace event in the same handler are lost
    crash_points: tuple[str, ...] = ()
    #: checkers (names in ``harness.checks``) that judge the servers, beside the
    #: workload's own: e.g. ZAB's trace invariants, replica convergence
    checkers: tuple[str, ...] = ()
    #: the workloads whose operations the system's clients serve (None: any)
    WORKLOADS: tuple[str, ...] | None = None
    #: type and range of each setting (``harness.schema``; empty: ``known_settings`` only)
    SETTINGS: Mapping[str, Setting] = NO_SETTINGS
    #: pairs (a, b) of settings or run options where a may not exceed b (``harness.schema``)
    AT_MOST: tuple[tuple[str, str], ...] = ()
    #: settings an explorative campaign may vary without changing what the system promises
    #: (``harness.swarm``): aid name -> the setting dicts to draw from
    testing_aids: Mapping[str, tuple[dict[str, Any], ...]] = MappingProxyType({})
    #: configurations the system supports with a *weaker* promise, which an explorative
    #: campaign may also draw (``harness.swarm``): name -> the setting dicts to draw from.
    #: A run in one is judged by that weaker promise: ``allowed_anomalies`` says which
    #: anomaly kinds the run's settings permit (e.g. Kafka's unclean leader election may
    #: lose acknowledged writes, but its replicas must still agree after healing)
    weakened_configurations: Mapping[str, tuple[dict[str, Any], ...]] = MappingProxyType({})
    #: bug switches accepted beside the catalogue's (``BugInfo``) ones: test systems
    bug_names: tuple[str, ...] = ()
    #: True for a system of real OS processes (``harness.live``): the runner then calls
    #: ``run_live(config, workdir)`` instead of simulating, and checks, stores and reports
    #: its output as a simulated run's
    live: bool = False
    #: a live system's checkers that need the simulator's trace of the servers, which a
    #: live run has not: reported "not applicable" (verdict unknown, not deciding the run)
    trace_checkers: tuple[str, ...] = ()

    def default_settings(self) -> dict[str, Any]:
        """The system's settings (plain values); ``--set`` overrides them per run."""
        return {}

    def known_settings(self) -> set[str]:
        """What ``--set`` may name (a typo is an error, not a setting silently ignored)."""
        return set(self.default_settings())

    def server_ids(self, nodes: int, settings: dict[str, Any]) -> list[str]:
        """The server ids of a run of ``nodes`` servers: ``n1..nN`` unless the system has
        servers of several kinds (Kafka: its ZooKeeper ensemble beside the brokers)."""
        return [f"n{i + 1}" for i in range(nodes)]

    def make_server(self, ctx: NodeContext) -> Node:
        raise NotImplementedError(f"system {self.name!r} builds no servers")

    def make_client(self, ctx: NodeContext) -> Node:
        raise NotImplementedError(f"system {self.name!r} builds no clients")

    def is_leader(self, server: Node) -> bool:
        """Whether ``server`` leads now (the nemesis's "leader" target); default never."""
        return False

    def reachable_behaviours(self) -> list[str]:
        """Coverage behaviours (``harness.coverage``) a campaign should be able to reach,
        listed on its page when never covered: by default each crash point, reached on a
        server (``event:n:crash=POINT``)."""
        return [f"event:n:crash={p}" for p in self.crash_points]

    def allowed_anomalies(self, settings: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """What a run's settings (``run_settings``) permit: checker name -> {anomaly kind:
        why it is allowed}. The harness reports those anomalies under ``allowed`` (shown,
        never counted, never silently dropped); every other kind still counts. Default:
        nothing is permitted."""
        return {}

    def fault_families(self) -> tuple[str, ...] | None:
        """The fault families (``harness.faults``) this system can take, which a campaign
        with ``--nemesis`` left out draws from (``harness.swarm``, ``harness.guided``).
        Default None: every registered family; a live system names what its runtime can
        apply (no crash points or power cuts on real processes)."""
        return None

    def check_config(self, config: Any) -> None:
        """Refuse a run config the system cannot take (raise ``ConfigError``, one line):
        a live system refuses missing software and fault families it cannot apply."""

    def run_live(self, config: Any, workdir: Path) -> Any:
        """A live system's run (``live = True``): the ``harness.runner.SimOutput`` of
        running ``config`` with its scratch files in ``workdir``."""
        raise NotImplementedError(f"system {self.name!r} does not run live")

    def annotate_results(self, out: Any, checks: dict[str, Any]) -> None:
        """A live system may add its own explanation to checker results (e.g. which
        server answered a stale read, and when it had been deposed); default nothing."""

    def converged(self, digests: dict[str, Any]) -> bool:
        """Whether the servers' ``state_digest()``s show a settled cluster after healing
        (the run waits for this, within a bound, before judging replicas). Default: all
        equal."""
        return len({json.dumps(d, sort_keys=True, default=str) for d in digests.values()}) <= 1


_REGISTRY: dict[str, Callable[[], SystemSpec]] = {}


def register_system(name: str, factory: type[SystemSpec]) -> None:
    """Add a system by hand (tests' toy systems); packages use the entry point."""
    _REGISTRY[name] = _checked(name, factory)


def _checked(name: str, factory: Any) -> type[SystemSpec]:
    if not (isinstance(factory, type) and issubclass(factory, SystemSpec)):
        raise plugins.PluginError(f"system {name!r}: {factory!r} is not a harness.system.SystemSpec subclass")
    return factory


def _builtin_dir(package: str, module: str) -> dict[str, str]:
    """``{name: "package.name.module"}`` for each ``package/<name>/<module>.py`` of this
    project, found without importing any of them."""
    spec = importlib.util.find_spec(package)
    out: dict[str, str] = {}
    for loc in (spec.submodule_search_locations or []) if spec else []:
        for d in sorted(Path(loc).iterdir()):
            if d.is_dir() and (d / f"{module}.py").is_file():
                out.setdefault(d.name, f"{package}.{d.name}.{module}")
    return out


def get_system(name: str) -> SystemSpec:
    """A fresh spec of the system ``name`` (KeyError if there is none)."""
    factory = _REGISTRY.get(name)
    if factory is None:
        builtin = _builtin_dir("systems", "spec")
        if name in builtin:
            factory = _checked(name, importlib.import_module(builtin[name]).SYSTEM)
        elif name in plugins.declared(plugins.SYSTEMS):
            factory = _checked(name, plugins.load(plugins.SYSTEMS, name))
        else:
            raise KeyError(f"unknown system {name!r} (known: {', '.join(system_names())})")
        _REGISTRY[name] = factory
    return factory()


def is_system(name: str) -> bool:
    """``name in system_names()``, without listing the installed plug-ins (a scan of every
    package's metadata) when the system is this project's or registered by hand."""
    if name in _REGISTRY or name in _builtin_dir("systems", "spec"):
        return True
    return name in plugins.declared(plugins.SYSTEMS)


def system_names() -> list[str]:
    return sorted(set(_REGISTRY) | set(_builtin_dir("systems", "spec")) | set(plugins.declared(plugins.SYSTEMS)))


def run_settings(config: Any) -> dict[str, Any]:
    """The settings a run's nodes see: the system's defaults, the run's ``--set``
    overrides, and the run options every node may need (``reads``, ``workload``)."""
    settings = dict(get_system(config.system).default_settings())
    settings.update(config.settings)
    settings["reads"] = config.reads  # the run option wins over the system default
    settings["workload"] = config.workload  # e.g. zab builds election candidates as clients
    return settings


def servers_for(config: Any) -> list[str]:
    """Server ids of a run (see ``SystemSpec.server_ids``)."""
    return list(get_system(config.system).server_ids(config.nodes, run_settings(config)))
