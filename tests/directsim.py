"""A tiny in-memory driver for sans-IO nodes, for direct tests without the harness simulator.

Like h11's tests that wire a client and a server back to back: a heap of
``(time, seq, event)``; messages take a fixed latency (per-link overrides, FIFO per link);
``Persist`` completes after an fsync delay, in order per file; a crash discards the node
object, its timers, its in-flight messages and every write not yet durable; a restart
builds a fresh node from what the disk kept. Records go through JSON on the way to "disk",
so recovery sees lists where the node wrote tuples, as a real file would give back. Every
node's monotonic clock is offset from true time; wall clocks can be moved
(``bump_wall_clock``). Links between servers can be cut; clients reach every server. A
paused node (``pause``, as SIGSTOP) is handed nothing, but its disk writes complete on
time: what it would have been told (messages, timers, fsync completions) waits, in order,
for ``resume``, and a crash while paused loses it, though the writes stay durable.

``DirectSim`` is the event loop; ``ZabSim`` (servers n1.., clients c1..) and ``KafkaSim``
(the fake ZooKeeper z1, brokers b1.., clients c1..) add their system's views. What differs
between them is an option: ``link_gap`` (the spacing between two deliveries on one link
or two completions on one file: 0 lets them share a time, as ZabSim does; KafkaSim keeps
1 ns), ``duplicate`` (the probability a message is delivered twice) and
``link_latency`` (per-link overrides).

Also the helpers for driving one ZabServer by hand: ``traces``, ``persist_all``,
``synced_follower``.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.node import CancelTimer, ClientRequest, ClientResponse, Persist, Reply, Send, SetTimer, Trace
from harness.system import NodeContext
from systems.kafka.spec import KafkaSpec
from systems.zab.spec import ZabSpec

MS = 1_000_000
SECOND = 1000 * MS


@dataclass
class TraceEvent:
    time: int
    node: str
    kind: str
    fields: dict


class DirectSim:
    """The event loop over ``spec``'s nodes. ``server_settings`` and ``client_settings``
    are the full settings each kind of node is built with."""

    start_time = 7 * 10**15  # virtual time starts far from zero, as in the harness
    answer_timeout = 5 * SECOND  # how long ``do`` waits by default

    def __init__(
        self,
        spec: Any,
        servers: tuple[str, ...],
        clients: tuple[str, ...],
        *,
        server_settings: dict,
        client_settings: dict,
        seed: int = 0,
        latency: int = 2 * MS,
        fsync: int = 3 * MS,
        bugs: frozenset = frozenset(),
        duplicate: float = 0.0,
        link_gap: int = 0,
    ) -> None:
        self.spec = spec
        self.servers = servers
        self.clients = clients
        self.server_settings = server_settings
        self.client_settings = client_settings
        self.seed = seed
        self.latency = latency
        self.fsync = fsync
        self.bugs = frozenset(bugs)
        self.duplicate = duplicate
        self.link_gap = link_gap
        self.now = self.start_time
        self.heap: list = []
        self.seq = 0
        self.nodes: dict[str, Any] = {}
        self.inc: dict[str, int] = {n: 0 for n in servers + clients}
        self.disk: dict[str, dict[str, list]] = {n: {} for n in servers}
        self.busy_until: dict[tuple[str, str], int] = {}  # by (src, dst) and (node, "file:" + file)
        self.link_latency: dict[tuple[str, str], int] = {}
        self.cut: set[tuple[str, str]] = set()
        self.timer_version: dict[tuple[str, str], int] = {}
        self.traces: list[TraceEvent] = []
        self.stash: dict[str, list[tuple]] = {}  # paused node -> events held for its resume
        self.replies: dict[int, tuple[int, ClientResponse]] = {}  # op id -> (time, response)
        self.next_op = 0
        rnd = random.Random(seed)
        self.offset = {n: rnd.randrange(-(10**12), 10**12) for n in servers + clients}
        self.wall = {n: 0 for n in servers + clients}
        self.net_rnd = random.Random(f"{seed}/net")

    # --------------------------------------------------------------- lifecycle
    def ctx(self, node: str, servers: tuple[str, ...], settings: dict) -> NodeContext:
        rng = random.Random(f"{self.seed}/{node}/{self.inc[node]}")
        return NodeContext(node, servers, rng, settings, self.bugs)

    def start(self, nodes: tuple[str, ...] | None = None) -> DirectSim:
        """Start ``nodes`` (servers), or every server and then every client."""
        for n in nodes or self.servers:
            self.start_server(n)
        for c in self.clients if nodes is None else ():
            self.start_client(c)
        return self

    def start_server(self, n: str) -> None:
        node = self.spec.make_server(self.ctx(n, self.servers, self.server_settings))
        self.nodes[n] = node
        stored = {f: tuple(json.loads(json.dumps(r)) for r in recs) for f, recs in self.disk[n].items()}
        self._apply(n, node.on_start(stored, self.clock(n)))

    def start_client(self, c: str, server: str | None = None, settings: dict | None = None) -> None:
        """Start client ``c``; starting it again is a new handle: the old one's timers and
        messages are dropped. ``server``: the server it first talks to."""
        if c not in self.inc:
            self.inc[c] = 0
            self.offset[c] = 0
            self.wall[c] = 0
        elif c in self.nodes:
            self.inc[c] += 1
        node = self.spec.make_client(self.ctx(c, self.servers, {**self.client_settings, **(settings or {})}))
        self.nodes[c] = node
        self._apply(c, node.on_start({}, self.clock(c)))
        if server is not None:
            node.server = server

    def crash(self, n: str) -> None:
        """The node object and everything not yet durable are gone."""
        self.nodes[n] = None
        self.stash.pop(n, None)
        self.inc[n] += 1
        self.traces.append(TraceEvent(self.now, n, "crash", {}))

    def restart(self, n: str) -> None:
        assert self.nodes.get(n) is None
        self.start_server(n)

    def pause(self, n: str) -> None:
        """Stop ``n`` (SIGSTOP): from now on it is handed nothing until ``resume``."""
        assert self.nodes.get(n) is not None and n not in self.stash
        self.stash[n] = []

    def resume(self, n: str) -> None:
        """Hand ``n`` what arrived while it was paused, in order."""
        for ev in self.stash.pop(n):
            self._handle(ev)

    def clock(self, n: str) -> int:
        return self.now + self.offset[n]

    def bump_wall_clock(self, n: str, delta: int) -> None:
        """Move ``n``'s wall clock by ``delta`` (its monotonic clock is untouched)."""
        self.wall[n] += delta
        node = self.nodes.get(n)
        if node is not None:
            self._apply(n, node.on_wallclock(self.wall[n], self.clock(n)))

    # ---------------------------------------------------------------- network
    def partition(self, *groups: tuple[str, ...]) -> None:
        """Only servers within the same group reach each other (clients reach everyone)."""
        self.cut = set()
        where = {n: i for i, g in enumerate(groups) for n in g}
        for a in self.servers:
            for b in self.servers:
                if a != b and where.get(a) != where.get(b):
                    self.cut.add((a, b))

    def isolate(self, *nodes: str) -> None:
        """Cut each of ``nodes`` off from every other server."""
        for n in nodes:
            for s in self.servers:
                if s != n:
                    self.cut |= {(n, s), (s, n)}

    def cut_link(self, a: str, b: str) -> None:
        self.cut |= {(a, b), (b, a)}

    def heal(self) -> None:
        self.cut = set()

    # ----------------------------------------------------------------- events
    def _push(self, t: int, ev: tuple) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, ev))

    def _apply(self, n: str, effects: list) -> None:
        inc = self.inc[n]
        for e in effects:
            if isinstance(e, Send):
                if (n, e.dst) in self.cut:
                    continue
                lat = self.link_latency.get((n, e.dst), self.latency)
                t = max(self.now + lat, self.busy_until.get((n, e.dst), 0) + self.link_gap)
                self.busy_until[(n, e.dst)] = t
                self._push(t, ("msg", n, e.dst, self.inc.get(e.dst, 0), e.msg))
                if self.duplicate and self.net_rnd.random() < self.duplicate:
                    self._push(t, ("msg", n, e.dst, self.inc.get(e.dst, 0), e.msg))
            elif isinstance(e, SetTimer):
                v = self.timer_version.get((n, e.name), 0) + 1
                self.timer_version[(n, e.name)] = v
                self._push(max(self.now, e.at - self.offset[n]), ("timer", n, inc, e.name, v))
            elif isinstance(e, CancelTimer):
                self.timer_version[(n, e.name)] = self.timer_version.get((n, e.name), 0) + 1
            elif isinstance(e, Persist):
                json.dumps(e.records)  # records must be JSON-able
                key = (n, "file:" + e.file)
                t = max(self.now + self.fsync, self.busy_until.get(key, 0) + self.link_gap)
                self.busy_until[key] = t
                self._push(t, ("persist", n, inc, e))
            elif isinstance(e, Reply):
                self.replies[e.response.op_id] = (self.now, e.response)
            elif isinstance(e, Trace):
                fields = e.as_dict()
                json.dumps(fields)  # trace fields must be JSON-able
                self.traces.append(TraceEvent(self.now, n, e.kind, fields))
            else:
                raise TypeError(f"{n} returned a non-effect {e!r}")

    def step(self) -> bool:
        if not self.heap:
            return False
        t, _, ev = heapq.heappop(self.heap)
        self.now = max(self.now, t)
        self._handle(ev)
        return True

    def _handle(self, ev: tuple) -> None:
        kind = ev[0]
        if kind == "msg":
            _, src, dst, dst_inc, msg = ev
            node = self.nodes.get(dst)
            if node is None or self.inc[dst] != dst_inc or (src, dst) in self.cut:
                return
            if dst in self.stash:
                self.stash[dst].append(ev)
                return
            self._apply(dst, node.on_message(src, msg, self.clock(dst)))
        elif kind == "timer":
            _, n, inc, name, v = ev
            node = self.nodes.get(n)
            if node is None or self.inc[n] != inc or self.timer_version.get((n, name)) != v:
                return
            if n in self.stash:
                self.stash[n].append(ev)
                return
            self._apply(n, node.on_timer(name, self.clock(n)))
        elif kind == "persist":
            _, n, inc, p = ev
            if self.inc[n] != inc or self.nodes.get(n) is None:
                return  # lost in the crash
            f = self.disk[n].setdefault(p.file, [])
            recs = [json.loads(json.dumps(r)) for r in p.records]
            if p.mode == "append":
                f.extend(recs)
            elif p.mode == "replace":
                f[:] = recs
            else:
                del f[p.keep :]
            self._handle(("persisted", n, inc, p.token))
        elif kind == "persisted":
            # the write is durable; telling the process waits while it is paused
            _, n, inc, token = ev
            node = self.nodes.get(n)
            if node is None or self.inc[n] != inc:
                return
            if n in self.stash:
                self.stash[n].append(ev)
                return
            self._apply(n, node.on_persisted(token, self.clock(n)))

    def run_for(self, duration: int) -> None:
        self.run_until(lambda: False, duration)

    def run_until(self, pred: Callable[[], bool], timeout: int, what: str | None = None) -> bool:
        """Step until ``pred`` holds (True) or ``timeout`` has passed (False; with
        ``what``, an AssertionError naming it)."""
        end = self.now + timeout
        while self.heap and self.heap[0][0] <= end:
            if pred():
                return True
            self.step()
        if pred():
            return True
        if what is not None:
            raise AssertionError(f"{what} not reached within {timeout / SECOND:g} s")
        self.now = max(self.now, end)
        return False

    # ---------------------------------------------------------------- clients
    def op(self, client: str, f: str, key: Any = None, value: Any = None) -> int:
        """Hand ``client`` a request; its op id."""
        self.next_op += 1
        op_id = self.next_op
        node = self.nodes[client]
        self._apply(client, node.on_client(ClientRequest(op_id, f, key, value), self.clock(client)))
        return op_id

    def wait(self, op_id: int, timeout: int | None = None) -> ClientResponse:
        timeout = self.answer_timeout if timeout is None else timeout
        self.run_until(lambda: op_id in self.replies, timeout, f"the answer to op {op_id}")
        return self.replies[op_id][1]

    def do(self, client: str, f: str, key: Any = None, value: Any = None, timeout: int | None = None) -> ClientResponse:
        """``op`` and ``wait``."""
        return self.wait(self.op(client, f, key, value), timeout)

    # ---------------------------------------------------------------- queries
    def traces_of(self, kind: str, node: str | None = None) -> list[TraceEvent]:
        return [t for t in self.traces if t.kind == kind and (node is None or t.node == node)]


class ZabSim(DirectSim):
    """A ZAB ensemble n1..n<n_servers> with clients c1..c<n_clients>."""

    def __init__(
        self,
        n_servers: int = 3,
        n_clients: int = 0,
        seed: int = 0,
        latency: int = 2 * MS,
        fsync: int = 3 * MS,
        settings: dict | None = None,
        client_settings: dict | None = None,
        bugs: frozenset = frozenset(),
        duplicate: float = 0.0,
    ) -> None:
        spec = ZabSpec()
        defaults = spec.default_settings()
        super().__init__(
            spec,
            tuple(f"n{i}" for i in range(1, n_servers + 1)),
            tuple(f"c{i}" for i in range(1, n_clients + 1)),
            server_settings={**defaults, **(settings or {})},
            client_settings={**defaults, **(client_settings or {})},
            seed=seed,
            latency=latency,
            fsync=fsync,
            bugs=bugs,
            duplicate=duplicate,
        )

    def live_servers(self) -> list:
        return [self.nodes[n] for n in self.servers if self.nodes.get(n) is not None]

    def leaders(self) -> list[str]:
        return [s.node_id for s in self.live_servers() if self.spec.is_leader(s)]

    def stable(self, members: tuple[str, ...] | None = None) -> bool:
        """One established leader, and every given live server serving under it."""
        members = members or tuple(n for n in self.servers if self.nodes.get(n) is not None)
        leaders = [n for n in members if self.spec.is_leader(self.nodes[n])]
        if len(leaders) != 1:
            return False
        return all(self.nodes[n].serving and (n == leaders[0] or self.nodes[n].leader_id == leaders[0])
                   for n in members)

    def wait_stable(self, members: tuple[str, ...] | None = None, timeout: int = 5 * SECOND) -> str:
        assert self.run_until(lambda: self.stable(members), timeout), self.describe()
        return next(n for n in (members or self.servers) if self.nodes.get(n) and self.spec.is_leader(self.nodes[n]))

    def delivered(self, n: str) -> list[tuple[int, str]]:
        """(zxid, digest) delivered by ``n`` in its latest incarnation, after recovery."""
        out: list[tuple[int, str]] = []
        for t in self.traces:
            if t.node != n:
                continue
            if t.kind == "recovered":
                out = []
            elif t.kind == "deliver":
                out.append((t.fields["zxid"], t.fields["digest"]))
        return out

    def describe(self) -> str:
        rows = []
        for n in self.servers:
            s = self.nodes.get(n)
            if s is None:
                rows.append(f"{n}: down")
            else:
                rows.append(
                    f"{n}: {s.state}/{s.zab_state} leader={s.leader_id} est={s.established} "
                    f"acc={s.accepted_epoch} cur={s.current_epoch} last={s.last_logged_zxid:#x} "
                    f"applied={s.last_processed_zxid:#x}"
                )
        return "\n".join(rows)


class KafkaSim(DirectSim):
    """The fake ZooKeeper z1, brokers b1..b<brokers>, clients c1..c<n_clients>, every
    node with the same settings (the mini ZooKeeper, ``partitions`` partitions)."""

    start_time = 3 * 10**15
    answer_timeout = 10 * SECOND

    def __init__(
        self,
        brokers: int = 3,
        n_clients: int = 1,
        seed: int = 0,
        partitions: int = 1,
        latency: int = 1 * MS,
        fsync: int = 2 * MS,
        settings: dict | None = None,
        bugs: frozenset = frozenset(),
    ) -> None:
        spec = KafkaSpec()
        every = {**spec.default_settings(), "zookeeper": "mini", "partitions": partitions, **(settings or {})}
        self.brokers = brokers
        self.partitions = partitions
        super().__init__(
            spec,
            ("z1",) + tuple(f"b{i}" for i in range(1, brokers + 1)),
            tuple(f"c{i}" for i in range(1, n_clients + 1)),
            server_settings=every,
            client_settings=every,
            seed=seed,
            latency=latency,
            fsync=fsync,
            bugs=bugs,
            link_gap=1,
        )

    def broker(self, b: str) -> Any:
        return self.nodes[b]

    def live_brokers(self) -> list[str]:
        return [b for b in self.servers if b.startswith("b") and self.nodes.get(b) is not None]

    def leader_of(self, p: int = 0) -> str | None:
        """The live broker that leads partition p in the highest epoch, if any."""
        best = None
        for b in self.live_brokers():
            part = self.nodes[b].partitions.get(p)
            if part is not None and part.role == "leader" and (best is None or part.leader_epoch > best[1]):
                best = (b, part.leader_epoch)
        return best[0] if best else None

    def controller(self) -> str | None:
        for b in self.live_brokers():
            if self.nodes[b].controller.active:
                return b
        return None

    def replica(self, b: str, p: int = 0) -> Any:
        return self.nodes[b].partitions[p]

    def events(self, kind: str, node: str | None = None, **match: Any) -> list[TraceEvent]:
        """Trace events of ``kind`` (at ``node``) whose fields include ``match``."""
        return [e for e in self.traces_of(kind, node) if all(e.fields.get(k) == v for k, v in match.items())]

    def settle(self) -> None:
        """Run until a controller leads and every partition has a leader with a full ISR."""

        def ready() -> bool:
            if self.controller() is None:
                return False
            for p in range(self.partitions):
                lead = self.leader_of(p)
                if lead is None:
                    return False
                if len(self.replica(lead, p).isr) < min(3, self.brokers):
                    return False
            return True

        self.run_until(ready, 20 * SECOND, "a settled cluster")


# ------------------------------------------------- helpers for driving one server directly


def traces(effects: list, kind: str) -> list[dict]:
    """The Trace effects of ``kind`` among ``effects``, as dicts."""
    return [e.as_dict() for e in effects if isinstance(e, Trace) and e.kind == kind]


def persist_all(s: Any, effects: list, now: int = 1) -> list:
    """Complete every Persist in ``effects`` (and those they cause), in order."""
    out = list(effects)
    queue = [e for e in effects if isinstance(e, Persist)]
    while queue:
        p = queue.pop(0)
        more = s.on_persisted(p.token, now)
        out += more
        queue += [e for e in more if isinstance(e, Persist)]
    return out


def synced_follower(bugs: frozenset = frozenset()) -> Any:
    """A ZabServer n2 (of n1..n3) following n1 in epoch 1, synced by an empty DIFF and
    serving, driven directly message by message."""
    from systems.zab import messages as m
    from systems.zab.election import Vote
    from systems.zab.server import ZabServer
    from systems.zab.zxid import make_zxid

    s = ZabServer(NodeContext("n2", ("n1", "n2", "n3"), random.Random(1), {}, bugs))
    s.on_start({}, 0)
    s._decided(Vote("n1", 0, 0, 1), 0)
    c = s.conn
    persist_all(s, s.on_message("n1", m.LeaderInfo(c, 1), 1))
    s.on_message("n1", m.Diff(c, 0), 2)
    persist_all(s, s.on_message("n1", m.NewLeader(c, make_zxid(1, 0)), 3))
    s.on_message("n1", m.UpToDate(c, 0), 4)
    assert s.serving
    return s
