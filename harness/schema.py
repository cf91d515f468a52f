"""Declared settings: the type and range of every setting a system or a workload owns.

A system spec (``systems/*/spec.py``) and a workload class (``workloads/*.py``) each say
which settings they read with a ``SETTINGS`` table, ``{name: Setting}``; one without a
table owns none (``NO_SETTINGS``). ``harness.config.validate_settings`` applies both
tables to a run's settings, whichever way the config came in (flags, ``--set``, a run's
``config.json``, a campaign's), so a nonsense value is one ``ConfigError`` line before any
work starts, never a run that goes wrong and is judged a bug of the system under test.

Durations are integer nanoseconds, as in the systems' settings modules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

MS = 1_000_000

#: the declaration of an owner that declares nothing
NO_SETTINGS: Mapping[str, Setting] = MappingProxyType({})


@dataclass(frozen=True)
class Setting:
    """One setting's type (``int``, ``number``, ``bool``, ``choice``) and bounds."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[Any, ...] = ()
    #: None is a legal value (e.g. "derive it from another setting")
    nullable: bool = False
    #: ``ns``: the value is a duration in integer nanoseconds (the message says so)
    unit: str = ""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not a legal value of this setting, or None if it is."""
        if value is None and self.nullable:
            return None
        if self.kind == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind == "choice":
            return None if any(value == c and type(value) is type(c) for c in self.choices) else \
                "must be one of " + ", ".join(_show(c) for c in self.choices)
        want = "an integer" + (" (nanoseconds)" if self.unit == "ns" else "") if self.kind == "int" else "a number"
        ok_type = (int,) if self.kind == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_type) or \
                (isinstance(value, float) and not math.isfinite(value)):
            return f"must be {want}"
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            return f"must be {want} in [{_show(self.lo)}, {_show(self.hi)}]"
        return None


def _show(x: Any) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, str):
        return x
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def Int(lo: int, hi: int) -> Setting:
    return Setting("int", lo, hi)


def Number(lo: float, hi: float) -> Setting:
    return Setting("number", lo, hi)


def Bool() -> Setting:
    return Setting("bool")


def OneOf(*choices: Any) -> Setting:
    return Setting("choice", choices=tuple(choices))


def Duration(lo_ms: float, hi_ms: float, nullable: bool = False) -> Setting:
    """Integer nanoseconds between ``lo_ms`` and ``hi_ms`` milliseconds."""
    return Setting("int", int(lo_ms * MS), int(hi_ms * MS), nullable=nullable, unit="ns")


def declared(owner: Any) -> Mapping[str, Setting]:
    """The settings table of a system spec or a workload class (empty if it has none)."""
    return getattr(owner, "SETTINGS", NO_SETTINGS)


def declared_at_most(owner: Any) -> tuple[tuple[str, str], ...]:
    """Pairs ``(a, b)`` a system declares in ``AT_MOST``: the value of ``a`` must not exceed
    that of ``b`` (settings, or the run's ``nodes``, ``clients``, ``keys``)."""
    return tuple(getattr(owner, "AT_MOST", ()))


def declared_workloads(spec: Any) -> tuple[str, ...] | None:
    """The workloads a system spec says it serves (``WORKLOADS``), or None for any."""
    return getattr(spec, "WORKLOADS", None)
