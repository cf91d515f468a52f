"""A tiny in-memory driver for ZAB nodes, for direct tests without the harness simulator.

Like h11's tests that wire a client and a server back to back: a heap of
``(time, seq, event)``; messages take a fixed latency (per-link overrides, per-link FIFO);
``Persist`` completes after an fsync delay, in order per file; a crash discards the node
object, its timers, its in-flight messages and every write not yet durable; a restart
builds a fresh node from what the disk kept. Records go through JSON on the way to "disk",
so recovery sees lists where the node wrote tuples, as a real file would give back.
"""

from __future__ import annotations

import heapq
import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from harness.node import CancelTimer, ClientRequest, ClientResponse, Persist, Reply, Send, SetTimer, Trace
from harness.system import NodeContext
from systems.zab.spec import ZabSpec

MS = 1_000_000
START = 7 * 10**15  # virtual time starts far from zero, as in the harness


@dataclass
class TraceEvent:
    time: int
    node: str
    kind: str
    fields: dict


@dataclass
class Sim:
    n_servers: int = 3
    n_clients: int = 0
    seed: int = 0
    latency: int = 2 * MS
    fsync: int = 3 * MS
    settings: dict = field(default_factory=dict)
    client_settings: dict = field(default_factory=dict)
    bugs: frozenset = frozenset()
    duplicate: float = 0.0  # probability that a message is delivered twice

    def __post_init__(self) -> None:
        self.spec = ZabSpec()
        self.now = START
        self.heap: list = []
        self.seq = 0
        self.servers = tuple(f"n{i}" for i in range(1, self.n_servers + 1))
        self.clients = tuple(f"c{i}" for i in range(1, self.n_clients + 1))
        self.nodes: dict[str, Any] = {}
        self.inc: dict[str, int] = {n: 0 for n in self.servers + self.clients}
        self.disk: dict[str, dict[str, list]] = {n: {f: [] for f in self.spec.files} for n in self.servers}
        self.file_busy_until: dict[tuple[str, str], int] = {}
        self.link_busy_until: dict[tuple[str, str], int] = {}
        self.link_latency: dict[tuple[str, str], int] = {}
        self.cut: set[tuple[str, str]] = set()
        self.timer_version: dict[tuple[str, str], int] = {}
        self.traces: list[TraceEvent] = []
        self.replies: dict[int, tuple[int, ClientResponse]] = {}
        self.next_op = 0
        # clock offsets per node: each node's monotonic clock differs from true time
        rnd = random.Random(self.seed)
        self.offset = {n: rnd.randrange(-10**12, 10**12) for n in self.servers + self.clients}
        self.net_rnd = random.Random(f"{self.seed}/net")

    # --------------------------------------------------------------- lifecycle
    def ctx(self, node: str, servers: tuple[str, ...], settings: dict) -> NodeContext:
        rng = random.Random(f"{self.seed}/{node}/{self.inc[node]}")
        return NodeContext(node, servers, rng, settings, self.bugs)

    def start(self, nodes: tuple[str, ...] | None = None) -> "Sim":
        for n in nodes or self.servers:
            self.start_server(n)
        for c in self.clients if nodes is None else ():
            self.start_client(c)
        return self

    def start_server(self, n: str) -> None:
        settings = {**self.spec.default_settings(), **self.settings}
        node = self.spec.make_server(self.ctx(n, self.servers, settings))
        self.nodes[n] = node
        stored = {f: tuple(json.loads(json.dumps(r)) for r in recs) for f, recs in self.disk[n].items()}
        self._apply(n, node.on_start(stored, self.clock(n)))

    def start_client(self, c: str, server: str | None = None, settings: dict | None = None) -> None:
        settings = {**self.spec.default_settings(), **self.client_settings, **(settings or {})}
        if c not in self.inc:
            self.inc[c] = 0
            self.offset[c] = 0
        else:
            self.inc[c] += 1  # a new handle: the old one's timers and messages are dropped
        node = self.spec.make_client(self.ctx(c, self.servers, settings))
        self.nodes[c] = node
        self._apply(c, node.on_start({}, self.clock(c)))
        if server is not None:
            node.server = server

    def crash(self, n: str) -> None:
        """The node object and everything not yet durable are gone."""
        self.nodes[n] = None
        self.inc[n] += 1

    def restart(self, n: str) -> None:
        assert self.nodes.get(n) is None
        self.start_server(n)

    def clock(self, n: str) -> int:
        return self.now + self.offset[n]

    # ---------------------------------------------------------------- network
    def partition(self, *groups: tuple[str, ...]) -> None:
        """Only nodes within the same group reach each other (clients reach everyone)."""
        self.cut = set()
        where = {n: i for i, g in enumerate(groups) for n in g}
        for a in self.servers:
            for b in self.servers:
                if a != b and where.get(a) != where.get(b):
                    self.cut.add((a, b))

    def isolate(self, n: str) -> None:
        for s in self.servers:
            if s != n:
                self.cut.add((n, s))
                self.cut.add((s, n))

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
                t = max(self.now + lat, self.link_busy_until.get((n, e.dst), 0))
                self.link_busy_until[(n, e.dst)] = t
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
                t = max(self.now + self.fsync, self.file_busy_until.get((n, e.file), 0))
                self.file_busy_until[(n, e.file)] = t
                self._push(t, ("persist", n, inc, e))
            elif isinstance(e, Reply):
                self.replies[e.response.op_id] = (self.now, e.response)
            elif isinstance(e, Trace):
                fields = e.as_dict()
                json.dumps(fields)  # trace fields must be JSON-able
                self.traces.append(TraceEvent(self.now, n, e.kind, fields))
            else:
                raise TypeError(f"unknown effect {e!r}")

    def step(self) -> bool:
        if not self.heap:
            return False
        t, _, ev = heapq.heappop(self.heap)
        self.now = max(self.now, t)
        kind = ev[0]
        if kind == "msg":
            _, src, dst, dst_inc, msg = ev
            node = self.nodes.get(dst)
            if node is None or self.inc[dst] != dst_inc or (src, dst) in self.cut:
                return True
            self._apply(dst, node.on_message(src, msg, self.clock(dst)))
        elif kind == "timer":
            _, n, inc, name, v = ev
            node = self.nodes.get(n)
            if node is None or self.inc[n] != inc or self.timer_version.get((n, name)) != v:
                return True
            self._apply(n, node.on_timer(name, self.clock(n)))
        elif kind == "persist":
            _, n, inc, p = ev
            if self.inc[n] != inc or self.nodes.get(n) is None:
                return True  # lost in the crash
            f = self.disk[n][p.file]
            recs = [json.loads(json.dumps(r)) for r in p.records]
            if p.mode == "append":
                f.extend(recs)
            elif p.mode == "replace":
                f[:] = recs
            else:
                del f[p.keep :]
            self._apply(n, self.nodes[n].on_persisted(p.token, self.clock(n)))
        elif kind == "call":
            ev[1]()
        return True

    def run_for(self, duration: int) -> None:
        self.run_until(lambda: False, duration)

    def run_until(self, pred: Callable[[], bool], timeout: int) -> bool:
        end = self.now + timeout
        while self.heap and self.heap[0][0] <= end:
            if pred():
                return True
            self.step()
        if pred():
            return True
        self.now = max(self.now, end)
        return False

    # ---------------------------------------------------------------- clients
    def op(self, client: str, f: str, key: str = "x", value: Any = None) -> int:
        self.next_op += 1
        op_id = self.next_op
        node = self.nodes[client]
        self._apply(client, node.on_client(ClientRequest(op_id, f, key, value), self.clock(client)))
        return op_id

    def wait(self, op_id: int, timeout: int = 5000 * MS) -> ClientResponse:
        assert self.run_until(lambda: op_id in self.replies, timeout), f"op {op_id} never answered"
        return self.replies[op_id][1]

    def do(self, client: str, f: str, key: str = "x", value: Any = None) -> ClientResponse:
        return self.wait(self.op(client, f, key, value))

    # ---------------------------------------------------------------- queries
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
        return all(self.nodes[n].serving and (n == leaders[0] or self.nodes[n].leader_id == leaders[0]) for n in members)

    def wait_stable(self, members: tuple[str, ...] | None = None, timeout: int = 5000 * MS) -> str:
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

    def traces_of(self, kind: str, node: str | None = None) -> list[TraceEvent]:
        return [t for t in self.traces if t.kind == kind and (node is None or t.node == node)]

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
