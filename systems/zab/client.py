"""The ZooKeeper client library as a node: turns workload operations into server requests.

One ``ZabClient`` is one ZooKeeper handle (ClientCnxn): connected to one server at a
time, with at most one request outstanding, so its operations run in FIFO order. The
register workload's operations map onto ZooKeeper calls on the znode ``/<key>``:

- ``read``: with ``reads="sync"`` (default) ``sync()`` then ``getData`` on the same server,
  which is linearizable since ZOOKEEPER-1675; with ``reads="local"`` a plain ``getData``,
  which is only sequentially consistent (may be stale). The value read is ``None`` when
  the znode is absent; ``extra`` holds ``("zxid", z)``, the server's applied zxid.
- ``write v``: ``setData(path, v, version=-1)`` (creates the znode if absent).
- ``cas [expected, new]``: as ZooKeeper users write it: ``getData``; ``fail`` if the value
  differs; else ``setData(path, new, version)`` with the version read (``create`` if the
  znode was absent and ``expected`` is None); a BadVersion/NodeExists answer is ``fail``.

Outcomes, Jepsen style. ``ok``: it happened. ``fail``: it definitely did not happen
(refused by a server that is not serving or is behind us, rejected before reaching the
leader, a read that timed out, a cas whose value differed). ``info``: unknown (a write was
sent and neither its answer nor a refusal came back within ``client_timeout``, or the
server dropped the connection after we sent it).

Failover. A refused connect or request makes the client try another server (picked with
its RNG) after ``client_retry_delay``, until the operation's deadline. A server silent past
the deadline is abandoned: the next operation connects elsewhere. On every (re)connect the
client sends the newest zxid it has seen; a server that has applied less refuses it, so
a session never sees the state go back in time (single system image).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from harness.node import (
    CancelTimer,
    ClientRequest,
    ClientResponse,
    Effect,
    Node,
    Reply,
    Send,
    SetTimer,
)
from harness.system import NodeContext
from systems.zab import messages as m
from systems.zab.api import CONNECTION_LOSS, TIMER_PREFIX
from systems.zab.settings import merged

# names start with api.TIMER_PREFIX, so a host node embedding a client can route them
OP_TIMER = TIMER_PREFIX + "op_deadline"
CONNECT_TIMER = TIMER_PREFIX + "connect"
RETRY_TIMER = TIMER_PREFIX + "retry"


def key_path(key: Any) -> str:
    """Workload key ``x1`` -> znode ``/x1``."""
    k = str(key)
    return k if k.startswith("/") else "/" + k


@dataclass(slots=True)
class _Op:
    req: ClientRequest
    deadline: int
    stage: str = "idle"  # connect | retry_wait | sync | read | write | cas_read | cas_write
    cxid: int = 0
    write_sent: bool = False  # a write is out and its outcome unknown
    server: str = ""  # the server the last request went to


class ZabClient(Node):
    """A ZooKeeper client handle. ``ctx.servers`` is the connect string."""

    def __init__(self, ctx: NodeContext) -> None:
        self.node_id = ctx.node_id
        self.servers = tuple(ctx.servers)
        self.rng = ctx.rng
        s = merged(ctx.settings)
        self.reads: str = s["reads"]
        if self.reads not in ("sync", "local"):
            raise ValueError(f"reads must be 'sync' or 'local', not {self.reads!r}")
        self.client_timeout: int = s["client_timeout"]
        self.connect_timeout: int = s["connect_timeout"]
        self.retry_delay: int = s["client_retry_delay"]
        self.session_timeout: int = s["session_timeout"]
        self.server = self.servers[0] if self.servers else ""
        self.conn = 0
        self.connected = False
        self.last_zxid = 0  # newest zxid seen in any answer
        self.cxid = 0
        self.queue: deque[ClientRequest] = deque()
        self.op: _Op | None = None

    # ===================================================================== inputs
    def on_start(self, stored: dict[str, tuple], now: int) -> list[Effect]:
        self.server = self.rng.choice(self.servers)
        return []

    def on_client(self, request: ClientRequest, now: int) -> list[Effect]:
        self.queue.append(request)
        if self.op is None:
            return self._start_next(now)
        return []

    def on_timer(self, name: str, now: int) -> list[Effect]:
        op = self.op
        if op is None:
            return []
        if name == OP_TIMER:
            # the server did not answer in time: give up on it, and on the operation
            effects = self._abandon_server()
            if op.write_sent:
                return effects + self._finish(now, "info", error=CONNECTION_LOSS)
            return effects + self._finish(now, "fail", error=CONNECTION_LOSS)
        if name == CONNECT_TIMER and op.stage == "connect":
            return self._retry_elsewhere(now)
        if name == RETRY_TIMER and op.stage == "retry_wait":
            return self._connect(now)
        return []

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        if getattr(msg, "conn", None) != self.conn or src != self.server:
            return []  # an answer on a connection we have left
        if isinstance(msg, m.ConnectResponse):
            return self._on_connect_response(msg, now)
        if isinstance(msg, m.Disconnect):
            return self._on_disconnect(msg, now)
        if isinstance(msg, m.ClientOpResponse):
            op = self.op
            if op is None or msg.cxid != op.cxid or not self.connected:
                return []  # stale
            self.last_zxid = max(self.last_zxid, msg.zxid)
            return self._on_response(op, msg, now)
        return []

    # ============================================================ connection
    def _connect(self, now: int) -> list[Effect]:
        assert self.op is not None
        self.conn = self.rng.getrandbits(48)
        self.connected = False
        self.op.stage = "connect"
        return [
            Send(self.server, m.ConnectRequest(self.conn, self.last_zxid, self.session_timeout)),
            SetTimer(CONNECT_TIMER, now + self.connect_timeout),
        ]

    def _on_connect_response(self, msg: m.ConnectResponse, now: int) -> list[Effect]:
        op = self.op
        if op is None or op.stage != "connect":
            return []
        if not msg.ok:
            return [CancelTimer(CONNECT_TIMER)] + self._retry_elsewhere(now)
        self.connected = True
        self.last_zxid = max(self.last_zxid, msg.zxid)
        return [CancelTimer(CONNECT_TIMER)] + self._first_step(op)

    def _abandon_server(self) -> list[Effect]:
        """Close our connection and pick another server for next time."""
        effects: list[Effect] = []
        if self.connected:
            effects.append(Send(self.server, m.Disconnect(self.conn, "client moves on")))
        self.connected = False
        self.conn = 0
        others = [s for s in self.servers if s != self.server]
        if others:
            self.server = self.rng.choice(others)
        return effects

    def _retry_elsewhere(self, now: int) -> list[Effect]:
        """Nothing happened on this server: try another one, if time remains."""
        op = self.op
        assert op is not None
        effects = self._abandon_server()
        op.write_sent = False
        op.cxid = 0
        if now + self.retry_delay >= op.deadline:
            return effects + self._finish(now, "fail", error=CONNECTION_LOSS)
        op.stage = "retry_wait"
        return effects + [SetTimer(RETRY_TIMER, now + self.retry_delay)]

    def _on_disconnect(self, msg: m.Disconnect, now: int) -> list[Effect]:
        self.connected = False
        op = self.op
        if op is None or op.stage == "retry_wait":
            return []
        if op.write_sent and op.cxid <= msg.last_cxid:
            # the server read our write before it closed: it may have reached the leader
            effects = self._abandon_server()
            return effects + self._finish(now, "info", error=CONNECTION_LOSS)
        return self._retry_elsewhere(now)

    # ============================================================= operations
    def _start_next(self, now: int) -> list[Effect]:
        while self.queue and self.op is None:
            req = self.queue.popleft()
            if req.f not in ("read", "write", "cas"):
                return [Reply(ClientResponse(req.op_id, "fail", None, f"unknown op {req.f!r}"))] + self._start_next(now)
            if req.f == "cas" and not (isinstance(req.value, (list, tuple)) and len(req.value) == 2):
                return [Reply(ClientResponse(req.op_id, "fail", None, "cas takes [expected, new]"))] + self._start_next(now)
            self.op = _Op(req, now + self.client_timeout)
            effects: list[Effect] = [SetTimer(OP_TIMER, self.op.deadline)]
            if self.connected:
                return effects + self._first_step(self.op)
            return effects + self._connect(now)
        return []

    def _request(self, op: _Op, stage: str, kind: str, data: Any = None, version: int = -1) -> list[Effect]:
        self.cxid += 1
        op.cxid = self.cxid
        op.stage = stage
        if stage in ("write", "cas_write"):
            op.write_sent = True
        op.server = self.server
        path = key_path(op.req.key)
        return [Send(self.server, m.ClientOp(self.conn, self.cxid, kind, path, data, version))]

    def _first_step(self, op: _Op) -> list[Effect]:
        f = op.req.f
        if f == "read":
            if self.reads == "sync":
                return self._request(op, "sync", m.SYNC)
            return self._request(op, "read", m.GET_DATA)
        if f == "write":
            return self._request(op, "write", m.SET_DATA, op.req.value, -1)
        return self._request(op, "cas_read", m.GET_DATA)

    def _on_response(self, op: _Op, r: m.ClientOpResponse, now: int) -> list[Effect]:
        if r.error is not None and (r.error == "not connected" or r.error.startswith("rejected")):
            # the server refused before anything reached the leader's log: retry elsewhere
            return self._retry_elsewhere(now)
        zx = (("zxid", r.zxid),)
        if op.stage == "sync":
            return self._request(op, "read", m.GET_DATA)
        if op.stage == "read":
            return self._finish(now, "ok", r.data if r.exists else None, extra=zx)
        if op.stage == "write":
            if r.error is None:
                return self._finish(now, "ok", None, extra=zx)
            return self._finish(now, "fail", None, error=r.error, extra=zx)
        if op.stage == "cas_read":
            expected, new = op.req.value
            current = r.data if r.exists else None
            if current != expected:
                return self._finish(now, "fail", None, error="value mismatch", extra=zx)
            if r.exists:
                return self._request(op, "cas_write", m.SET_DATA, new, r.version)
            return self._request(op, "cas_write", m.CREATE, new)
        if op.stage == "cas_write":
            if r.error is None:
                return self._finish(now, "ok", None, extra=zx)
            return self._finish(now, "fail", None, error=r.error, extra=zx)
        return []

    def _finish(
        self, now: int, type_: str, value: Any = None, error: str | None = None, extra: tuple = ()
    ) -> list[Effect]:
        op = self.op
        assert op is not None
        self.op = None
        effects: list[Effect] = [
            CancelTimer(OP_TIMER),
            CancelTimer(CONNECT_TIMER),
            CancelTimer(RETRY_TIMER),
            Reply(ClientResponse(op.req.op_id, type_, value, error, op.server or None, extra)),
        ]
        return effects + self._start_next(now)
