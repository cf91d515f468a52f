"""Plug-ins installed beside the harness, found through Python entry points.

A package adds to the harness by declaring entry points in its ``pyproject.toml``; the
harness never has to be edited for it. The groups:

- ``harness.systems``: name -> a :class:`harness.system.SystemSpec` subclass
- ``harness.bugs``: any name -> an iterable of :class:`harness.system.BugInfo`
- ``harness.workloads``: name -> a :class:`workloads.Workload` subclass
- ``harness.checkers``: name -> a checker ``fn(out, settings) -> {result name: result}``

Entry points are listed without importing anything; a plug-in is imported only when a
run asks for it by name. Names are sorted so that what the harness lists never depends on
the order in which packages were installed.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

SYSTEMS = "harness.systems"
BUGS = "harness.bugs"
WORKLOADS = "harness.workloads"
CHECKERS = "harness.checkers"


class PluginError(ValueError):
    """A plug-in is declared but cannot be loaded (its import fails, or it is the wrong
    kind of object). One line, no traceback."""


def entry_points(group: str) -> Any:
    """``importlib.metadata.entry_points(group=group)``, imported at the first call: that
    module (with email, zipfile and csv under it) costs a start-up that asks for no
    plug-in by name about a twentieth of the standard run's time."""
    from importlib.metadata import entry_points as _entry_points

    return _entry_points(group=group)


@functools.cache
def declared(group: str) -> dict[str, EntryPoint]:
    """The entry points of ``group`` by name (the first by value when two packages
    declare one name)."""
    out: dict[str, EntryPoint] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
        out.setdefault(ep.name, ep)
    return out


def load(group: str, name: str) -> Any:
    """The object the entry point ``name`` of ``group`` names."""
    ep = declared(group)[name]
    try:
        return ep.load()
    except Exception as e:
        raise PluginError(f"plug-in {name!r} of {group} ({ep.value}) cannot be loaded: "
                          f"{type(e).__name__}: {e}") from None
