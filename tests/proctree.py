"""Processes under a pid, read from /proc by parentage (never by name): what tests use to
check that the harness leaves no process behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(pid: int) -> set[tuple[int, str]]:
    """(pid, start time) of every live descendant of ``pid``: the start time tells a
    process from a later one that reuses its pid."""
    out: set[tuple[int, str]] = set()
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                kids = Path(f"/proc/{p}/task/{t}/children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                st = stat(k)
                if st is not None and (k, st[19]) not in out:
                    out.add((k, st[19]))
                    stack.append(k)
    return out


def alive(pid: int, start: str | None = None) -> bool:
    """Whether ``pid`` runs (a zombie does not), and is the process that started at
    ``start`` when given."""
    st = stat(pid)
    return st is not None and st[0] not in ("Z", "X") and (start is None or st[19] == start)


def survivors(seen: set[tuple[int, str]], within: float = 10.0) -> list[int]:
    """The processes of ``seen`` still running ``within`` seconds from now, each then
    killed (so that a failing test leaves the machine clean): what a test asserts empty."""
    deadline = time.monotonic() + within
    while any(alive(*p) for p in seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p, s in seen if alive(p, s)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    return left
