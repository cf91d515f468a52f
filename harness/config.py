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

SECOND = 1_000_000_000
MILLI = 1_000_000

#: fault families the nemesis knows; see harness.nemesis
NEMESIS_KINDS = ("partition", "kill", "pause", "clock", "crash", "power", "slow")


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
    settings: dict = field(default_factory=dict)
    #: per-run nemesis knobs chosen by swarm testing (family -> weight/interval scale)
    swarm: dict = field(default_factory=dict)
    #: an explicit fault schedule (list of Fault.to_json()) replacing the generated one;
    #: set by the shrinker so that a shrunk run is reproduced from its config alone
    schedule: list | None = None

    def validate(self) -> "RunConfig":
        from harness.system import system_names

        if self.system not in system_names():
            raise ConfigError(f"unknown system {self.system!r} (known: {', '.join(system_names())})")
        from workloads import workload_names

        if self.workload not in workload_names():
            raise ConfigError(
                f"unknown workload {self.workload!r} (known: {', '.join(workload_names())})"
            )
        for n in self.nemesis:
            if n not in NEMESIS_KINDS:
                raise ConfigError(f"unknown fault {n!r} (known: {', '.join(NEMESIS_KINDS)}, or none)")
        if self.nodes not in (1, 3, 5, 7):
            raise ConfigError(f"--nodes must be 1, 3, 5 or 7, not {self.nodes}")
        if self.clients < 1:
            raise ConfigError(f"--clients must be at least 1, not {self.clients}")
        for name in ("rate", "time_limit", "recovery_time", "nemesis_interval", "op_timeout"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive finite number, not {v}")
        for fam, scale in self.swarm.items():
            if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale < 0:
                raise ConfigError(f"swarm scale of {fam!r} must be a non-negative number, not {scale!r}")
        if not self.rate > 0:
            raise ConfigError(f"--rate must be positive, not {self.rate}")
        if not self.time_limit > 0:
            raise ConfigError(f"--time-limit must be positive, not {self.time_limit}")
        if self.recovery_time <= 0:
            raise ConfigError(f"--recovery-time must be positive, not {self.recovery_time}")
        if self.reads not in ("sync", "local"):
            raise ConfigError(f"--reads must be sync or local, not {self.reads!r}")
        if self.keys < 1:
            raise ConfigError(f"--keys must be at least 1, not {self.keys}")
        if self.bugs:
            from harness.bugs import known_bug_names

            known = known_bug_names(self.system)
            unknown = [b for b in self.bugs if b not in known]
            if unknown:
                raise ConfigError(f"unknown bug {unknown[0]!r} for system {self.system} "
                                  f"(see `harness bugs`; known: {', '.join(sorted(known)) or 'none yet'})")
        if self.settings:
            from harness.system import get_system

            known_settings = getattr(get_system(self.system), "known_settings", None)
            known = set(known_settings()) if known_settings is not None else None
            unknown = sorted(k for k in self.settings if known is not None and k not in known)
            if unknown:
                raise ConfigError(f"unknown setting {unknown[0]!r} for system {self.system} "
                                  f"(known: {', '.join(sorted(known))})")
        if self.seed < 0:
            raise ConfigError(f"--seed must be non-negative, not {self.seed}")
        from harness.system import get_system

        check = getattr(get_system(self.system), "check_config", None)
        if check is not None:  # a system's own refusals (a live one: software, fault families)
            check(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["nemesis"] = list(self.nemesis)
        d["bugs"] = list(self.bugs)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown config fields: {', '.join(unknown)}")
        d = dict(d)
        for k in ("nemesis", "bugs"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)

    def replace(self, **changes: Any) -> "RunConfig":
        return dataclasses.replace(self, **changes)
