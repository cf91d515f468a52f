"""The nemesis at run time: applies a fault schedule to the simulator and logs it.

The schedule itself is data (``harness.faults``). Here each fault fires at its time,
``"leader"`` targets are resolved against the live cluster, and every action, with what
it resolved to and whether it changed anything, goes to the fault log (faults.jsonl).
A power cut armed at a crash point watches the trace (``sim.on_trace``): when its trigger
server reaches the point, the other victims crash at the same instant.
At the end of the main phase ``heal_all`` undoes everything: partitions healed, crashed
nodes restarted, paused nodes resumed, clocks reset, crash points disarmed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from harness.config import SECOND, ConfigError
from harness.faults import Fault, applier
from harness.node import Trace
from harness.rng import stream
from harness.sim import Simulator


class Nemesis:
    def __init__(self, sim: Simulator, schedule: list[Fault], seed: int):
        self.sim = sim
        self.schedule = schedule
        self.rng = stream(seed, "nemesis-runtime")
        self.log: list[dict[str, Any]] = []
        self._episode_target: dict[int, str] = {}
        self.strobe_gen: dict[str, int] = {}
        self.armed_points: dict[int, str] = {}  # crash-at episode -> armed point
        self.active_cut: tuple[Any, ...] = ()
        self._power_armed: dict[str, tuple[Fault, str]] = {}  # trigger node -> (power-off, point)
        self._power_victims: dict[int, list[str]] = {}  # episode -> servers it cut
        self._prev_on_trace: Callable[[str, Trace], None] | None = None

    def install(self) -> None:
        if any(f.kind == "power-off" and f.args[2] for f in self.schedule):
            self._prev_on_trace = self.sim.on_trace
            self.sim.on_trace = self._on_trace
        for f in self.schedule:
            self.sim.call_at(self.sim.start + f.at, partial(self.apply, f))

    def record(self, f: Fault | None, kind: str, **info: Any) -> None:
        """Append to the fault log (faults.jsonl)."""
        rec = {"time": self.sim.rel(), "kind": kind}
        if f is not None:
            rec["args"] = list(f.args)
            rec["episode"] = f.episode
        rec.update(info)
        self.log.append(rec)

    def resolve(self, f: Fault, name: str) -> str:
        """The node an episode targets: ``leader`` resolved when its first fault fires."""
        if f.episode in self._episode_target:
            return self._episode_target[f.episode]
        if name == "leader":
            leader = self.sim.leader()
            name = leader if leader is not None else self.rng.choice(self.sim.servers)
        self._episode_target[f.episode] = name
        return name

    def apply(self, f: Fault) -> None:
        """Apply one scheduled fault with its family's applier (harness.faults.FAMILIES)."""
        fn = applier(f.kind)
        if fn is None:
            raise ValueError(f"unknown fault kind {f.kind!r}")
        try:
            fn(self, f)
        except KeyError as e:
            # An explicit schedule (a config file, a shrink candidate) may name a node this
            # run does not have: bad input, said in one line, not a crash of the harness.
            name = e.args[0] if e.args else None
            if isinstance(name, str) and name not in self.sim.slots:
                raise ConfigError(f"schedule: the {f.kind} at {f.at / SECOND:g} s names {name}, which is "
                                  f"not a node of this run ({', '.join(sorted(self.sim.slots))})") from None
            raise

    # ------------------------------------------------------------------ power cuts
    def power_off(self, f: Fault) -> None:
        n, pool, trigger = f.args
        if not trigger:
            victims = self._power_cut(f, n, pool, None)
            self.record(f, "power-off", nodes=victims)
            return
        node, point = self.resolve(f, trigger[0]), trigger[1]
        slot = self.sim.slots[node]
        if slot.up:
            slot.crash_points.append(point)
            self._power_armed[node] = (f, point)
        self.record(f, "power-off", node=node, point=point, armed=slot.up)

    def _on_trace(self, nid: str, e: Trace) -> None:
        armed = self._power_armed.get(nid)
        if armed is not None and armed[1] == e.kind and e.kind in self.sim.slots[nid].crash_points:
            # the trigger reached its point: the simulator crashes it right after this
            # trace; every other victim goes down at the same instant
            del self._power_armed[nid]
            f = armed[0]
            victims = self._power_cut(f, f.args[0], f.args[1], nid)
            self.record(f, "power-cut", node=nid, point=e.kind, nodes=victims)
        if self._prev_on_trace is not None:
            self._prev_on_trace(nid, e)

    def _power_cut(self, f: Fault, n: int, pool: Sequence[str], trigger: str | None) -> list[str]:
        """Crash ``n`` servers now: the trigger (crashed by its crash point), the leader,
        then ``pool`` in order. Returns them, in that order."""
        sim = self.sim
        leader = sim.leader()
        victims: list[str] = []
        for s in [trigger, leader, *pool]:
            if s is not None and s not in victims and len(victims) < n:
                victims.append(s)
        for s in victims:
            if s != trigger:
                sim.crash(s, reason="power")
        self._power_victims[f.episode] = victims
        return victims

    def power_on(self, f: Fault) -> None:
        order, gaps = f.args
        victims = self._power_victims.pop(f.episode, None)
        if victims is None:  # the trigger never reached its point: disarm it
            for node, (g, point) in list(self._power_armed.items()):
                if g.episode == f.episode:
                    del self._power_armed[node]
                    if point in self.sim.slots[node].crash_points:
                        self.sim.slots[node].crash_points.remove(point)
            self.record(f, "power-on", nodes=[], changed=False)
            return
        seq = [victims[i] for i in order if i < len(victims)]
        self.record(f, "power-on", nodes=seq)
        t = self.sim.now
        for i, node in enumerate(seq):
            if i:
                t += int(gaps[i - 1]) if i - 1 < len(gaps) else 0
            self.sim.call_at(t, partial(self._restart, f, node))

    def _restart(self, f: Fault, node: str) -> None:
        self.record(f, "restart", node=node, changed=self.sim.restart(node))

    def strobe(self, node: str, delta: int, period: int, gen: int, high: bool) -> None:
        if self.strobe_gen.get(node) != gen:
            return
        self.sim.set_wall_offset(node, delta if high else 0)
        self.sim.call_at(self.sim.now + period, lambda: self.strobe(node, delta, period, gen, not high))

    def heal_all(self) -> None:
        """End of the main phase: undo every fault, as Jepsen's final heal does."""
        sim = self.sim
        sim.set_cut(())
        self.active_cut = ()
        self._power_armed.clear()
        for nid in sim.servers + sim.clients:  # clients: paused or skewed by pause/clock
            slot = sim.slots[nid]
            slot.crash_points.clear()
            self.strobe_gen[nid] = self.strobe_gen.get(nid, 0) + 1
            if slot.ppm:
                sim.set_clock_rate(nid, 0)
            if slot.wall_offset:
                sim.set_wall_offset(nid, 0)
            if slot.up and slot.paused:
                sim.resume(nid)
            if not slot.up:
                sim.restart(nid)
        self.record(None, "heal-all")
