"""Faults as plain data, and the nemesis that turns a seed into a fault schedule.

A fault schedule is a list of :class:`Fault` values, sorted by time. Being data, it is
logged (faults.jsonl), replayed (repro) and shrunk (delta debugging over episodes). Each
family of faults draws from its own seeded stream, so switching one family on or off does
not move the faults of the others.

Families (``--nemesis``):

- ``partition``: random halves, a majority ring (each node sees a majority, no two the
  same), a bridge (two halves joined by one node), one node isolated, the current leader
  isolated. Ends with ``heal``. Clients are never cut off: like Jepsen's control node,
  they reach every server.
- ``kill``: crash a node (a random one or the current leader), losing its unsynced
  writes; ``restart`` it later.
- ``pause``: SIGSTOP-like pause of a node (or the leader); ``resume`` later.
- ``clock``: bump the wall clock of a node by up to ±30 s, skew its rate (which also
  moves its monotonic clock, so its timers), or strobe it; ``clock-reset`` later.
- ``crash``: arm a crash at a named point of a node's code (a trace kind the system lists
  in ``crash_points``, e.g. right after a follower logs NEWLEADER's txns); the node
  crashes there, then ``restart``.
- ``power``: a power cut. A majority of the servers, or all of them, crash at the same
  instant, each losing its unsynced writes; the current leader is always among them. The
  cut comes at a random time or (half the time, when the system lists crash points) when
  one server, a random one or the leader, reaches a crash point: then it catches that
  server between two of its writes. ``power-on`` brings them back one at a time in a
  random order, 0.05-1.5 s apart, so the first ones may elect a leader without the rest.
- ``slow``: the clock of a server (a random one or the leader), or of a client that holds
  a lease, runs at 5-50% of true speed (``clock-skew``), as a starved process's timers
  fire late: a deposed leader notices late that it lost its quorum; a master database's
  lease outlives its ZooKeeper session. ``clock-reset`` later.

``target`` values ``"leader"`` are resolved when the fault fires; the resolution is logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from harness.config import MILLI, SECOND
from harness.rng import stream


#: the family of each fault-log kind that opens a fault (a report's lanes, the perf
#: checker's periods). ``clock-skew`` is ``slow`` when it slows a clock to half speed or
#: less (the ``slow`` family's -50%..-95%; the ``clock`` family skews by at most 20%).
FAULT_FAMILY = {
    "partition": "partition",
    "kill": "kill",
    "crash-at": "crash",
    "pause": "pause",
    "clock-bump": "clock",
    "clock-skew": "clock",
    "clock-strobe": "clock",
    "power-off": "power",
}
#: fault-log kinds that never open a fault: ends, the final heal, a power cut firing (it
#: moves its power-off's start), and the nemesis's own bookkeeping
NOT_OPENING = frozenset({"heal", "restart", "resume", "clock-reset", "power-on", "power-cut", "heal-all"})
#: a clock-skew at or below this many ppm is the ``slow`` family's starved process
SLOW_PPM = -500_000


def fault_family(rec: dict) -> str | None:
    """The family of a fault-log record that opens a fault; None for one that does not
    (an end, the final heal); ``"other"`` for a kind this module has not heard of."""
    kind = rec.get("kind")
    if not isinstance(kind, str) or kind in NOT_OPENING:
        return None
    if kind == "clock-skew":
        ppm = rec.get("ppm")
        if ppm is None:
            args = rec.get("args") or []
            ppm = args[1] if len(args) > 1 else None
        if isinstance(ppm, (int, float)) and ppm <= SLOW_PPM:
            return "slow"
    return FAULT_FAMILY.get(kind, "other")


@dataclass(frozen=True, slots=True)
class Fault:
    """One nemesis action at ``at`` ns after the run started.

    ``episode`` ties a fault's start to its end, so the shrinker removes them together.
    """

    at: int
    kind: str
    args: tuple = ()
    episode: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "kind": self.kind, "args": list(self.args), "episode": self.episode}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Fault":
        return cls(int(d["at"]), str(d["kind"]), _tuplify(d.get("args", [])), int(d.get("episode", 0)))


def _tuplify(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_tuplify(v) for v in x)
    return x


PARTITION_MODES = ("halves", "majority-ring", "bridge", "isolate-one", "isolate-leader")


def partition_cut(mode: str, servers: list[str], rng) -> tuple[tuple[str, str], ...]:
    """The pairs of servers that cannot talk, for a partition ``mode``.

    ``isolate-leader`` is returned unresolved (empty): the simulator resolves it.
    """
    s = list(servers)
    n = len(s)
    cut: set[tuple[str, str]] = set()
    if n < 2 or mode == "isolate-leader":
        return ()
    if mode == "halves":
        rng.shuffle(s)
        k = n // 2
        a, b = s[:k], s[k:]
        cut = {(x, y) for x in a for y in b}
    elif mode == "isolate-one":
        x = rng.choice(s)
        cut = {(x, y) for y in s if y != x}
    elif mode == "bridge":
        rng.shuffle(s)
        k = n // 2
        a, bridge, b = s[:k], s[k], s[k + 1 :]
        cut = {(x, y) for x in a for y in b}
    elif mode == "majority-ring":
        # Each node sees itself and its nearest neighbours on a shuffled ring: with n=5,
        # every node sees 3 (a majority), and no two nodes see the same majority.
        rng.shuffle(s)
        reach = n // 2
        for i, x in enumerate(s):
            for j, y in enumerate(s):
                d = min((i - j) % n, (j - i) % n)
                if d > reach // 2 + (reach % 2) and x < y:
                    cut.add((x, y))
        if not cut:  # n == 3: a ring is complete; cut one edge so something happens
            cut.add(tuple(sorted(s[:2])))
    else:
        raise ValueError(f"unknown partition mode {mode!r}")
    return tuple(sorted(tuple(sorted(p)) for p in cut))


def generate_schedule(
    seed: int,
    families: Iterable[str],
    servers: list[str],
    time_limit_ns: int,
    interval_s: float,
    crash_points: tuple[str, ...] = (),
    swarm: dict | None = None,
    clients: list[str] | tuple[str, ...] = (),
) -> list[Fault]:
    """The fault schedule of one run: each family on its own timeline and random stream.

    ``clients`` are client nodes the ``pause``, ``clock`` and ``slow`` families may target besides
    the servers (workloads whose clients hold leases ask for it); empty, the draws and so
    the schedule are exactly those of servers alone.
    """
    faults: list[Fault] = []
    episode = 0
    swarm = swarm or {}
    for family in sorted(set(families)):
        rng = stream(seed, "nemesis", family)
        scale = float(swarm.get(family, 1.0))
        if scale <= 0:
            continue
        mean = interval_s / scale
        t = rng.uniform(0.3, 1.0) * mean * SECOND
        while t < time_limit_ns:
            dur = rng.uniform(0.3, 1.2) * mean * SECOND
            end = min(t + dur, time_limit_ns - 1)
            episode += 1
            start_f, end_f = _episode(family, rng, servers, crash_points, list(clients))
            if start_f is not None:
                faults.append(Fault(int(t), start_f[0], start_f[1], episode))
                faults.append(Fault(int(end), end_f[0], end_f[1], episode))
            t = end + rng.expovariate(1.0 / (0.4 * mean * SECOND)) + 200 * MILLI
    faults.sort(key=lambda f: (f.at, f.episode, f.kind))
    return faults


def _episode(family: str, rng, servers: list[str], crash_points: tuple[str, ...],
             clients: list[str] | None = None):
    def target(pool: list[str] = servers) -> str:
        return "leader" if rng.random() < 0.3 else rng.choice(pool)

    if family == "partition":
        mode = rng.choice(PARTITION_MODES)
        cut = partition_cut(mode, servers, rng)
        return ("partition", (mode, cut)), ("heal", ())
    if family == "kill":
        t = target()
        return ("kill", (t,)), ("restart", (t,))
    if family == "pause":
        t = target(servers + (clients or []))
        return ("pause", (t,)), ("resume", (t,))
    if family == "clock":
        node = rng.choice(servers + (clients or []))
        how = rng.choice(("bump", "skew", "strobe"))
        if how == "bump":
            delta = int(rng.choice((-1, 1)) * rng.uniform(0.1, 30.0) * SECOND)
            return ("clock-bump", (node, delta)), ("clock-reset", (node,))
        if how == "skew":
            ppm = int(rng.choice((-1, 1)) * rng.uniform(1_000, 200_000))
            return ("clock-skew", (node, ppm)), ("clock-reset", (node,))
        delta = int(rng.uniform(0.1, 10.0) * SECOND)
        period = int(rng.uniform(10, 500) * MILLI)
        return ("clock-strobe", (node, delta, period)), ("clock-reset", (node,))
    if family == "crash":
        if not crash_points:
            t = target()
            return ("kill", (t,)), ("restart", (t,))
        t = target()
        point = rng.choice(crash_points)
        return ("crash-at", (t, point)), ("restart", (t,))
    if family == "power":
        n = len(servers) if rng.random() < 0.5 else len(servers) // 2 + 1
        pool = list(servers)
        rng.shuffle(pool)
        trigger = (target(), rng.choice(crash_points)) if crash_points and rng.random() < 0.5 else ()
        order = list(range(n))
        rng.shuffle(order)
        gaps = tuple(int(rng.uniform(0.05, 1.5) * SECOND) for _ in range(n - 1))
        return ("power-off", (n, tuple(pool), trigger)), ("power-on", (tuple(order), gaps))
    if family == "slow":
        t = target(servers + (clients or []))
        ppm = -int(rng.uniform(500_000, 950_000))
        return ("clock-skew", (t, ppm)), ("clock-reset", (t,))
    raise ValueError(f"unknown fault family {family!r}")
