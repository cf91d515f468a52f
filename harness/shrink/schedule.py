"""A fault schedule seen as episodes, for the shrinking passes: which episodes it holds,
each episode's start and fault family, the schedule for a shorter main phase, and which
episodes did nothing in a run (by its fault log)."""

from __future__ import annotations

from typing import Any

from harness.config import SECOND
from harness.faults import fault_family


def episodes_of(schedule: list[dict[str, Any]]) -> list[int]:
    return sorted({int(f["episode"]) for f in schedule})


def _starts(schedule: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """episode -> its first fault (the start)."""
    out: dict[int, dict[str, Any]] = {}
    for f in sorted(schedule, key=lambda f: (f["at"], f["episode"])):
        out.setdefault(f["episode"], f)
    return out


def _family(start: dict[str, Any]) -> str:
    """The fault family of an episode's start (a schedule entry), by the registry."""
    return fault_family(start) or "other"


def trim_schedule(schedule: list[dict[str, Any]], time_limit: float) -> list[dict[str, Any]]:
    """The schedule for a shorter main phase: episodes starting after it dropped, and ends
    at or after it dropped too (the final heal at the end of the main phase ends them)."""
    limit = int(time_limit * SECOND)
    starts = _starts(schedule)
    return [f for f in schedule if starts[f["episode"]]["at"] < limit and f["at"] < limit]


def _names(args: Any) -> set[str]:
    """Every string in a fault's arguments, nested lists included (targets among them)."""
    if isinstance(args, str):
        return {args}
    if isinstance(args, (list, tuple)):
        return set().union(*(_names(a) for a in args))
    return set()


def without_nodes(schedule: list[dict[str, Any]], gone: set[str]) -> list[dict[str, Any]]:
    """The schedule without the episodes that name any node of ``gone`` (say the clients
    a candidate with fewer clients no longer has): a fault on a node a run lacks is not a
    smaller fault but no run at all."""
    if not gone:
        return schedule
    drop = {f["episode"] for f in schedule if _names(f.get("args")) & gone}
    return [f for f in schedule if f["episode"] not in drop]


def inert_episodes(faults: list[dict[str, Any]]) -> list[int]:
    """Episodes that did nothing in a run, by its fault log: a kill, pause or restart of a
    node already so, a crash point or power cut armed and never reached. Removing them
    should not change the run (a "leader" target drawn when there was none aside)."""
    effect: dict[int, bool] = {}
    for f in faults:
        if "episode" not in f:
            continue
        k = f["kind"]
        if k == "power-off":
            did = bool(f.get("nodes"))  # an armed trigger logs "node"; a cut logs "nodes"
        elif k in ("power-on", "crash-at"):
            did = False  # what they did shows as the restarts they log, or the power-cut
        elif "changed" in f:
            did = bool(f["changed"])
        else:
            did = True  # partitions, heals, clocks, power cuts
        effect[f["episode"]] = effect.get(f["episode"], False) or did
    return sorted(e for e, did in effect.items() if not did)


def _spans(schedule: list[dict[str, Any]]) -> dict[int, tuple[int, int | None]]:
    """episode -> (its start, its end: the time of its last fault, None if it has only a
    start and so lasts until the final heal)."""
    by: dict[int, list[int]] = {}
    for f in schedule:
        by.setdefault(int(f["episode"]), []).append(int(f["at"]))
    return {e: (min(ts), max(ts) if len(ts) > 1 else None) for e, ts in by.items()}


def window_episodes(schedule: list[dict[str, Any]], lo: int, hi: int) -> list[int]:
    """The episodes in force at some time of [lo, hi] ns: started by ``hi`` and not ended
    before ``lo``."""
    return sorted(e for e, (start, end) in _spans(schedule).items()
                  if start <= hi and (end is None or end >= lo))


def shifted(schedule: list[dict[str, Any]], episodes: list[int], to: int) -> tuple[list[dict[str, Any]], int]:
    """The schedule of ``episodes`` only, moved earlier so the first starts at ``to`` ns
    (not moved if it starts earlier already); (that schedule, the ns it moved by). A
    fault's arguments hold durations and targets, never times, so moving ``at`` is all."""
    keep = set(episodes)
    faults = [f for f in schedule if f["episode"] in keep]
    if not faults:
        return [], 0
    by = max(0, min(int(f["at"]) for f in faults) - to)
    return [{**f, "at": int(f["at"]) - by} for f in faults], by
