"""A tiny in-memory driver for Kafka nodes: brokers, the fake ZooKeeper, client libraries.

No harness scheduler: a heap of ``(time, seq, event)``; messages take a fixed latency
(FIFO per link), ``Persist`` completes after a fixed fsync delay in order per file, and
records go through JSON on the way to "disk" (recovery sees lists where nodes wrote
tuples, as a real file gives back). A crash discards the node object, its timers, its
messages in flight and every write not yet durable; a restart builds a fresh node from
what the disk kept. Links between servers can be cut; clients reach every server.
"""

from __future__ import annotations

import heapq
import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from harness.node import CancelTimer, ClientRequest, ClientResponse, Persist, Reply, Send, SetTimer, Trace
from harness.system import NodeContext
from systems.kafka.spec import KafkaSpec

MS = 1_000_000
SECOND = 1000 * MS
START = 3 * 10**15


@dataclass
class Ev:
    time: int
    node: str
    kind: str
    fields: dict


@dataclass
class KafkaSim:
    brokers: int = 3
    clients: int = 1
    seed: int = 0
    partitions: int = 1
    latency: int = 1 * MS
    fsync: int = 2 * MS
    settings: dict = field(default_factory=dict)
    bugs: frozenset = frozenset()

    def __post_init__(self) -> None:
        self.spec = KafkaSpec()
        self.now = START
        self.heap: list = []
        self.seq = 0
        self.servers = ("z1",) + tuple(f"b{i}" for i in range(1, self.brokers + 1))
        self.client_ids = tuple(f"c{i}" for i in range(1, self.clients + 1))
        self.all_settings = {**self.spec.default_settings(), "zookeeper": "mini", "partitions": self.partitions,
                             **self.settings}
        self.nodes: dict[str, Any] = {}
        self.inc = {n: 0 for n in self.servers + self.client_ids}
        self.disk: dict[str, dict[str, list]] = {n: {} for n in self.servers}
        self.busy: dict[tuple[str, str], int] = {}
        self.cut: set[tuple[str, str]] = set()
        self.timer_version: dict[tuple[str, str], int] = {}
        self.trace: list[Ev] = []
        self.replies: dict[int, ClientResponse] = {}
        self.next_op = 0
        rnd = random.Random(self.seed)
        self.offset = {n: rnd.randrange(-10**12, 10**12) for n in self.servers + self.client_ids}
        self.wall = {n: 0 for n in self.servers + self.client_ids}

    # ---------------------------------------------------------------- lifecycle
    def ctx(self, n: str) -> NodeContext:
        return NodeContext(n, self.servers, random.Random(f"{self.seed}/{n}/{self.inc[n]}"), self.all_settings,
                           frozenset(self.bugs))

    def start(self) -> "KafkaSim":
        for n in self.servers:
            self._boot(n)
        for c in self.client_ids:
            self._boot(c)
        return self

    def _boot(self, n: str) -> None:
        ctx = self.ctx(n)
        node = self.spec.make_client(ctx) if n.startswith("c") else self.spec.make_server(ctx)
        self.nodes[n] = node
        stored = {f: tuple(json.loads(json.dumps(r)) for r in recs) for f, recs in self.disk.get(n, {}).items()}
        self._apply(n, node.on_start(stored, self.clock(n)))

    def crash(self, n: str) -> None:
        self.nodes[n] = None
        self.inc[n] += 1
        self.trace.append(Ev(self.now, n, "crash", {}))

    def restart(self, n: str) -> None:
        assert self.nodes.get(n) is None
        self._boot(n)

    def clock(self, n: str) -> int:
        return self.now + self.offset[n]

    def bump_wall_clock(self, n: str, delta: int) -> None:
        self.wall[n] += delta
        node = self.nodes.get(n)
        if node is not None:
            self._apply(n, node.on_wallclock(self.wall[n], self.clock(n)))

    # ------------------------------------------------------------------ network
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

    # ------------------------------------------------------------------- events
    def _push(self, t: int, ev: tuple) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, ev))

    def _apply(self, n: str, effects: list) -> None:
        inc = self.inc[n]
        for e in effects:
            if isinstance(e, Send):
                if (n, e.dst) in self.cut:
                    continue
                t = max(self.now + self.latency, self.busy.get((n, e.dst), 0) + 1)
                self.busy[(n, e.dst)] = t
                self._push(t, ("msg", n, e.dst, self.inc[e.dst], e.msg))
            elif isinstance(e, SetTimer):
                v = self.timer_version.get((n, e.name), 0) + 1
                self.timer_version[(n, e.name)] = v
                self._push(max(self.now, e.at - self.offset[n]), ("timer", n, inc, e.name, v))
            elif isinstance(e, CancelTimer):
                self.timer_version[(n, e.name)] = self.timer_version.get((n, e.name), 0) + 1
            elif isinstance(e, Persist):
                json.dumps(e.records)  # records must be JSON-able
                t = max(self.now + self.fsync, self.busy.get((n, "file:" + e.file), 0) + 1)
                self.busy[(n, "file:" + e.file)] = t
                self._push(t, ("persist", n, inc, e))
            elif isinstance(e, Reply):
                self.replies[e.response.op_id] = e.response
            elif isinstance(e, Trace):
                fields = e.as_dict()
                json.dumps(fields)  # trace fields must be JSON-able
                self.trace.append(Ev(self.now, n, e.kind, fields))
            else:
                raise TypeError(f"{n} returned a non-effect {e!r}")

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
            f = self.disk[n].setdefault(p.file, [])
            recs = [json.loads(json.dumps(r)) for r in p.records]
            if p.mode == "append":
                f.extend(recs)
            elif p.mode == "replace":
                f[:] = recs
            else:
                del f[p.keep :]
            self._apply(n, self.nodes[n].on_persisted(p.token, self.clock(n)))
        return True

    def run(self, duration: int) -> None:
        end = self.now + duration
        while self.heap and self.heap[0][0] <= end:
            self.step()
        self.now = max(self.now, end)

    def run_until(self, pred: Callable[[], bool], limit: int = 10 * SECOND, what: str = "condition") -> None:
        end = self.now + limit
        while not pred():
            if not self.heap or self.heap[0][0] > end:
                raise AssertionError(f"{what} not reached within {limit / SECOND:g} s")
            self.step()

    # ------------------------------------------------------------------ clients
    def request(self, client: str, f: str, key: Any = None, value: Any = None) -> int:
        self.next_op += 1
        op = self.next_op
        self._apply(client, self.nodes[client].on_client(ClientRequest(op, f, key, value), self.clock(client)))
        return op

    def call(self, client: str, f: str, key: Any = None, value: Any = None, limit: int = 10 * SECOND) -> ClientResponse:
        op = self.request(client, f, key, value)
        self.run_until(lambda: op in self.replies, limit, f"answer to {f}")
        return self.replies[op]

    # ------------------------------------------------------------------- views
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

    def events(self, kind: str, node: str | None = None, **match: Any) -> list[Ev]:
        return [e for e in self.trace if e.kind == kind and (node is None or e.node == node)
                and all(e.fields.get(k) == v for k, v in match.items())]

    def settle(self) -> None:
        """Run until a controller leads and every partition has a leader with a full ISR."""
        def ready() -> bool:
            if self.controller() is None:
                return False
            for p in range(self.partitions):
                lead = self.leader_of(p)
                if lead is None:
                    return False
                part = self.replica(lead, p)
                if len(part.isr) < min(3, self.brokers):
                    return False
            return True
        self.run_until(ready, 20 * SECOND, "a settled cluster")
