"""Faults as plain data, and the nemesis that turns a seed into a fault schedule.

A fault schedule is a list of :class:`Fault` values, sorted by time. Being data, it is
logged (faults.jsonl), replayed (repro) and shrunk (delta debugging over episodes). Each
family of faults draws from its own seeded stream, so switching one family on or off does
not move the faults of the others.

Families (``--nemesis``), each one :class:`FaultFamily` record at the end of this module
(how it is drawn, the fault-log kinds it opens and ends, the applier the nemesis runs for
each kind, its colour and words for the report); the generator, the nemesis, ``--nemesis``
validation, the shrinker and the report read that registry:

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

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from harness.sim import Simulator

from harness.rng import stream
from harness.units import MILLI, SECOND


@dataclass(frozen=True, slots=True)
class Fault:
    """One nemesis action at ``at`` ns after the run started.

    ``episode`` ties a fault's start to its end, so the shrinker removes them together.
    """

    at: int
    kind: str
    args: tuple[Any, ...] = ()
    episode: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "kind": self.kind, "args": list(self.args), "episode": self.episode}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Fault:
        return cls(int(d["at"]), str(d["kind"]), _tuplify(d.get("args", [])), int(d.get("episode", 0)))


def _tuplify(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_tuplify(v) for v in x)
    return x


PARTITION_MODES = ("halves", "majority-ring", "bridge", "isolate-one", "isolate-leader")


def partition_cut(mode: str, servers: Sequence[str], rng: random.Random) -> tuple[tuple[str, str], ...]:
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
        a, _bridge, b = s[:k], s[k], s[k + 1 :]
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
            x, y = sorted(s[:2])
            cut.add((x, y))
    else:
        raise ValueError(f"unknown partition mode {mode!r}")
    return tuple(sorted((min(x, y), max(x, y)) for x, y in cut))


def generate_schedule(
    seed: int,
    families: Iterable[str],
    servers: list[str],
    time_limit_ns: int,
    interval_s: float,
    crash_points: tuple[str, ...] = (),
    swarm: dict[str, Any] | None = None,
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
            start_f, end_f = family_spec(family).draw(rng, servers, crash_points, list(clients))
            if start_f is not None:
                faults.append(Fault(int(t), start_f[0], start_f[1], episode))
                faults.append(Fault(int(end), end_f[0], end_f[1], episode))
            t = end + rng.expovariate(1.0 / (0.4 * mean * SECOND)) + 200 * MILLI
    faults.sort(key=lambda f: (f.at, f.episode, f.kind))
    return faults




# ----------------------------------------------------------------------------- families
#
# One FaultFamily record per ``--nemesis`` name. Adding a family is one record (how it is
# drawn, the fault-log kinds it opens and ends, its colour and words for the report) plus
# its applier(s); the generator, the nemesis, the shrinker, --nemesis validation and the
# report's lanes all read the registry.

#: ``draw(rng, servers, crash_points, clients)``: one episode's (start, end), each a
#: (kind, args) pair. Every random choice comes from ``rng`` (the family's own stream), in
#: a fixed order: changing that order changes every schedule drawn from a seed.
Episode = tuple[tuple[str, tuple[Any, ...]], tuple[str, tuple[Any, ...]]]
Draw = Callable[[random.Random, list[str], Sequence[str], list[str]], Episode]
#: ``apply(nemesis, fault)``: do the fault to the running cluster and log it
#: (harness.nemesis.Nemesis: ``sim``, ``resolve``, ``record``...)
Apply = Callable[["NemesisOps", Fault], None]


class NemesisOps(Protocol):
    """What an applier uses of the nemesis running it (harness.nemesis.Nemesis)."""

    sim: Simulator
    rng: random.Random
    active_cut: tuple[Any, ...]
    armed_points: dict[int, str]
    strobe_gen: dict[str, int]

    def resolve(self, f: Fault, name: str) -> str: ...
    def record(self, f: Fault | None, kind: str, **info: Any) -> None: ...
    def strobe(self, node: str, delta: int, period: int, gen: int, high: bool) -> None: ...
    def power_off(self, f: Fault) -> None: ...
    def power_on(self, f: Fault) -> None: ...


#: a fault kind's arguments: (the shape in words, whether a fault's ``args`` have it)
Shape = tuple[str, Callable[[tuple[Any, ...]], bool]]


def shapes(*kinds: str) -> dict[str, Shape]:
    """The built-in shapes (``ARGUMENTS``) of ``kinds``: a family's ``arguments``."""
    return {k: ARGUMENTS[k] for k in kinds}


@dataclass(frozen=True)
class FaultFamily:
    """Everything about one fault family, in one place."""

    name: str
    #: fault-log kinds that open a fault of this family (the first is the usual one)
    opens: tuple[str, ...]
    #: the fault-log kind that ends an episode of this family (same episode)
    ends: str
    draw: Draw
    #: kind -> applier, for every kind this family puts in a schedule
    apply: Mapping[str, Apply]
    colour: str  # shading of its windows in the report (away from the ok/fail/info colours)
    description: str  # what it does, in a sentence, for the report
    #: other fault-log kinds it writes that neither open nor end a fault
    also_logs: tuple[str, ...] = ()
    #: for a kind opened by more than one family: whether this family's record is this one
    claims: Callable[[dict[str, Any]], bool] | None = field(default=None)
    #: kind -> (its arguments in words, a check of a fault's ``args``): what an explicit
    #: schedule (a config file, a shrunk run's schedule.json) is checked against before
    #: the run; a kind not listed is not checked
    arguments: Mapping[str, Shape] = field(default_factory=dict)


#: name -> family, in the report's lane order
FAMILIES: dict[str, FaultFamily] = {}
#: fault-log kinds of no family: the nemesis's final heal
BOOKKEEPING = frozenset({"heal-all"})


def register_family(fam: FaultFamily) -> FaultFamily:
    """Add a family (a test's, or a plug-in's). Kinds shared with another family must
    share its applier, so the nemesis has one applier per kind."""
    for kind, fn in fam.apply.items():
        for other in FAMILIES.values():
            if other.name != fam.name and kind in other.apply and other.apply[kind] is not fn:
                raise ValueError(f"fault kind {kind!r} of family {fam.name!r} has another applier "
                                 f"in family {other.name!r}")
    FAMILIES[fam.name] = fam
    return fam


def unregister_family(name: str) -> None:
    FAMILIES.pop(name, None)


def family_names() -> tuple[str, ...]:
    """The ``--nemesis`` names, in the order the report draws their lanes."""
    return tuple(FAMILIES)


def system_families(system: str) -> tuple[str, ...]:
    """The fault families ``system`` can take (``SystemSpec.fault_families``), in the
    registry's order: what a campaign that leaves ``--nemesis`` out draws from."""
    from harness.system import get_system

    can = get_system(system).fault_families()
    return tuple(f for f in family_names() if can is None or f in can)


def family_spec(name: str) -> FaultFamily:
    fam = FAMILIES.get(name)
    if fam is None:
        raise ValueError(f"unknown fault family {name!r}")
    return fam


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_names(x: Any) -> bool:
    return isinstance(x, tuple) and all(isinstance(n, str) for n in x)


def _is_ints(x: Any) -> bool:
    return isinstance(x, tuple) and all(_is_int(n) and n >= 0 for n in x)


#: the arguments of the built-in families' fault kinds, as their draws make them (each
#: family below declares its own kinds' shapes from this table: `FaultFamily.arguments`)
ARGUMENTS: dict[str, Shape] = {
    "partition": ("[mode, [[a, b], ...]]", lambda a: len(a) == 2 and a[0] in PARTITION_MODES and isinstance(
        a[1], tuple) and all(_is_names(p) and len(p) == 2 for p in a[1])),
    "heal": ("[]", lambda a: a == ()),
    "kill": ("[node]", lambda a: _is_names(a) and len(a) == 1),
    "restart": ("[node]", lambda a: _is_names(a) and len(a) == 1),
    "pause": ("[node]", lambda a: _is_names(a) and len(a) == 1),
    "resume": ("[node]", lambda a: _is_names(a) and len(a) == 1),
    "crash-at": ("[node, point]", lambda a: _is_names(a) and len(a) == 2),
    "clock-bump": ("[node, delta_ns]", lambda a: len(a) == 2 and isinstance(a[0], str) and _is_int(a[1])),
    "clock-skew": ("[node, ppm]", lambda a: len(a) == 2 and isinstance(a[0], str) and _is_int(a[1])
                   and a[1] > -1_000_000),
    "clock-strobe": ("[node, delta_ns, period_ns]", lambda a: len(a) == 3 and isinstance(a[0], str)
                     and _is_int(a[1]) and _is_int(a[2]) and a[2] > 0),
    "clock-reset": ("[node]", lambda a: _is_names(a) and len(a) == 1),
    "power-off": ("[n, [node, ...], [] or [node, point]]", lambda a: len(a) == 3 and _is_int(a[0]) and a[0] >= 0
                  and _is_names(a[1]) and _is_names(a[2]) and len(a[2]) in (0, 2)),
    "power-on": ("[[i, ...], [gap_ns, ...]]", lambda a: len(a) == 2 and _is_ints(a[0]) and _is_ints(a[1])),
}


def fault_problem(f: Fault) -> str | None:
    """Why ``f`` cannot be applied (an unknown kind, arguments of the wrong shape), or None.
    Node names are checked against the run when the fault fires (``harness.nemesis``)."""
    if applier(f.kind) is None:
        return f"unknown fault kind {f.kind!r}"
    shape = next((fam.arguments[f.kind] for fam in FAMILIES.values() if f.kind in fam.arguments), None)
    if shape is not None and not (isinstance(f.args, tuple) and shape[1](f.args)):
        return f"a {f.kind} takes {shape[0]}"
    return None


def applier(kind: str) -> Apply | None:
    """The function that applies a scheduled fault of ``kind``, or None."""
    for fam in FAMILIES.values():
        fn = fam.apply.get(kind)
        if fn is not None:
            return fn
    return None


def window_end() -> dict[str, str]:
    """Fault-log kind that opens a fault -> the kind that ends it (same episode)."""
    out: dict[str, str] = {}
    for fam in FAMILIES.values():
        for kind in fam.opens:
            out.setdefault(kind, fam.ends)
    return out


def not_opening() -> frozenset[str]:
    """Fault-log kinds that never open a fault: ends, what a family logs besides (a power
    cut firing moves its power-off's start), and the final heal."""
    kinds = set(BOOKKEEPING)
    for fam in FAMILIES.values():
        kinds.add(fam.ends)
        kinds.update(fam.also_logs)
    return frozenset(kinds)


def fault_family(rec: dict[str, Any]) -> str | None:
    """The family of a fault-log record (or a schedule entry) that opens a fault; None for
    one that does not (an end, the final heal); ``"other"`` for a kind no family opens."""
    kind = rec.get("kind")
    if not isinstance(kind, str) or kind in not_opening():
        return None
    owners = [fam for fam in FAMILIES.values() if kind in fam.opens]
    for fam in owners:  # a family that claims some records of a shared kind goes first
        if fam.claims is not None and fam.claims(rec):
            return fam.name
    for fam in owners:
        if fam.claims is None:
            return fam.name
    return "other"


# ----------------------------------------------------------------------------- drawing

def _target(rng: random.Random, pool: list[str]) -> str:
    return "leader" if rng.random() < 0.3 else rng.choice(pool)


def draw_partition(rng: random.Random, servers: list[str], crash_points: Sequence[str], clients: list[str]) -> Episode:
    mode = rng.choice(PARTITION_MODES)
    cut = partition_cut(mode, servers, rng)
    return ("partition", (mode, cut)), ("heal", ())


def draw_kill(rng: random.Random, servers: list[str], crash_points: Sequence[str], clients: list[str]) -> Episode:
    t = _target(rng, servers)
    return ("kill", (t,)), ("restart", (t,))


def draw_pause(rng: random.Random, servers: list[str], crash_points: Sequence[str], clients: list[str]) -> Episode:
    t = _target(rng, servers + (clients or []))
    return ("pause", (t,)), ("resume", (t,))


def draw_clock(rng: random.Random, servers: list[str], crash_points: Sequence[str], clients: list[str]) -> Episode:
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


def draw_crash(rng: random.Random, servers: list[str], crash_points: Sequence[str], clients: list[str]) -> Episode:
    if not crash_points:  # a system without crash points: a plain kill
        t = _target(rng, servers)
        return ("kill", (t,)), ("restart", (t,))
    t = _target(rng, servers)
    point = rng.choice(crash_points)
    return ("crash-at", (t, point)), ("restart", (t,))


def draw_power(rng: random.Random, servers: list[str], crash_points: Sequence[str], clients: list[str]) -> Episode:
    n = len(servers) if rng.random() < 0.5 else len(servers) // 2 + 1
    pool = list(servers)
    rng.shuffle(pool)
    trigger = (_target(rng, servers), rng.choice(crash_points)) if crash_points and rng.random() < 0.5 else ()
    order = list(range(n))
    rng.shuffle(order)
    gaps = tuple(int(rng.uniform(0.05, 1.5) * SECOND) for _ in range(n - 1))
    return ("power-off", (n, tuple(pool), trigger)), ("power-on", (tuple(order), gaps))


def draw_slow(rng: random.Random, servers: list[str], crash_points: Sequence[str], clients: list[str]) -> Episode:
    t = _target(rng, servers + (clients or []))
    ppm = -int(rng.uniform(500_000, 950_000))
    return ("clock-skew", (t, ppm)), ("clock-reset", (t,))


# ----------------------------------------------------------------------------- applying

def apply_partition(nem: NemesisOps, f: Fault) -> None:
    sim = nem.sim
    mode, cut = f.args[0], f.args[1]
    if mode == "isolate-leader":
        leader = sim.leader() or nem.rng.choice(sim.servers)
        cut = tuple(sorted(tuple(sorted((leader, o))) for o in sim.servers if o != leader))
    sim.set_cut(cut)
    nem.active_cut = tuple(cut)
    nem.record(f, f.kind, mode=mode, cut=[list(p) for p in cut])


def apply_heal(nem: NemesisOps, f: Fault) -> None:
    nem.sim.set_cut(())
    nem.active_cut = ()
    nem.record(f, f.kind)


def apply_kill(nem: NemesisOps, f: Fault) -> None:
    node = nem.resolve(f, f.args[0])
    nem.record(f, f.kind, node=node, changed=nem.sim.crash(node))


def apply_restart(nem: NemesisOps, f: Fault) -> None:
    sim = nem.sim
    node = nem.resolve(f, f.args[0])
    # The episode is over: a crash point it armed and that was never reached is
    # disarmed, so no crash happens outside the episode (the shrinker relies on it).
    point = nem.armed_points.pop(f.episode, None)
    if point is not None and point in sim.slots[node].crash_points:
        sim.slots[node].crash_points.remove(point)
    nem.record(f, f.kind, node=node, changed=sim.restart(node))


def apply_pause(nem: NemesisOps, f: Fault) -> None:
    node = nem.resolve(f, f.args[0])
    nem.record(f, f.kind, node=node, changed=nem.sim.pause(node))


def apply_resume(nem: NemesisOps, f: Fault) -> None:
    node = nem.resolve(f, f.args[0])
    nem.record(f, f.kind, node=node, changed=nem.sim.resume(node))


def apply_crash_at(nem: NemesisOps, f: Fault) -> None:
    node = nem.resolve(f, f.args[0])
    slot = nem.sim.slots[node]
    if slot.up:
        slot.crash_points.append(f.args[1])
        nem.armed_points[f.episode] = f.args[1]
    nem.record(f, f.kind, node=node, point=f.args[1], changed=slot.up)


def apply_clock_bump(nem: NemesisOps, f: Fault) -> None:
    node, delta = f.args
    nem.sim.set_wall_offset(node, nem.sim.slots[node].wall_offset + int(delta))
    nem.record(f, f.kind, node=node, delta_ns=int(delta))


def apply_clock_skew(nem: NemesisOps, f: Fault) -> None:
    node, ppm = nem.resolve(f, f.args[0]), f.args[1]
    nem.sim.set_clock_rate(node, int(ppm))
    nem.record(f, f.kind, node=node, ppm=int(ppm))


def apply_clock_strobe(nem: NemesisOps, f: Fault) -> None:
    node, delta, period = f.args
    gen = nem.strobe_gen.get(node, 0) + 1
    nem.strobe_gen[node] = gen
    nem.record(f, f.kind, node=node, delta_ns=int(delta), period_ns=int(period))
    nem.strobe(node, int(delta), int(period), gen, True)


def apply_clock_reset(nem: NemesisOps, f: Fault) -> None:
    node = nem.resolve(f, f.args[0])
    nem.strobe_gen[node] = nem.strobe_gen.get(node, 0) + 1
    nem.sim.set_clock_rate(node, 0)
    nem.sim.set_wall_offset(node, 0)
    nem.record(f, f.kind, node=node)


def apply_power_off(nem: NemesisOps, f: Fault) -> None:
    nem.power_off(f)


def apply_power_on(nem: NemesisOps, f: Fault) -> None:
    nem.power_on(f)


#: a clock-skew at or below this many ppm is the ``slow`` family's starved process (it
#: slows a clock to half speed or less; the ``clock`` family skews by at most 20%)
SLOW_PPM = -500_000


def _is_slow(rec: dict[str, Any]) -> bool:
    ppm = rec.get("ppm")
    if ppm is None:
        args = rec.get("args") or []
        ppm = args[1] if len(args) > 1 else None
    return isinstance(ppm, (int, float)) and ppm <= SLOW_PPM


# Lane order of the report: partition, kill, crash, power, pause, clock, slow.
register_family(FaultFamily(
    "partition", ("partition",), "heal", draw_partition,
    {"partition": apply_partition, "heal": apply_heal}, "#6baed6",
    "the network splits: halves, a majority ring, a bridge, one server or the leader isolated",
    arguments=shapes("partition", "heal")))
register_family(FaultFamily(
    "kill", ("kill",), "restart", draw_kill,
    {"kill": apply_kill, "restart": apply_restart}, "#9e9ac8",
    "a server (a random one or the leader) crashes, losing its unsynced writes, and restarts later",
    arguments=shapes("kill", "restart")))
register_family(FaultFamily(
    "crash", ("crash-at",), "restart", draw_crash,
    {"crash-at": apply_crash_at, "kill": apply_kill, "restart": apply_restart}, "#c994c7",
    "a server crashes at a named point of its code (a crash point), and restarts later",
    arguments=shapes("crash-at", "kill", "restart")))
register_family(FaultFamily(
    "power", ("power-off",), "power-on", draw_power,
    {"power-off": apply_power_off, "power-on": apply_power_on}, "#b07c4f",
    "a power cut: a majority or all of the servers, the leader among them, crash at one instant",
    also_logs=("power-cut",), arguments=shapes("power-off", "power-on")))
register_family(FaultFamily(
    "pause", ("pause",), "resume", draw_pause,
    {"pause": apply_pause, "resume": apply_resume}, "#a6a6a6",
    "a server (or a lease-holding client) is paused, SIGSTOP-like, and resumed later",
    arguments=shapes("pause", "resume")))
register_family(FaultFamily(
    "clock", ("clock-bump", "clock-skew", "clock-strobe"), "clock-reset", draw_clock,
    {"clock-bump": apply_clock_bump, "clock-skew": apply_clock_skew, "clock-strobe": apply_clock_strobe,
     "clock-reset": apply_clock_reset}, "#e6c34a",
    "a node's wall clock is bumped by up to 30 s, skewed by up to 20%, or strobed",
    arguments=shapes("clock-bump", "clock-skew", "clock-strobe", "clock-reset")))
register_family(FaultFamily(
    "slow", ("clock-skew",), "clock-reset", draw_slow,
    {"clock-skew": apply_clock_skew, "clock-reset": apply_clock_reset}, "#66c2a4",
    "a node's clock, so its timers, runs at 5-50% of true speed, as a starved process's would",
    claims=_is_slow, arguments=shapes("clock-skew", "clock-reset")))
