"""The client library of the primary-backup register, serving the harness's register
workload (``read``, ``write``, ``cas [expected, new]``).

It sends an operation to the server it believes is the primary. A server that is not
serving refuses it (``NotPrimary``, naming the primary it knows of): nothing happened, so
the client tries the next server, at most once each, then fails the operation. With no
answer within ``TIMEOUT`` the outcome is unknown: a write or cas is ``info`` (it may
still commit), a read ``fail`` (a read changes nothing, so it may be taken as not done).
"""

from __future__ import annotations

from typing import Any

from harness.node import CancelTimer, ClientRequest, ClientResponse, Effect, Node, Reply, Send, SetTimer
from harness.system import NodeContext
from pbregister.messages import NotPrimary, Request, Response

TIMEOUT = 1_000_000_000


class PBClient(Node):
    def __init__(self, ctx: NodeContext):
        self.node_id = ctx.node_id
        self.servers = ctx.servers
        self.primary = ctx.servers[0]
        self.op: ClientRequest | None = None
        self.tried: set[str] = set()

    def on_client(self, request: ClientRequest, now: int) -> list[Effect]:
        self.op, self.tried = request, {self.primary}
        return [self._send(self.primary), SetTimer("timeout", now + TIMEOUT)]

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        op = self.op
        if op is None or msg.op_id != op.op_id:
            return []  # a late answer to an operation already given up
        if isinstance(msg, NotPrimary):
            untried = [s for s in self.servers if s not in self.tried]
            if not untried:
                return self._finish(ClientResponse(op.op_id, "fail", error="no primary", node=src))
            self.primary = msg.hint if msg.hint in untried else untried[0]
            self.tried.add(self.primary)
            return [self._send(self.primary)]
        if isinstance(msg, Response):
            return self._finish(ClientResponse(op.op_id, msg.type, msg.value, msg.error, node=src))
        return []

    def on_timer(self, name: str, now: int) -> list[Effect]:
        if self.op is None:
            return []
        op = self.op
        # perhaps the primary is gone: start the next operation elsewhere
        self.primary = self.servers[(self.servers.index(self.primary) + 1) % len(self.servers)]
        self.op = None
        return [Reply(ClientResponse(op.op_id, "fail" if op.f == "read" else "info", error="timeout"))]

    def _send(self, server: str) -> Send:
        op = self.op
        assert op is not None
        return Send(server, Request(op.op_id, op.f, op.key, op.value))

    def _finish(self, response: ClientResponse) -> list[Effect]:
        self.op = None
        return [CancelTimer("timeout"), Reply(response)]
