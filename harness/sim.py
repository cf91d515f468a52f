"""The deterministic simulator: virtual time, network, disks, clocks, crashes.

One thread, one queue of events ordered by ``(time, seq)``, integer nanoseconds. ``seq``
breaks ties in insertion order, so two runs of the same seed make the same choices in
the same order. Every random choice comes from a stream derived from the run seed
(``harness.rng``): one for the network, one for the disks, one per node incarnation.

What the simulator models, and why this way:

- **Network.** Each message gets a seeded latency. Delivery is FIFO per directed link
  (as TCP), so a later message never overtakes an earlier one on the same link; messages
  on different links interleave freely. A partition is a set of cut server pairs; a
  message is dropped if its link is cut when it is sent or when it would arrive.
  Clients are never cut off (they stand for Jepsen's control node).
- **Disk.** Each server has named files. A ``Persist`` completes after a seeded fsync
  delay, in issue order per file; only then is it durable and ``on_persisted`` called.
  A crash loses every write not yet completed, file by file.
- **Clocks.** Each node has a monotonic clock running at ``1 + ppm/1e6`` of true time
  from a large seeded offset, and a wall offset on top. Timers are on the monotonic
  clock; a rate change reschedules them. Bumps and strobes move only the wall offset.
- **Crash, pause.** A crash discards the node object and its pending writes; a restart
  builds a fresh object from what the disk kept. A paused node receives nothing and fires
  nothing; what arrived is handed to it, in order, when it resumes.
- **Crash points.** A node can be armed to crash right after it emits a ``Trace`` of a
  given kind; the effects after it in that handler are lost.
- **Storm budget.** A system whose message rate grows without bound (each message
  answered by several: an election whose votes cycle) would never let a run end. Every
  ``storm_events`` events the simulator looks at how much simulated time they took; less
  than ``storm_window_ns`` and it raises ``MessageStorm``, and the runner ends the run
  there and reports it (a liveness failure). The budget is far above what a working
  system does: the standard runs (50 operations a second) peak near 2,500 events in a
  simulated second and 800 in a tenth of one; the default budget is 20,000 events in a
  tenth of a second (200,000 a second; the runner scales it up with the client rate). It
  counts events and simulated time only, so it stops a given run at the same event every
  time.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Callable, Iterable
from heapq import heappush
from math import floor as _floor, log as _log
from typing import Any

from harness.node import (
    CancelTimer,
    ClientRequest,
    ClientResponse,
    Node,
    Persist,
    Reply,
    Send,
    SetTimer,
    Trace,
)
from harness.rng import stream
from harness.system import NodeContext, SystemSpec

# event kinds (_REQUEST: a client request stashed while its node was paused)
_DELIVER, _TIMER, _PERSISTED, _CALL, _REQUEST = 0, 1, 2, 3, 4

# The event queue is a heap of int keys ``time << _SEQ_BITS | seq`` beside a dict of the
# events by key, ``key -> (time, kind, a, b, c, d)``: the keys order as (time, seq) did,
# and the heap compares ints, not tuples (a tuple compare tests its first items for
# equality before ordering them; the heap's compares were a tenth of a run's work).
_SEQ_BITS = 40
_SEQ_MASK = (1 << _SEQ_BITS) - 1

PPM = 1_000_000

#: the storm budget: at most STORM_EVENTS events in STORM_WINDOW_NS of simulated time
STORM_EVENTS = 20_000
STORM_WINDOW_NS = 100_000_000


class MessageStorm(Exception):
    """The run exceeded the storm budget: ``info`` says when, how fast and with what."""

    def __init__(self, info: dict[str, Any]):
        super().__init__(info["explanation"])
        self.info = info


class NodeSlot:
    """The simulator's bookkeeping for one node id across its incarnations."""

    __slots__ = (
        "node_id", "is_server", "node", "up", "paused", "incarnation", "stash",
        "m0", "tb", "skew", "ppm", "wall_offset", "timers", "timer_gen", "files", "pending",
        "last_done", "crash_points", "announced_wall", "cut", "link_last",
    )

    def __init__(self, node_id: str, is_server: bool, mono_start: int, files: tuple[str, ...]):
        self.node_id = node_id
        self.is_server = is_server
        self.node: Node | None = None
        self.up = False
        self.paused = False
        self.incarnation = 0
        self.stash: list[tuple[Any, ...]] = []
        # clock: mono(t) = m0 + (t - tb) * (PPM + ppm) // PPM
        self.m0 = mono_start
        self.tb = 0
        self.skew = mono_start  # m0 - tb: at the true rate (ppm 0), mono(t) = t + skew
        self.ppm = 0
        self.wall_offset = 0
        self.timers: dict[str, tuple[int, int]] = {}  # name -> (gen, at_mono)
        self.timer_gen = 0
        self.files: dict[str, list[Any]] = {f: [] for f in files}
        self.pending: dict[str, deque[Any]] = {f: deque() for f in files}
        self.last_done: dict[str, int] = {f: 0 for f in files}
        self.crash_points: list[str] = []
        self.announced_wall = 0  # the wall offset the running node was last told
        # The network, kept per node and keyed by the peer's id (a str hashes once; a
        # (src, dst) pair hashes on every look-up): the peers whose link to this node is
        # cut (the partition, both directions), and the arrival time of the last message
        # on each link into this node (FIFO per link).
        self.cut: set[str] = set()
        self.link_last: dict[str, int] = {}

    def mono(self, t: int) -> int:
        if self.ppm == 0:
            return t + self.skew
        return self.m0 + (t - self.tb) * (PPM + self.ppm) // PPM

    def true_time_of(self, at_mono: int, now: int) -> int:
        m = self.mono(now)
        if at_mono <= m:
            return now
        d = at_mono - self.m0
        if self.ppm == 0:
            return max(now, self.tb + d)
        return max(now, self.tb + -(-d * PPM // (PPM + self.ppm)))


class Simulator:
    """Drives server and client nodes of one system through one run."""

    def __init__(
        self,
        spec: SystemSpec,
        seed: int,
        servers: list[str],
        clients: list[str],
        settings: dict[str, Any],
        bugs: frozenset[str] = frozenset(),
        latency_mean_ns: int = 1_500_000,
        fsync_range_ns: tuple[int, int] = (1_000_000, 8_000_000),
        services: list[str] | tuple[str, ...] = (),
        storm_events: int = STORM_EVENTS,
        storm_window_ns: int = STORM_WINDOW_NS,
    ):
        self.spec = spec
        self.seed = seed
        self.settings = settings
        self.bugs = bugs
        self.servers = list(servers)
        self.clients = list(clients)
        # Nodes built like clients (make_client) that no worker drives and no fault hits,
        # e.g. the election workload's storage service.
        self.services = list(services)
        boot = stream(seed, "boot")
        # A large seeded start: code that mixes in the real clock fails loudly.
        self.start = 10**15 + boot.randrange(10**15)
        self.now = self.start
        self._heap: list[int] = []  # event keys (see _SEQ_BITS)
        self._events: dict[int, tuple[Any, ...]] = {}  # key -> (time, kind, a, b, c, d)
        self._seq = 0
        self.net_rng = stream(seed, "network")
        self._net_random = self.net_rng.random
        self.disk_rng = stream(seed, "disk")
        self._disk_bits = self.disk_rng.getrandbits
        self.latency_mean_ns = latency_mean_ns
        self._lambd = 1.0 / latency_mean_ns  # the rate of the exponential latency
        self.fsync_range_ns = fsync_range_ns
        # the cut links (both directions), as set_cut made them; each slot's ``cut`` holds
        # its part, which the message path reads
        self.blocked: set[tuple[str, str]] = set()
        self.slots: dict[str, NodeSlot] = {}
        for nid in self.servers:
            self.slots[nid] = NodeSlot(nid, True, self.start + boot.randrange(10**12), spec.files)
        for nid in self.clients + self.services:
            self.slots[nid] = NodeSlot(nid, False, self.start + boot.randrange(10**12), ())
        self.trace: list[dict[str, Any]] = []
        self.on_reply: Callable[[str, ClientResponse], None] = lambda c, r: None
        self.on_trace: Callable[[str, Trace], None] | None = None
        self.events = 0
        self.messages_sent = 0
        self.messages_dropped = 0
        # storm budget (0 events: off): the event count of the next look, and the simulated
        # time and messages sent at the last one
        self.storm_events = storm_events
        self.storm_window_ns = storm_window_ns
        self._storm_next = storm_events if storm_events > 0 else -1
        self._storm_mark = (self.now, 0)

    # ------------------------------------------------------------------ scheduling

    def _push(self, t: int, kind: int, a: Any = None, b: Any = None, c: Any = None, d: Any = None) -> None:
        self._seq = seq = self._seq + 1
        key = t << _SEQ_BITS | seq
        self._events[key] = (t, kind, a, b, c, d)
        heappush(self._heap, key)

    def call_at(self, t: int, fn: Callable[[], None]) -> None:
        """Run ``fn()`` at true time ``t`` (harness-side events: workload, nemesis)."""
        if t < self.now:
            t = self.now
        self._seq = seq = self._seq + 1
        key = t << _SEQ_BITS | seq
        self._events[key] = (t, _CALL, fn, None, None, None)
        heappush(self._heap, key)

    def pending(self) -> list[tuple[Any, ...]]:
        """The queued events in the order they will run: ``(time, seq, kind, a, b, c, d)``."""
        return [(ev[0], key & _SEQ_MASK, *ev[1:]) for key, ev in sorted(self._events.items())]

    def rel(self, t: int | None = None) -> int:
        """True time relative to the run start (what histories and traces record)."""
        return (self.now if t is None else t) - self.start

    def run_until(self, t_end: int) -> None:
        # The hot loop of every run: locals for what it touches per event, the clock and
        # the message path written out inline (see _apply). Same events in the same order
        # as the plain version; only the Python calls per event are fewer. A node event
        # carries its NodeSlot (not the node id) and a delivery its sender's id, so
        # nothing is looked up or built again here.
        heap = self._heap
        pop = heapq.heappop
        take = self._events.pop
        apply = self._apply
        events = self.events
        storm_next = self._storm_next
        end_key = t_end << _SEQ_BITS | _SEQ_MASK  # the last key at t_end
        try:
            while heap and heap[0] <= end_key:
                t, kind, slot, b, c, d = take(pop(heap))
                self.now = t
                events += 1
                if events == storm_next:
                    self.events = events
                    self._storm_check()
                    storm_next = self._storm_next
                if kind == _CALL:
                    self.events = events
                    slot()
                    continue
                if not slot.up or slot.incarnation != b:
                    if kind == _DELIVER:
                        self.messages_dropped += 1
                    continue
                node = slot.node
                if kind == _DELIVER:
                    if c in slot.cut:
                        self.messages_dropped += 1
                        continue
                    if slot.paused:
                        slot.stash.append((kind, c, d))
                        continue
                    ppm = slot.ppm
                    effects = node.on_message(
                        c, d, t + slot.skew if not ppm else slot.m0 + (t - slot.tb) * (PPM + ppm) // PPM)
                    if effects:
                        apply(slot, effects)
                elif kind == _TIMER:
                    timers = slot.timers
                    cur = timers.get(c)
                    if cur is None or cur[0] != d:
                        continue
                    if slot.paused:
                        slot.stash.append((kind, c, d))
                        continue
                    del timers[c]
                    ppm = slot.ppm
                    effects = node.on_timer(
                        c, t + slot.skew if not ppm else slot.m0 + (t - slot.tb) * (PPM + ppm) // PPM)
                    if effects:
                        apply(slot, effects)
                elif kind == _PERSISTED:
                    token = self._complete_write(slot, c)
                    if token is not None:
                        if slot.paused:
                            slot.stash.append((kind, token, None))
                            continue
                        ppm = slot.ppm
                        apply(slot, node.on_persisted(
                            token,
                            t + slot.skew if not ppm else slot.m0 + (t - slot.tb) * (PPM + ppm) // PPM))
        finally:
            self.events = events
        if self.now < t_end:
            self.now = t_end

    def _storm_check(self) -> None:
        t0, sent0 = self._storm_mark
        span = self.now - t0
        if span < self.storm_window_ns:
            raise MessageStorm(self._storm_info(span, self.messages_sent - sent0))
        self._storm_mark = (self.now, self.messages_sent)
        self._storm_next += self.storm_events

    def _storm_info(self, span: int, sent: int) -> dict[str, Any]:
        """What the run looked like when the storm budget ran out: the messages in
        flight by type (and by sender), for the explanation."""
        kinds: Counter[str] = Counter()
        senders: Counter[str] = Counter()
        for ev in self._events.values():
            if ev[1] == _DELIVER:
                src, msg = ev[4], ev[5]
                kinds[type(msg).__name__] += 1
                senders[src] += 1
        in_flight = sum(kinds.values())
        top = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
        at = self.now - self.start
        explanation = (
            f"message storm: {self.storm_events} events ({sent} messages sent) in "
            f"{span / 1e9:.3f} simulated s, at {at / 1e9:.3f} s; {in_flight} messages in flight "
            f"({top or 'none'}). The message rate grew past the simulator's budget "
            f"({self.storm_events} events in {self.storm_window_ns / 1e9:g} s), so the run was "
            f"stopped there: a system whose messages multiply without bound makes no progress"
        )
        return {
            "explanation": explanation,
            "at_ns": at,
            "events": self.storm_events,
            "span_ns": span,
            "messages_sent": sent,
            "in_flight": in_flight,
            "in_flight_by_type": dict(sorted(kinds.items())),
            "in_flight_by_sender": dict(sorted(senders.items())),
        }

    # ------------------------------------------------------------------- effects

    def _apply(self, slot: NodeSlot, effects: list[Any]) -> None:
        if not effects:
            return
        nid = slot.node_id
        for e in effects:
            te = type(e)
            if te is Send:
                # _send written out: most effects are sends (same draws, same order)
                self.messages_sent += 1
                dst = e.dst
                if dst in slot.cut:  # (a cut is symmetric: the link nid -> dst is cut)
                    self.messages_dropped += 1
                    continue
                dslot = self.slots.get(dst)
                if dslot is None:
                    raise KeyError(f"{nid} sent to unknown node {dst!r}")
                # random.expovariate(1 / mean), inline: the same float, one call fewer
                # (and floor, not int(): the same for a float >= 0, a cheaper call)
                t = self.now + 300_000 + _floor(-_log(1.0 - self._net_random()) / self._lambd)
                link_last = dslot.link_last
                last = link_last.get(nid, 0)
                if t <= last:
                    t = last + 1
                link_last[nid] = t
                if not dslot.up:
                    self.messages_dropped += 1
                    continue
                self._seq = seq = self._seq + 1
                key = t << _SEQ_BITS | seq
                self._events[key] = (t, _DELIVER, dslot, dslot.incarnation, nid, e.msg)
                heappush(self._heap, key)
            elif te is SetTimer:
                slot.timer_gen = gen = slot.timer_gen + 1
                name = e.name
                at = e.at
                if type(at) is not int:  # (the event key below needs it; say so, not "<<")
                    raise TypeError(f"{nid} set timer {name!r} at {at!r}: a time must be int nanoseconds "
                                    f"of the node's monotonic clock")
                slot.timers[name] = (gen, at)
                now = self.now
                if slot.ppm:
                    due = slot.true_time_of(at, now)
                else:  # true_time_of at the true rate, inline
                    due = at - slot.skew
                    if due < now:
                        due = now
                self._seq = seq = self._seq + 1
                key = due << _SEQ_BITS | seq
                self._events[key] = (due, _TIMER, slot, slot.incarnation, name, gen)
                heappush(self._heap, key)
            elif te is Trace:
                rec = {"time": self.now - self.start, "node": nid, "kind": e.kind}
                rec.update(e.fields)
                self.trace.append(rec)
                if self.on_trace is not None:
                    self.on_trace(nid, e)
                if slot.crash_points and e.kind in slot.crash_points:
                    slot.crash_points.remove(e.kind)
                    self.crash(nid, reason=f"crash point {e.kind}")
                    return
            elif te is CancelTimer:
                slot.timers.pop(e.name, None)
            elif te is Persist:
                self._persist(slot, e)
            elif te is Reply:
                self.on_reply(nid, e.response)
            else:
                raise TypeError(f"{nid} returned a non-effect {e!r}")

    def _send(self, src: str, dst: str, msg: Any) -> None:
        self.messages_sent += 1
        if (src, dst) in self.blocked:
            self.messages_dropped += 1
            return
        slot = self.slots.get(dst)
        if slot is None:
            raise KeyError(f"{src} sent to unknown node {dst!r}")
        lat = 300_000 + _floor(-_log(1.0 - self._net_random()) / self._lambd)
        t = self.now + lat
        last = slot.link_last.get(src, 0)
        if t <= last:
            t = last + 1
        slot.link_last[src] = t
        # Bound to the receiver's current incarnation, as a TCP connection is: a message
        # in flight when its receiver crashes never reaches the restarted node.
        if not slot.up:
            self.messages_dropped += 1
            return
        self._push(t, _DELIVER, slot, slot.incarnation, src, msg)

    def _persist(self, slot: NodeSlot, p: Persist) -> None:
        if p.file not in slot.files:  # files come into being on their first write
            slot.files[p.file] = []
            slot.pending[p.file] = deque()
            slot.last_done[p.file] = 0
        lo, hi = self.fsync_range_ns
        width = hi - lo
        if width > 0:
            # random.randrange(lo, hi), inline: lo + a draw below width by getrandbits,
            # rejecting draws past it, as Random._randbelow does (the same draws)
            k = width.bit_length()
            r = self._disk_bits(k)
            while r >= width:
                r = self._disk_bits(k)
            done = self.now + lo + r
        else:
            done = self.now + self.disk_rng.randrange(lo, hi)  # (raises, as before)
        last = slot.last_done[p.file]
        if done <= last:
            done = last + 1
        slot.last_done[p.file] = done
        slot.pending[p.file].append(p)
        self._push(done, _PERSISTED, slot, slot.incarnation, p.file)

    def _complete_write(self, slot: NodeSlot, file: str) -> Any:
        p: Persist = slot.pending[file].popleft()
        recs = slot.files[file]
        if p.mode == "append":
            recs.extend(p.records)
        elif p.mode == "replace":
            slot.files[file] = list(p.records)
        else:
            del recs[p.keep :]
        return p.token

    # ------------------------------------------------------------- node lifecycle

    def boot(self, nid: str) -> None:
        slot = self.slots[nid]
        slot.incarnation += 1
        ctx = NodeContext(
            node_id=nid,
            servers=tuple(self.servers),
            rng=stream(self.seed, "node", nid, slot.incarnation),
            settings=self.settings,
            bugs=self.bugs,
        )
        slot.node = self.spec.make_server(ctx) if slot.is_server else self.spec.make_client(ctx)
        slot.up = True
        slot.paused = False
        slot.timers.clear()
        slot.stash.clear()
        stored = {f: tuple(r) for f, r in slot.files.items()}
        slot.announced_wall = 0
        inc = slot.incarnation
        self._apply(slot, slot.node.on_start(stored, slot.mono(self.now)))
        if slot.up and slot.incarnation == inc:
            self._announce_wall(slot)

    def crash(self, nid: str, reason: str = "kill") -> bool:
        slot = self.slots[nid]
        if not slot.up:
            return False
        slot.up = False
        slot.node = None
        slot.incarnation += 1
        slot.timers.clear()
        slot.stash.clear()
        slot.crash_points.clear()
        for f in slot.pending:
            slot.pending[f].clear()
            slot.last_done[f] = 0
        slot.paused = False
        self.trace.append({"time": self.now - self.start, "node": nid, "kind": "crash", "reason": reason})
        return True

    def restart(self, nid: str) -> bool:
        slot = self.slots[nid]
        if slot.up:
            return False
        self.trace.append({"time": self.now - self.start, "node": nid, "kind": "restart"})
        self.boot(nid)
        return True

    def pause(self, nid: str) -> bool:
        slot = self.slots[nid]
        if not slot.up or slot.paused:
            return False
        slot.paused = True
        return True

    def resume(self, nid: str) -> bool:
        slot = self.slots[nid]
        if not slot.up or not slot.paused:
            return False
        slot.paused = False
        stash, slot.stash = slot.stash, []
        inc = slot.incarnation
        self._announce_wall(slot)
        for kind, c, d in stash:
            node = slot.node
            if not slot.up or slot.incarnation != inc or node is None:
                break
            m = slot.mono(self.now)
            if kind == _DELIVER:
                self._apply(slot, node.on_message(c, d, m))
            elif kind == _TIMER:
                cur = slot.timers.get(c)
                if cur is not None and cur[0] == d:
                    del slot.timers[c]
                    self._apply(slot, node.on_timer(c, m))
            elif kind == _PERSISTED:
                self._apply(slot, node.on_persisted(c, m))
            elif kind == _REQUEST:
                self._apply(slot, node.on_client(c, m))
        return True

    def client_request(self, nid: str, request: ClientRequest) -> None:
        slot = self.slots[nid]
        if not slot.up or slot.node is None:
            return  # nobody to ask: the harness times the operation out
        if slot.paused:  # a paused process takes the request when it resumes
            slot.stash.append((_REQUEST, request, None))
            return
        self._apply(slot, slot.node.on_client(request, slot.mono(self.now)))

    # ------------------------------------------------------------------ network

    def set_cut(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.blocked = set()
        slots = self.slots
        for slot in slots.values():
            slot.cut = set()
        for a, b in pairs:
            self.blocked.add((a, b))
            self.blocked.add((b, a))
            if a in slots:
                slots[a].cut.add(b)
            if b in slots:
                slots[b].cut.add(a)

    # ------------------------------------------------------------------- clocks

    def _rebase(self, slot: NodeSlot) -> None:
        slot.m0 = slot.mono(self.now)
        slot.tb = self.now
        slot.skew = slot.m0 - slot.tb

    def set_clock_rate(self, nid: str, ppm: int) -> None:
        slot = self.slots[nid]
        self._rebase(slot)
        slot.ppm = ppm
        if slot.up:
            # A new generation per timer: the event queued under the old rate must not
            # fire (early, if the clock slowed down).
            for name, (_, at) in list(slot.timers.items()):
                slot.timer_gen += 1
                slot.timers[name] = (slot.timer_gen, at)
                self._push(slot.true_time_of(at, self.now), _TIMER, slot, slot.incarnation, name, slot.timer_gen)

    def set_wall_offset(self, nid: str, offset: int) -> None:
        slot = self.slots[nid]
        slot.wall_offset = offset
        self._announce_wall(slot)

    def _announce_wall(self, slot: NodeSlot) -> None:
        """Tell a running node its wall offset if it believes another one. A paused or
        down node hears of it when it resumes or boots."""
        if slot.up and not slot.paused and slot.announced_wall != slot.wall_offset and slot.node is not None:
            slot.announced_wall = slot.wall_offset
            self._apply(slot, slot.node.on_wallclock(slot.wall_offset, slot.mono(self.now)))

    def leader(self) -> str | None:
        """The established leader, if exactly one live server claims it (else the first)."""
        for nid in self.servers:
            slot = self.slots[nid]
            if slot.up and not slot.paused and slot.node is not None and self.spec.is_leader(slot.node):
                return nid
        return None

    def live_server_nodes(self) -> dict[str, Node]:
        return {nid: s.node for nid, s in self.slots.items() if s.is_server and s.up and s.node is not None}
