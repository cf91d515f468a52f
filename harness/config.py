"""A run's configuration: everything that, with the seed and the code, decides the run.

``RunConfig`` is a frozen value; ``config.json`` in a run directory is its ``to_dict()``,
and ``harness repro`` rebuilds it with ``from_dict``. Validation raises ``ConfigError``
with a one-line message, which the CLI turns into exit code 254.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from harness.units import MILLI as MILLI, SECOND as SECOND  # re-exported: the run's time units


class ConfigError(ValueError):
    """Bad user input: unknown names, impossible numbers. One line, no traceback."""


@dataclass(frozen=True)
class RunConfig:
    system: str = "zab"
    workload: str = "register"
    nemesis: tuple[str, ...] = ("partition", "kill", "clock")
    nodes: int = 5
    clients: int = 10
    #: operations per simulated second, all clients together
    rate: float = 50.0
    #: seconds of main phase (faults on)
    time_limit: float = 60.0
    seed: int = 1
    reads: str = "sync"
    #: seconds after healing within which the cluster must serve final reads again
    recovery_time: float = 15.0
    #: mean seconds between the starts of two faults of one family
    nemesis_interval: float = 6.0
    keys: int = 3
    #: harness-side operation timeout (seconds); the client library usually answers first
    op_timeout: float = 10.0
    bugs: tuple[str, ...] = ()
    #: system settings overriding the system's defaults
    settings: dict[str, Any] = field(default_factory=dict)
    #: per-run nemesis knobs chosen by swarm testing (family -> weight/interval scale)
    swarm: dict[str, Any] = field(default_factory=dict)
    #: an explicit fault schedule (list of Fault.to_json()) replacing the generated one;
    #: set by the shrinker so that a shrunk run is reproduced from its config alone
    schedule: list[Any] | None = None

    def validate(self) -> RunConfig:
        """This config, if every field has its type and range and the system, workload,
        faults, bugs and settings are known and go together; else ConfigError."""
        validate_fields(self)
        from harness.system import is_system, system_names

        if not is_system(self.system):
            raise ConfigError(f"unknown system {self.system!r} (known: {', '.join(system_names())})")
        from workloads import is_workload, workload_names

        if not is_workload(self.workload):
            raise ConfigError(
                f"unknown workload {self.workload!r} (known: {', '.join(workload_names())})"
            )
        from harness.plugins import PluginError
        from harness.system import get_system
        from workloads import workload_class

        try:  # a plug-in that cannot be loaded is bad input, one line
            get_system(self.system)
            workload_class(self.workload)
        except PluginError as e:
            raise ConfigError(str(e)) from None
        from harness.faults import family_names  # the fault-family registry (imports this module)

        for n in self.nemesis:
            if n not in family_names():
                raise ConfigError(f"unknown fault {n!r} (known: {', '.join(family_names())}, or none)")
        for fam, scale in self.swarm.items():
            if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not math.isfinite(scale) \
                    or scale < 0:
                raise ConfigError(f"swarm scale of {fam!r} must be a non-negative number, not {scale!r}")
        if self.bugs:
            from harness.bugs import known_bug_names

            try:
                known = known_bug_names(self.system)
            except PluginError as e:
                raise ConfigError(str(e)) from None
            unknown = [b for b in self.bugs if b not in known]
            if unknown:
                raise ConfigError(f"unknown bug {unknown[0]!r} for system {self.system} "
                                  f"(see `harness bugs`; known: {', '.join(sorted(known)) or 'none yet'})")
        validate_settings(self.system, self.workload, self.settings)
        validate_relations(self)
        from harness.system import get_system

        get_system(self.system).check_config(self)  # a system's own refusals (a live one: software, families)
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["nemesis"] = list(self.nemesis)
        d["bugs"] = list(self.bugs)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown config fields: {', '.join(unknown)}")
        d = dict(d)
        for k in ("nemesis", "bugs"):
            if k in d:
                if not isinstance(d[k], list) or not all(isinstance(x, str) for x in d[k]):
                    raise ConfigError(f"config field {k} must be a list of names, not {_short(d[k])}")
                d[k] = tuple(d[k])
        return cls(**d)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


# ----------------------------------------------------------------------------- validation

#: bounds of the numeric fields: what one simulated run can serve (past them a run grows
#: without bound in memory or time before it says anything); (kind, low, high, strict low)
FIELD_BOUNDS: dict[str, tuple[str, float, float, bool]] = {
    "seed": ("int", 0, 2**64 - 1, False),
    "clients": ("int", 1, 1000, False),
    "keys": ("int", 1, 10_000, False),
    "rate": ("number", 0, 10_000, True),
    "time_limit": ("number", 0, 3600, True),
    "recovery_time": ("number", 0, 3600, True),
    "nemesis_interval": ("number", 0, 86_400, True),
    "op_timeout": ("number", 0, 3600, True),
}
NODES = (1, 3, 5, 7)
READS = ("sync", "local")


def _short(x: Any, limit: int = 60) -> str:
    try:
        text = repr(x)
    except RecursionError:
        text = f"<a {type(x).__name__} nested too deep>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def validate_fields(config: RunConfig) -> None:
    """Types and ranges of the config's own fields (not the system's settings)."""
    for name in ("system", "workload", "reads"):
        if not isinstance(getattr(config, name), str):
            raise ConfigError(f"{_flag(name)} must be a name, not {_short(getattr(config, name))}")
    for name in ("nemesis", "bugs"):
        v = getattr(config, name)
        if not isinstance(v, tuple) or not all(isinstance(x, str) for x in v):
            raise ConfigError(f"{name} must be a list of names, not {_short(v)}")
    if isinstance(config.nodes, bool) or config.nodes not in NODES or not isinstance(config.nodes, int):
        raise ConfigError(f"--nodes must be 1, 3, 5 or 7, not {_short(config.nodes)}")
    for name, (kind, lo, hi, strict) in FIELD_BOUNDS.items():
        v = getattr(config, name)
        types = (int,) if kind == "int" else (int, float)
        if isinstance(v, bool) or not isinstance(v, types) or (isinstance(v, float) and not math.isfinite(v)):
            want = "an integer" if kind == "int" else "a positive finite number"
            raise ConfigError(f"{_flag(name)} must be {want}, not {_short(v)}")
        if (v <= lo if strict else v < lo) or v > hi:
            what = f"a positive finite number at most {hi:g}" if strict else f"an integer from {lo} to {hi}"
            raise ConfigError(f"{_flag(name)} must be {what}, not {_short(v)}")
    if config.reads not in READS:
        raise ConfigError(f"--reads must be sync or local, not {config.reads!r}")
    if not isinstance(config.settings, dict) or not all(isinstance(k, str) for k in config.settings):
        raise ConfigError(f"settings must be an object of name: value, not {_short(config.settings)}")
    if not isinstance(config.swarm, dict):
        raise ConfigError(f"swarm must be an object of family: scale, not {_short(config.swarm)}")
    if config.schedule is not None and (not isinstance(config.schedule, list)
                                        or not all(isinstance(f, dict) for f in config.schedule)):
        raise ConfigError(f"schedule must be a list of faults, not {_short(config.schedule)}")
    if config.schedule is not None:
        from harness.faults import Fault, fault_problem

        limit = config.time_limit * SECOND
        for f in config.schedule:
            try:
                fault = Fault.from_json(f)
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
                raise ConfigError(f"schedule: bad fault {_short(f)}") from None
            why = fault_problem(fault)
            if why is not None:
                raise ConfigError(f"schedule: bad fault {_short(f)}: {why}")
            # the main phase ends with the final heal; what follows is the fault-free
            # recovery, so a fault there would go off in the middle of it
            if not 0 <= fault.at < limit:
                raise ConfigError(f"schedule: the {fault.kind} at {fault.at / SECOND:g} s is outside the main "
                                  f"phase (0 to --time-limit {config.time_limit:g} s)")


def validate_settings(system: str, workload: str, settings: dict[str, Any]) -> None:
    """Apply the settings tables of ``system`` and ``workload`` (``harness.schema``) to
    ``settings``, and check that the system serves the workload: the one check every way
    a config comes in goes through."""
    from harness.schema import declared, declared_workloads
    from harness.system import get_system
    from workloads import workload_class

    spec = get_system(system)
    serves = declared_workloads(spec)
    if serves is not None and workload not in serves:
        raise ConfigError(f"system {system} does not serve workload {workload} "
                          f"(it serves: {', '.join(serves)})")
    owned = {**declared(spec), **declared(workload_class(workload))}
    known_settings = getattr(spec, "known_settings", None)
    checked = bool(declared(spec)) or known_settings is not None
    for key in sorted(settings):
        rule = owned.get(key)
        if rule is None:
            if not checked:
                continue  # a system that declares nothing (a test's toy) takes anything
            if declared(spec) or known_settings is None or key not in known_settings():
                known = sorted(owned) if declared(spec) or known_settings is None \
                    else sorted({*owned, *known_settings()})
                raise ConfigError(_unknown_setting(key, system, workload, known))
            # no table (a plug-in may do without): the value must at least have the type
            # of the system's default, or the system's own code meets an 'abc' for a number
            why = _default_type_problem(spec.default_settings().get(key), settings[key])
            if why is not None:
                raise ConfigError(f"setting {key} {why} (the type of its default), not {_short(settings[key])}")
            continue
        why = rule.problem(settings[key])
        if why is not None:
            raise ConfigError(f"setting {key} {why}, not {_short(settings[key])}")


def _default_type_problem(default: Any, value: Any) -> str | None:
    """Why ``value`` does not have the type of ``default`` (a setting of a system with no
    ``SETTINGS`` table), or None: an integer, a number, true or false, a string; a default of
    another type (None, a list) says nothing about its values."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(default, (int, float)):
        integral = isinstance(default, int)
        ok = isinstance(value, int if integral else (int, float)) and not isinstance(value, bool) \
            and (not isinstance(value, float) or math.isfinite(value))
        return None if ok else "must be an integer" if integral else "must be a number"
    if isinstance(default, str):
        return None if isinstance(value, str) else "must be a string"
    return None


def _unknown_setting(key: str, system: str, workload: str, known: list[str]) -> str:
    from harness.schema import declared
    from workloads import WORKLOADS, workload_class

    owners = [w for w in WORKLOADS if w != workload and key in declared(workload_class(w))]
    if owners:
        return f"setting {key!r} belongs to workload {owners[0]}, not {workload}"
    return f"unknown setting {key!r} for system {system} and workload {workload} (known: {', '.join(known)})"


def validate_relations(config: RunConfig) -> None:
    """The ``AT_MOST`` pairs the system declares (``harness.schema``): e.g. a replication
    factor above the number of brokers is a run that cannot be served, not a bug found."""
    from harness.schema import declared_at_most
    from harness.system import get_system

    spec = get_system(config.system)
    pairs = declared_at_most(spec)
    if not pairs:
        return
    values = {**spec.default_settings(), **config.settings,
              "nodes": config.nodes, "clients": config.clients, "keys": config.keys}
    for a, b in pairs:
        va, vb = values.get(a), values.get(b)
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and va > vb:
            what = {"nodes": "--nodes", "clients": "--clients", "keys": "--keys"}
            raise ConfigError(f"{what.get(a, 'setting ' + a)} ({va}) must be at most "
                              f"{what.get(b, 'setting ' + b)} ({vb})")
