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
    out: list[BugInfo] = []
    try:
        from systems.zab.bugs import BUGS as zab_bugs

        out.extend(zab_bugs)
    except ImportError:
        pass
    return out


def print_bugs() -> int:
    bugs = all_bugs()
    if not bugs:
        print("no planted bugs are implemented yet")
        return 0
    print(tabulate([[b.name, b.system, b.breaks, b.caught_by] for b in bugs],
                   headers=["bug", "system", "what it breaks", "caught by"], tablefmt="simple"))
    return 0
