"""The catalogue of planted bugs: name, system, what it breaks, who must catch it.

Each built-in system lists its bugs as ``BUGS`` (a tuple of :class:`BugInfo`) in
``systems/<name>/bugs.py``; an installed package adds its own through a ``harness.bugs``
entry point naming such a tuple (see ``harness.plugins``). A bug is a named switch
(``--bug NAME``) read by the system's code through ``ctx.bugs``. The correct code is the
default; a bug never changes anything when it is off.
"""

from __future__ import annotations

import importlib
import shutil

from tabulate import tabulate

from harness import plugins
from harness.system import BugInfo, _builtin_dir, get_system

__all__ = ["BugInfo", "all_bugs", "known_bug_names", "print_bugs"]


def all_bugs() -> list[BugInfo]:
    """Built-in systems' bugs (by system name), then plug-ins' (by entry point name)."""
    out: list[BugInfo] = []
    for module in _builtin_dir("systems", "bugs").values():
        out.extend(importlib.import_module(module).BUGS)
    for name in plugins.declared(plugins.BUGS):
        bugs = list(plugins.load(plugins.BUGS, name))
        wrong = [b for b in bugs if not isinstance(b, BugInfo)]
        if wrong:
            raise plugins.PluginError(f"plug-in {name!r} of {plugins.BUGS}: {wrong[0]!r} is not a BugInfo")
        out.extend(bugs)
    return out


def known_bug_names(system: str) -> set[str]:
    """Bug names a run of ``system`` accepts: the catalogue's, plus any the system's spec
    lists as ``bug_names`` (test systems)."""
    names = {b.name for b in all_bugs() if b.system == system}
    names |= set(get_system(system).bug_names)
    return names


def print_bugs() -> int:
    bugs = all_bugs()
    if not bugs:
        print("no planted bugs are implemented yet")
        return 0
    # the two prose columns wrapped to share the terminal's width (at least 30 each), so a
    # row is a few readable lines instead of one line of 500 characters
    name_w = max(len(b.name) for b in bugs)
    system_w = max(len("system"), *(len(b.system) for b in bugs))
    prose = max(30, (shutil.get_terminal_size((160, 24)).columns - name_w - system_w - 6) // 2)
    print(tabulate([[b.name, b.system, b.breaks, b.caught_by] for b in bugs],
                   headers=["bug", "system", "what it breaks", "caught by"], tablefmt="simple",
                   maxcolwidths=[None, None, prose, prose]))
    return 0
