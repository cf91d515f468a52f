"""The catalogue of planted bugs: name, system, what it breaks, who must catch it.

Each system lists its bugs as ``BUGS`` (a tuple of :class:`BugInfo`) in its package; a
bug is a named switch (``--bug NAME``) read by the system's code through ``ctx.bugs``.
The correct code is the default; a bug never changes anything when it is off.
"""

from __future__ import annotations

from dataclasses import dataclass

from tabulate import tabulate


@dataclass(frozen=True, slots=True)
class BugInfo:
    name: str
    system: str
    breaks: str
    caught_by: str
    exposed_by: str = ""


def all_bugs() -> list[BugInfo]:
    import importlib

    out: list[BugInfo] = []
    for system in ("zab", "kafka"):
        try:
            out.extend(importlib.import_module(f"systems.{system}.bugs").BUGS)
        except ImportError:
            pass
    return out


def known_bug_names(system: str) -> set[str]:
    """Bug names a run of ``system`` accepts: the catalogue's, plus any the system's spec
    lists as ``bug_names`` (test systems)."""
    from harness.system import get_system

    names = {b.name for b in all_bugs() if b.system == system}
    names |= set(getattr(get_system(system), "bug_names", ()))
    return names


def print_bugs() -> int:
    bugs = all_bugs()
    if not bugs:
        print("no planted bugs are implemented yet")
        return 0
    print(tabulate([[b.name, b.system, b.breaks, b.caught_by] for b in bugs],
                   headers=["bug", "system", "what it breaks", "caught by"], tablefmt="simple"))
    return 0
