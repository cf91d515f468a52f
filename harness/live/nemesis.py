"""The live nemesis: applies a seeded fault schedule to real processes on the wall clock.

The schedule is the simulator's (``harness.faults.generate_schedule``, the same
:class:`~harness.faults.Fault` data from the same seed); only its application differs.
Each fault fires at its time (ns since the run started, on the monotonic clock) on a
thread of its own, against a :class:`LiveCluster`, which a live system implements (a
proxy mesh for a real ZooKeeper ensemble, the harness's router for Maelstrom programs).
The fault log has the simulator's record shape (``time``, ``kind``, ``args``,
``episode``, what a target resolved to, whether it changed anything), so the report
draws live fault windows as it draws simulated ones.

What a rerun repeats: the schedule (which faults, which targets, when). What it cannot:
the interleaving of the processes, hence which server is leader when a ``"leader"``
target resolves, and everything after.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Protocol

from harness.faults import Fault
from harness.rng import stream

#: fault families a live run can apply; the others (crash points, power loss of unsynced
#: writes) need the simulator's control of the code and the disk
LIVE_FAMILIES = ("partition", "kill", "pause", "clock", "slow")


class LiveCluster(Protocol):
    """What the live nemesis needs from a running system."""

    servers: list[str]

    def leader(self) -> str | None:
        """The server believed to lead now, or None when unknown."""
        ...

    def set_cut(self, cut: Iterable[tuple[str, str]]) -> None:
        """Block both directions of every pair in ``cut`` (and nothing else): close live
        connections across it and refuse new ones. An empty cut heals."""
        ...

    def kill(self, node: str) -> bool: ...

    def restart(self, node: str) -> bool: ...

    def pause(self, node: str) -> bool: ...

    def resume(self, node: str) -> bool: ...

    def set_clock(self, node: str, offset_ns: int, ppm: int) -> bool:
        """Set ``node``'s wall clock offset and rate (parts per million; 0 is true speed).
        Raise NotImplementedError when this cluster cannot move clocks."""
        ...


class LiveNemesis:
    """Applies ``schedule`` to ``cluster`` from a thread; ``log`` is the fault log."""

    def __init__(self, cluster: LiveCluster, schedule: list[Fault], seed: int, start: float | None = None):
        self.cluster = cluster
        self.schedule = sorted(schedule, key=lambda f: (f.at, f.episode, f.kind))
        self.rng = stream(seed, "nemesis-runtime")
        self.start = time.monotonic() if start is None else start
        self.log: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._episode_target: dict[int, str] = {}
        self._offset: dict[str, int] = {}
        self._ppm: dict[str, int] = {}
        self._strobe_gen: dict[str, int] = {}
        self._killed: set[str] = set()
        self._paused: set[str] = set()
        self._cut: tuple[tuple[str, str], ...] = ()
        self._events: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- time
    def rel(self) -> int:
        """ns since the run started"""
        return int((time.monotonic() - self.start) * 1e9)

    def _at(self, t: int, action: Callable[[], None]) -> None:
        with self._cv:
            heapq.heappush(self._events, (t, self._seq, action))
            self._seq += 1
            self._cv.notify()

    # ---------------------------------------------------------------- thread
    def begin(self) -> None:
        for f in self.schedule:
            self._at(f.at, partial(self.apply, f))
        self._thread = threading.Thread(target=self._loop, name="live-nemesis", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._stop:
                    if self._events:
                        wait = (self._events[0][0] - self.rel()) / 1e9
                        if wait <= 0:
                            break
                        self._cv.wait(wait)
                    else:
                        self._cv.wait()
                if self._stop:
                    return
                _, _, action = heapq.heappop(self._events)
            try:
                action()
            except Exception as e:  # noqa: BLE001 - a fault that could not be applied is logged, not fatal
                self.errors.append(f"{type(e).__name__}: {e}")
                self._log(None, "nemesis-error", error=f"{type(e).__name__}: {e}")

    def stop(self) -> None:
        """Stop applying faults (those not yet due are dropped); wait for the thread."""
        with self._cv:
            self._stop = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join()

    # ---------------------------------------------------------------- applying
    def _log(self, f: Fault | None, kind: str, **info: Any) -> None:
        rec: dict[str, Any] = {"time": self.rel(), "kind": kind}
        if f is not None:
            rec["args"] = list(f.args)
            rec["episode"] = f.episode
        rec.update(info)
        self.log.append(rec)

    def _target(self, f: Fault, name: str) -> str:
        if f.episode in self._episode_target:
            return self._episode_target[f.episode]
        if name == "leader":
            leader = self.cluster.leader()
            name = leader if leader is not None else self.rng.choice(self.cluster.servers)
        self._episode_target[f.episode] = name
        return name

    def apply(self, f: Fault) -> None:
        c = self.cluster
        k = f.kind
        if k == "partition":
            mode, cut = f.args[0], f.args[1]
            if mode == "isolate-leader":
                leader = c.leader() or self.rng.choice(c.servers)
                cut = tuple(sorted(tuple(sorted((leader, o))) for o in c.servers if o != leader))
            pairs = tuple((str(a), str(b)) for a, b in cut)
            c.set_cut(pairs)
            self._cut = pairs
            self._log(f, k, mode=mode, cut=[list(p) for p in pairs])
        elif k == "heal":
            c.set_cut(())
            self._cut = ()
            self._log(f, k)
        elif k == "kill":
            node = self._target(f, f.args[0])
            changed = node not in self._killed and c.kill(node)
            if changed:
                self._killed.add(node)
                self._paused.discard(node)
            self._log(f, k, node=node, changed=changed)
        elif k == "restart":
            node = self._target(f, f.args[0])
            changed = node in self._killed and c.restart(node)
            self._killed.discard(node)
            self._log(f, k, node=node, changed=changed)
        elif k == "pause":
            node = self._target(f, f.args[0])
            changed = node not in self._killed and node not in self._paused and c.pause(node)
            if changed:
                self._paused.add(node)
            self._log(f, k, node=node, changed=changed)
        elif k == "resume":
            node = self._target(f, f.args[0])
            changed = node in self._paused and c.resume(node)
            self._paused.discard(node)
            self._log(f, k, node=node, changed=changed)
        elif k == "clock-bump":
            node, delta = f.args
            self._offset[node] = self._offset.get(node, 0) + int(delta)
            self._log(f, k, node=node, delta_ns=int(delta), changed=self._set_clock(node))
        elif k == "clock-skew":
            node, ppm = self._target(f, f.args[0]), int(f.args[1])
            self._ppm[node] = ppm
            self._log(f, k, node=node, ppm=ppm, changed=self._set_clock(node))
        elif k == "clock-strobe":
            node, delta, period = f.args
            gen = self._strobe_gen.get(node, 0) + 1
            self._strobe_gen[node] = gen
            self._log(f, k, node=node, delta_ns=int(delta), period_ns=int(period))
            self._strobe(node, int(delta), int(period), gen, True)
        elif k == "clock-reset":
            node = self._target(f, f.args[0])
            self._strobe_gen[node] = self._strobe_gen.get(node, 0) + 1
            self._offset[node] = 0
            self._ppm[node] = 0
            self._log(f, k, node=node, changed=self._set_clock(node))
        else:
            raise ValueError(f"fault kind {k!r} cannot be applied to a live system")

    def _set_clock(self, node: str) -> bool:
        return self.cluster.set_clock(node, self._offset.get(node, 0), self._ppm.get(node, 0))

    def _strobe(self, node: str, delta: int, period: int, gen: int, high: bool) -> None:
        if self._strobe_gen.get(node) != gen:
            return
        self._offset[node] = delta if high else 0
        self._set_clock(node)
        self._at(self.rel() + period, lambda: self._strobe(node, delta, period, gen, not high))

    def heal_all(self) -> None:
        """End of the main phase: stop the schedule and undo every fault."""
        self.stop()
        c = self.cluster
        c.set_cut(())
        self._cut = ()
        for node in sorted(set(self._offset) | set(self._ppm)):
            self._strobe_gen[node] = self._strobe_gen.get(node, 0) + 1
            if self._offset.get(node) or self._ppm.get(node):
                self._offset[node] = 0
                self._ppm[node] = 0
                self._set_clock(node)
        for node in sorted(self._paused):
            c.resume(node)
        self._paused.clear()
        for node in sorted(self._killed):
            c.restart(node)
        self._killed.clear()
        self._log(None, "heal-all")


def refuse_unsupported(families: Iterable[str], supported: Iterable[str] = LIVE_FAMILIES) -> str | None:
    """The one-line refusal for fault families a live system cannot take, or None."""
    ok = tuple(supported)
    bad = [f for f in families if f not in ok]
    if not bad:
        return None
    return (f"fault famil{'y' if len(bad) == 1 else 'ies'} {', '.join(bad)} cannot be applied to a live "
            f"system (live runs take: {', '.join(ok)})")
