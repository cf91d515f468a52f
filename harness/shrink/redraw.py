"""Small re-draws of a schedule, for when the reduction passes are stuck above the goal:
schedules of at most ``goal`` faults built from the episodes of the failing one nearest
before the anomaly, each in numbered *variants* with the nodes each episode names renamed
(a permutation of the servers, and a ``"leader"`` target sometimes pinned to a server), a
run seed of its own and its faults' times moved a little.

Why: every smaller schedule ddmin, the subsets and the neighbours try keeps each fault's
target. A failure often needs its faults to hit particular roles (the leader of the
moment, a follower in the middle of its sync), and which node holds a role moves as soon
as a fault is removed; a fault that hit the right node in the failing run hits the wrong
one in the smaller schedule. (Measured: zab-vote-order-not-total stalled at 4 faults, a
kill of n1 and a partition that cost the leader n5 its quorum, then a power cut armed at
n5's ``newleader_received``; none of its 3-fault neighbours fails in 400 variants; the 2
faults "kill n5, power cut armed at n2's ``newleader_received``" do.) Renaming keeps an
episode's shape: its start and end name the same node, a partition's cut stays a cut of
the same kind, a power cut's victims stay as many.

The same variants of schedules that bring back an episode an earlier best run held
(`ancestor_faults`, `with_ancestors`): a pass may have removed what a smaller failure
needs, with others (the families pass drops a whole family at once). (Measured:
kafka-epoch-answer-unknown stalled at 4 faults, power cuts alone, no failing neighbour or
re-draw in 3,463 runs; a partition the families pass had removed and the last power cut
fail as they were, variant 0.)

Variant k of a sub-schedule is a pure function of (the best run's config, the goal, k),
and the episodes brought back of the best runs' configs in order, so the search is
deterministic: only how far a spent budget gets depends on timing.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from harness.config import RunConfig
from harness.rng import derive_seed
from harness.shrink.neighbours import variant
from harness.shrink.schedule import _starts

#: the sub-schedules draw on this many episodes: those that started last before the anomaly
REDRAW_EPISODES = 6
#: how often a ``"leader"`` target is pinned to a server in a renamed episode (the
#: nemesis draws a ``"leader"`` target this often)
PIN_LEADER = 0.3


def small_schedules(schedule: list[dict[str, Any]], onset_ns: int, goal: int,
                    fewer_than: int | None = None) -> list[list[dict[str, Any]]]:
    """The sub-schedules of at most ``goal`` faults (and fewer than ``fewer_than``, by
    default as many as ``schedule`` has) built from the ``REDRAW_EPISODES`` episodes of
    ``schedule`` that started last by ``onset_ns``: each episode whole, or its start alone
    (the final heal ends it). Most faults first (the closest to the failing run), then the
    latest episodes first; no duplicates."""
    if fewer_than is None:
        fewer_than = len(schedule)
    starts = _starts(schedule)
    eps = sorted((e for e, f in starts.items() if int(f["at"]) <= onset_ns), key=lambda e: (-int(starts[e]["at"]), e))
    eps = eps[:REDRAW_EPISODES]
    options: dict[int, list[list[dict[str, Any]]]] = {}
    for e in eps:
        whole = [f for f in schedule if f["episode"] == e]
        options[e] = [whole] + ([[starts[e]]] if len(whole) > 1 else [])
    out: list[tuple[int, int, list[dict[str, Any]]]] = []
    seen: set[str] = set()
    for r in range(1, min(goal, len(eps)) + 1):
        for combo in itertools.combinations(range(len(eps)), r):
            for parts in itertools.product(*(options[eps[i]] for i in combo)):
                s = sorted((f for p in parts for f in p), key=lambda f: (int(f["at"]), f["episode"]))
                if len(s) > goal or len(s) >= fewer_than:
                    continue
                key = repr(s)
                if key not in seen:
                    seen.add(key)
                    out.append((-len(s), len(out), s))
    return [s for _, _, s in sorted(out, key=lambda t: (t[0], t[1]))]


def rename(schedule: list[dict[str, Any]], servers: list[str], rng: random.Random) -> list[dict[str, Any]]:
    """``schedule`` with each episode's servers renamed by a permutation of its own, within
    each role (servers named alike: a ZooKeeper node stays one, a broker a broker), and its
    ``"leader"`` target, with probability ``PIN_LEADER``, pinned to a server; a partition's
    cut stays sorted as the nemesis writes it."""
    roles: dict[str, list[str]] = {}
    for s in servers:  # servers of one role are named alike: n1..n5; Kafka's b1..b5, z1..z3
        roles.setdefault(s.rstrip("0123456789"), []).append(s)
    maps: dict[int, dict[str, str]] = {}
    for e in sorted({int(f["episode"]) for f in schedule}):
        m: dict[str, str] = {}
        for group in roles.values():
            perm = list(group)
            rng.shuffle(perm)
            m.update(zip(group, perm))
        m["leader"] = rng.choice(servers) if rng.random() < PIN_LEADER else "leader"
        maps[e] = m
    return [{**f, "args": _renamed(f["args"], maps[int(f["episode"])])} for f in schedule]


def _renamed(x: Any, m: dict[str, str]) -> Any:
    if isinstance(x, str):
        return m.get(x, x)
    if isinstance(x, (list, tuple)):
        items = [_renamed(y, m) for y in x]
        if items and all(isinstance(p, list) and len(p) == 2 and all(isinstance(n, str) for n in p) for p in items):
            return sorted(sorted(p) for p in items)  # a cut: a sorted list of sorted node pairs
        return items
    return x


def redrawn(cfg: RunConfig, schedule: list[dict[str, Any]], servers: list[str], k: int) -> RunConfig:
    """Variant ``k`` of ``cfg`` with ``schedule``: 0 is the schedule as it is; any other
    has its episodes' nodes renamed (`rename`) and, as a neighbour's variant k
    (`harness.shrink.neighbours.variant`), a seed of its own and its faults moved a little."""
    if k == 0:
        return cfg.replace(schedule=schedule)
    rng = random.Random(derive_seed(cfg.seed, "shrink-redraw", k))
    return variant(cfg.replace(schedule=rename(schedule, servers, rng)), k)


def pinned(schedule: list[dict[str, Any]], faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``schedule`` with each episode's ``"leader"`` target pinned to the server it hit in
    the run whose fault log is ``faults`` (its first record naming a ``node``); episodes
    that did not resolve one (never fired) are left as they are.

    A ``"leader"`` target follows the role: once an earlier fault is removed, which server
    leads (in Kafka, which broker is the controller) moves, and the same fault then hits
    another server than the one the failure needed. Pinned, it hits the same one."""
    hit: dict[int, str] = {}
    for rec in faults:
        if "episode" in rec and isinstance(rec.get("node"), str):
            hit.setdefault(int(rec["episode"]), rec["node"])
    out = []
    for f in schedule:
        node = hit.get(int(f["episode"]))
        out.append({**f, "args": _renamed(f["args"], {"leader": node})} if node is not None else f)
    return out


def ancestor_faults(schedule: list[dict[str, Any]], ancestors: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The faults of the episodes that earlier best runs' schedules (``ancestors``, oldest
    first) held and ``schedule`` lacks: those an earlier pass removed (the families pass,
    ddmin...). Each episode as the latest ancestor holding it had it, moved by as much as
    the passes since moved the schedule: from each best to the one before it, by the median
    shift of the episode starts both hold (the window and shift passes move every kept fault
    alike). An episode moved to before the run's start is left out; time order."""
    have = {int(f["episode"]) for f in schedule}
    out: list[dict[str, Any]] = []
    later, offset = schedule, 0
    for anc in reversed(ancestors):
        starts, later_starts = _starts(anc), _starts(later)
        shifts = sorted(int(later_starts[e]["at"]) - int(f["at"]) for e, f in starts.items() if e in later_starts)
        if shifts:
            offset += shifts[len(shifts) // 2]
        for e in sorted(starts):
            if int(e) in have:
                continue
            have.add(int(e))
            if int(starts[e]["at"]) + offset > 0:
                out += [{**f, "at": int(f["at"]) + offset} for f in anc if f["episode"] == e]
        later = anc
    return sorted(out, key=lambda f: (int(f["at"]), int(f["episode"])))


def with_ancestors(schedule: list[dict[str, Any]], extra: list[dict[str, Any]], onset_ns: int,
                   goal: int) -> list[list[dict[str, Any]]]:
    """The schedules of at most ``goal`` faults (and fewer than ``schedule`` has) made of
    one episode of ``extra`` that started by ``onset_ns`` (whole, or its start alone) and
    a sub-schedule of ``schedule`` (none, or one of its `small_schedules` of at most
    ``goal - 1`` faults). Fewest faults first: an episode an earlier pass removed makes
    another run, not a small change of the failing one, so no candidate is the closest
    to it, and the first that fails is the smallest; then by the sub-schedule (none
    first, then `small_schedules`' order), then the latest episodes of ``extra`` first;
    no duplicates."""
    starts = _starts(extra)
    eps = sorted((e for e, f in starts.items() if int(f["at"]) <= onset_ns), key=lambda e: (-int(starts[e]["at"]), e))
    bases: list[list[dict[str, Any]]] = [[]] + small_schedules(schedule, onset_ns, goal - 1)
    out: list[list[dict[str, Any]]] = []
    seen: set[str] = set()
    for base in bases:
        for e in eps:
            whole = [f for f in extra if f["episode"] == e]
            for part in [whole] + ([[starts[e]]] if len(whole) > 1 else []):
                s = sorted(base + part, key=lambda f: (int(f["at"]), f["episode"]))
                key = repr(s)
                if len(s) <= goal and len(s) < len(schedule) and key not in seen:
                    seen.add(key)
                    out.append(s)
    return sorted(out, key=len)
