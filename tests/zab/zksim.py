"""Helpers for the ZooKeeper-API tests: a ZabSim that keeps every reply (events included, in
order), client partitions, and a host node that embeds a ZabClient as api.py describes."""

from __future__ import annotations

from typing import Any

from directsim import MS, ZabSim

from harness.node import CancelTimer, ClientRequest, ClientResponse, Node, Reply, Send, SetTimer, Trace
from harness.system import NodeContext
from systems.zab.api import EVENT_OP_ID, TIMER_PREFIX, is_zk_message
from systems.zab.client import ZabClient

__all__ = ["MS", "ZkSim", "Host"]


class ZkSim(ZabSim):
    """``log[node]``: every ClientResponse a node replied, events (op id -1) included."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.log: dict[str, list[ClientResponse]] = {}

    def _apply(self, n: str, effects: list) -> None:
        for e in effects:
            if isinstance(e, Reply):
                self.log.setdefault(n, []).append(e.response)
        super()._apply(n, effects)

    def events(self, client: str, type_: str | None = None) -> list[dict]:
        return [r.value for r in self.log.get(client, [])
                if r.op_id == EVENT_OP_ID and (type_ is None or r.value["type"] == type_)]

    def call(self, client: str, f: str, path: str | None = None, **args: Any) -> ClientResponse:
        return self.do(client, f, path, args)  # type: ignore[arg-type]

    def send(self, client: str, f: str, path: str | None = None, **args: Any) -> int:
        return self.op(client, f, path, args)  # type: ignore[arg-type]

    def cut_client(self, client: str, servers: tuple[str, ...] | None = None) -> None:
        for s in servers or self.servers:
            self.cut.add((client, s))
            self.cut.add((s, client))

    def uncut_client(self, client: str) -> None:
        self.cut = {(a, b) for a, b in self.cut if client not in (a, b)}

    def session_of(self, client: str) -> int:
        return self.nodes[client].session_id

    def add_node(self, node_id: str, node: Node) -> None:
        """A node of the test's own (a host) that the sim drives like a client."""
        self.inc.setdefault(node_id, 0)
        self.offset.setdefault(node_id, 0)
        self.nodes[node_id] = node
        self._apply(node_id, node.on_start({}, self.clock(node_id)))

    def ctx_for(self, node_id: str, settings: dict | None = None) -> NodeContext:
        self.inc.setdefault(node_id, 0)
        return self.ctx(node_id, self.servers, {**self.spec.default_settings(), **(settings or {})})


class Host(Node):
    """A node that embeds a ZooKeeper session (like a Kafka broker or an election
    candidate): it forwards ZooKeeper messages and ``zk.`` timers to its ZabClient, passes
    the client's Send/SetTimer/CancelTimer/Trace effects through, and consumes its Replies
    (recorded in ``got``). The harness's requests reach it as ``on_client``: it forwards
    them under its own op ids and answers the harness when the client answers."""

    def __init__(self, ctx: NodeContext) -> None:
        self.node_id = ctx.node_id
        self.zk = ZabClient(ctx)
        self.got: list[ClientResponse] = []
        self.own_timers: list[str] = []
        self._next = 1000
        self._asked: dict[int, int] = {}  # our op id -> the harness's

    def _route(self, effects: list) -> list:
        out: list = []
        for e in effects:
            if isinstance(e, Reply):
                self.got.append(e.response)
                r = e.response
                if r.op_id in self._asked:
                    asked = self._asked.pop(r.op_id)
                    out.append(Reply(ClientResponse(asked, r.type, r.value, r.error, r.node, r.extra)))
            else:
                assert isinstance(e, (Send, SetTimer, CancelTimer, Trace)), e
                out.append(e)
        return out

    def on_start(self, stored: dict, now: int) -> list:
        return [SetTimer("host.tick", now + 100 * MS)] + self._route(self.zk.on_start(stored, now))

    def on_client(self, request: ClientRequest, now: int) -> list:
        self._next += 1
        self._asked[self._next] = request.op_id
        return self._route(self.zk.on_client(ClientRequest(self._next, request.f, request.key, request.value), now))

    def on_message(self, src: str, msg: Any, now: int) -> list:
        if is_zk_message(msg):
            return self._route(self.zk.on_message(src, msg, now))
        return []

    def on_timer(self, name: str, now: int) -> list:
        if name.startswith(TIMER_PREFIX):
            return self._route(self.zk.on_timer(name, now))
        self.own_timers.append(name)
        return [SetTimer("host.tick", now + 100 * MS)]
