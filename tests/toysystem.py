"""A deliberately tiny replicated register, for testing the harness without ZAB.

One primary (the first server) applies every operation and persists writes before
answering; with the bug ``toy-async-backup-reads`` clients read from a random server,
whose copy is replicated asynchronously: stale reads, which the checker must flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.node import CancelTimer, ClientResponse, Node, Persist, Reply, Send, SetTimer, trace
from harness.system import NodeContext, SystemSpec, register_system


@dataclass(frozen=True, slots=True)
class Req:
    op_id: int
    f: str
    key: Any
    value: Any


@dataclass(frozen=True, slots=True)
class Resp:
    op_id: int
    type: str
    value: Any


@dataclass(frozen=True, slots=True)
class Copy:
    key: Any
    value: Any


class ToyServer(Node):
    def __init__(self, ctx: NodeContext):
        self.node_id = ctx.node_id
        self.primary = ctx.node_id == ctx.servers[0]
        self.servers = ctx.servers
        self.data: dict = {}
        self.waiting: dict = {}

    def on_start(self, stored, now):
        for k, v in stored.get("data", ()):
            self.data[k] = v
        return [trace("boot", keys=len(self.data))]

    def on_message(self, src, msg, now):
        if isinstance(msg, Copy):
            self.data[msg.key] = msg.value
            return []
        if msg.f == "read":
            return [Send(src, Resp(msg.op_id, "ok", self.data.get(msg.key)))]
        if not self.primary:
            return [Send(src, Resp(msg.op_id, "fail", None))]
        if msg.f == "cas":
            exp, new = msg.value
            if self.data.get(msg.key) != exp:
                return [Send(src, Resp(msg.op_id, "fail", None))]
            value = new
        else:
            value = msg.value
        self.data[msg.key] = value
        self.waiting[msg.op_id] = (src, msg)
        return [Persist("data", ((msg.key, value),), token=msg.op_id)]

    def on_persisted(self, token, now):
        src, msg = self.waiting.pop(token)
        out = [Send(src, Resp(msg.op_id, "ok", None)), trace("write", key=msg.key)]
        for s in self.servers[1:]:
            out.append(Send(s, Copy(msg.key, self.data[msg.key])))
        return out

    def state_digest(self):
        return sorted(self.data.items())


class ToyClient(Node):
    TIMEOUT = 1_000_000_000

    def __init__(self, ctx: NodeContext):
        self.ctx = ctx
        self.op = None

    def on_client(self, request, now):
        self.op = request
        target = self.ctx.servers[0]
        if request.f == "read" and "toy-async-backup-reads" in self.ctx.bugs:
            target = self.ctx.rng.choice(self.ctx.servers)
        return [Send(target, Req(request.op_id, request.f, request.key, request.value)),
                SetTimer("timeout", now + self.TIMEOUT)]

    def on_message(self, src, msg, now):
        if self.op is None or msg.op_id != self.op.op_id:
            return []
        self.op = None
        return [CancelTimer("timeout"), Reply(ClientResponse(msg.op_id, msg.type, msg.value, node=src))]

    def on_timer(self, name, now):
        if self.op is None:
            return []
        op, self.op = self.op, None
        return [Reply(ClientResponse(op.op_id, "fail" if op.f == "read" else "info", error="timeout"))]


class ToySpec(SystemSpec):
    name = "toy"
    files = ("data",)
    crash_points = ("write",)
    bug_names = ("toy-async-backup-reads",)

    def default_settings(self):
        return {}

    def make_server(self, ctx):
        return ToyServer(ctx)

    def make_client(self, ctx):
        return ToyClient(ctx)

    def is_leader(self, server):
        return server.primary


register_system("toy", ToySpec)
