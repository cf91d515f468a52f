"""The network of a Maelstrom run: every message between nodes, clients and services.

Each message is routed by its ``dest`` after a per-message latency drawn from the run's
seeded stream (``latency_ms`` mean, exponential, as Maelstrom's ``--latency``), and
dropped when a cut separates its ends at send or at delivery, when its receiver was
restarted meanwhile (a message is bound to the incarnation it was sent to, as a TCP
connection is), when its receiver has not answered ``init`` yet (only the harness's
``c0`` talks to a node before that), or when its receiver has left more than
``MAX_BACKLOG_BYTES`` of earlier messages unread on its stdin (a program that stopped
reading, or one the nemesis paused, while its peers keep sending: the harness would
otherwise hold every line for it, without bound, as a real network does not). Messages
between two processes are passed on as the very line the sender wrote; only the envelope
is parsed.

Counts (sent, delivered, dropped; by body type; between servers) go into the run's
stats; the message log (one record per message, with its fate) is what the report's
Lamport diagram draws.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from typing import Any, Protocol

from harness.live.maelstrom.loop import Loop
from harness.live.maelstrom.problems import Problems

#: messages kept in the log (the diagram needs only those around an anomaly, but which
#: ones is known only at the end); past it, only counts
LOG_LIMIT = 400_000


def _not_json(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


#: JSON as Maelstrom's (Jackson's) parser takes it: NaN and Infinity are not JSON, and a
#: history must not hold them (the history's JSON lines would not be JSON either)
_DECODER = json.JSONDecoder(parse_constant=_not_json)


#: bytes of messages a receiver may leave unread on its stdin before more are dropped
#: ("receiver not reading"): tens of thousands of messages, far past a pipe's 64 KiB
MAX_BACKLOG_BYTES = 8 << 20


class Endpoint(Protocol):
    name: str
    incarnation: int

    def deliver(self, msg: dict[str, Any], line: bytes | None) -> None: ...


class Network:
    def __init__(self, loop: Loop, rng: Any, problems: Problems, latency_ms: float = 0.0):
        self.loop = loop
        self.rng = rng
        self.problems = problems
        self.latency_ns = latency_ms * 1e6
        self.endpoints: dict[str, Endpoint] = {}
        self.servers: set[str] = set()
        self.services: set[str] = set()
        self.cut: set[frozenset[str]] = set()
        self.sent = 0
        self.delivered = 0
        self.dropped: Counter[str] = Counter()
        self.by_type: Counter[str] = Counter()
        self.between_servers = 0
        #: [send ns, src, dest, type, msg_id, in_reply_to, receive ns or None, drop reason]
        self.log: list[list[Any]] = []
        self._pending: list[tuple[int, int, str, int, dict[str, Any] | None, bytes | None, list[Any] | None]] = []
        self._seq = 0

    def add(self, ep: Endpoint, server: bool = False, service: bool = False) -> None:
        self.endpoints[ep.name] = ep
        if server:
            self.servers.add(ep.name)
        if service:
            self.services.add(ep.name)

    # ------------------------------------------------------------------ sending
    def send_line(self, src: str, line: bytes) -> None:
        """A line a process wrote on stdout."""
        try:
            msg = _DECODER.decode(line.decode())
        except ValueError:
            self.problems.add("non-json", src, self.loop.rel(), f"{src} wrote a line that is not JSON on stdout: "
                              f"{line[:120].rstrip().decode(errors='replace')!r}")
            return
        except RecursionError:  # a program's garbage must not end the network's thread
            self.problems.add("bad-message", src, self.loop.rel(),
                              f"{src} wrote a JSON line nested too deep to read: "
                              f"{line[:60].rstrip().decode(errors='replace')!r}...")
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("body"), dict) or not isinstance(msg.get("dest"), str):
            self.problems.add("bad-message", src, self.loop.rel(),
                              f"{src} wrote a message without a string dest and an object body: "
                              f"{line[:120].rstrip().decode(errors='replace')!r}")
            return
        claimed = msg.get("src", src)
        if claimed != src:
            # routing goes by the process that wrote the line, but the receiver reads the
            # envelope: a node answering init as another would set that one up instead
            self.problems.add("bad-message", src, self.loop.rel(),
                              f"{src} wrote a message whose src is {claimed!r}, not its own name: "
                              f"{line[:120].rstrip().decode(errors='replace')!r}")
            return
        self.send(src, msg, line if line.endswith(b"\n") else line + b"\n")

    def send(self, src: str, msg: dict[str, Any], line: bytes | None = None) -> None:
        """Route ``msg`` from endpoint ``src`` (the envelope's ``src`` is not trusted)."""
        dest = msg["dest"]
        body = msg["body"]
        now = self.loop.now
        self.sent += 1
        t = body.get("type")
        self.by_type[t if isinstance(t, str) else "?"] += 1
        if src in self.servers and dest in self.servers:
            self.between_servers += 1
        rec = None
        if len(self.log) < LOG_LIMIT:
            rec = [now, src, dest, t, body.get("msg_id"), body.get("in_reply_to"), None, None]
            self.log.append(rec)
        ep = self.endpoints.get(dest)
        if ep is None:
            self.problems.add("unknown-dest", src, self.loop.rel(), f"{src} sent a {t!r} message to {dest!r}, "
                              f"which is no node, client or service of this run")
            self._drop(rec, "unknown-dest")
            return
        if frozenset((src, dest)) in self.cut:
            self._drop(rec, "partition")
            return
        at = now
        if self.latency_ns > 0:
            at += int(self.rng.expovariate(1.0) * self.latency_ns)
        if at <= now and not self._pending:
            self._deliver(src, dest, ep.incarnation, msg, line, rec)
            return
        seq = self._seq
        self._seq += 1
        heapq.heappush(self._pending, (at, seq, src, ep.incarnation, msg, line, rec))
        if self._pending[0][1] == seq:  # the new head: the loop must wake for it
            self.loop.call_at(at, self._flush)

    def _flush(self) -> None:
        now = self.loop.now
        while self._pending and self._pending[0][0] <= now:
            _, _, src, inc, msg, line, rec = heapq.heappop(self._pending)
            assert msg is not None
            self._deliver(src, msg["dest"], inc, msg, line, rec)
        if self._pending:
            self.loop.call_at(self._pending[0][0], self._flush)

    def _deliver(self, src: str, dest: str, inc: int, msg: dict[str, Any], line: bytes | None,
                 rec: list[Any] | None) -> None:
        ep = self.endpoints[dest]
        if frozenset((src, dest)) in self.cut:
            self._drop(rec, "partition")
            return
        if ep.incarnation != inc:
            self._drop(rec, "receiver restarted")
            return
        if src != "c0" and not getattr(ep, "ready", True):
            # a (re)started node hears nothing but init until it answers init_ok: its
            # peers' messages would otherwise reach it before it knows its own name
            self._drop(rec, "receiver not initialised")
            return
        if getattr(ep, "backlog", 0) > MAX_BACKLOG_BYTES:
            self._drop(rec, "receiver not reading")
            return
        if rec is not None:
            rec[6] = self.loop.now
        self.delivered += 1
        ep.deliver(msg, line)

    def _drop(self, rec: list[Any] | None, why: str) -> None:
        self.dropped[why] += 1
        if rec is not None:
            rec[7] = why

    # ------------------------------------------------------------------ cuts
    def set_cut(self, pairs: Any) -> None:
        """Cut every pair (both ways). The services live with the majority: a server that
        the cut leaves unable to reach a majority of the servers (itself included) is cut
        from every service too, as a node on the minority side of a real partition loses
        the datastore (halves: the minority side; isolate-one: that node; a majority ring
        or a bridge leave every server a majority, so they keep the services)."""
        cut = {frozenset(p) for p in pairs}
        if cut and self.services:
            majority = len(self.servers) // 2 + 1
            for s in self.servers:
                reach = sum(1 for o in self.servers if o == s or frozenset((s, o)) not in cut)
                if reach < majority:
                    cut.update(frozenset((s, svc)) for svc in self.services)
        self.cut = cut

    # ------------------------------------------------------------------ results
    def stats(self) -> dict[str, Any]:
        return {"messages_sent": self.sent, "messages_delivered": self.delivered,
                "messages_dropped": sum(self.dropped.values()), "dropped_by_reason": dict(self.dropped),
                "messages_between_servers": self.between_servers,
                "messages_by_type": dict(self.by_type.most_common(20))}

    def log_rows(self) -> list[dict[str, Any]]:
        """The log with times in ns since the run's main phase began (boot is negative)."""
        keys = ("sent", "src", "dest", "type", "msg_id", "in_reply_to", "received", "dropped")
        t0 = self.loop.start
        rows = []
        for r in self.log:
            row = dict(zip(keys, r))
            row["sent"] -= t0
            if row["received"] is not None:
                row["received"] -= t0
            rows.append({k: v for k, v in row.items() if v is not None})
        return rows
