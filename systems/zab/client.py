"""The ZooKeeper client library as a node (ZooKeeper's ClientCnxn): one session handle.

It serves two kinds of callers:

- a host node that embeds it and speaks the client API of ``systems/zab/api.py`` (the
  contract: create, delete, exists, getData, setData, getChildren, sync, close, reopen;
  watch and session events as ``EVENT_OP_ID`` replies);
- the harness's register workload, whose operations (``read``, ``write``, ``cas``) are
  mapped onto ZooKeeper calls on the znode ``/<key>``, below.

Connection and session. The first request connects to a server (picked with the RNG) and
asks for a session (``ConnectRequest`` with session 0); the server makes it a
``createSession`` txn and answers once it is applied, with the session id and the timeout
it negotiated (clamped to [2, 20] ticks). From then on the client keeps a connection
open: it pings when it has sent nothing for a third of the timeout, and it considers the
connection dead when it has heard nothing for two thirds (``readTimeout``); then it emits
``Disconnected``, fails what was outstanding with ``ConnectionLoss``, and after
``client_retry_delay`` connects to another server with its session id and the newest zxid
it has seen (a server that has applied less refuses: single system image). Reattached, it
emits ``SyncConnected`` and re-registers its watches (``SetWatches`` with its last zxid:
the server fires those whose znode changed in between). A server that no longer has the
session answers ``SessionExpired``: the client emits ``Expired`` and fails every request
with ``SessionExpired`` until the host asks ``reopen`` (a new session). Expiry itself is
decided by the leader (server.py, sessions.py), never by the client.

Requests. Several may be outstanding; they are sent in order on the one connection and
answered in order (replies that arrive early wait for earlier ones). Reads are answered
by the server at once and writes once applied, so a read is held back while a write or
sync of ours is in flight: it then sees our own writes (ZooKeeper's server queues it
instead; the effect is the same). A request not answered within ``client_timeout`` makes
the client drop the connection (a server that is up but stuck is as good as gone).
Outcomes when the connection is lost: reads ``fail``; writes ``fail`` if the server
provably never read them (it refused them, or its ``Disconnect`` says it stopped before
them), else ``info`` (fate unknown); both with ``ConnectionLoss``. Requests made while
disconnected wait for the next connection (up to ``client_timeout``).

Register operations (Jepsen's register on ZooKeeper), one at a time, each exclusive (it
waits for earlier requests and holds later ones):

- ``read``: with ``reads="sync"`` (default) ``sync()`` then ``getData`` on the same server,
  which is linearizable since ZOOKEEPER-1675; with ``reads="local"`` a plain ``getData``,
  which is only sequentially consistent (may be stale). The value read is ``None`` when
  the znode is absent; ``extra`` holds ``("zxid", z)``, the server's applied zxid.
- ``write v``: ``setData(path, v, version=-1)``, creating the znode if absent.
- ``cas [expected, new]``: as ZooKeeper users write it: ``getData``; ``fail`` if the value
  differs; else ``setData(path, new, version)`` with the version read (``create`` if the
  znode was absent and ``expected`` is None); a BadVersion/NodeExists answer is ``fail``.

  Outcomes: ``ok``: it happened. ``fail``: it definitely did not (refused by a server
  that is not serving or is behind us, a read that timed out, a cas whose value differed,
  a write of an expired session). ``info``: unknown (a write went out and neither its
  answer nor a refusal came back before the operation's deadline, ``client_timeout``, or
  the server dropped the connection after reading it). A refusal, or a connection lost
  before anything was written, makes the operation start over on the next connection
  while its deadline allows. If the session expires, a register operation opens a new one
  itself (a Jepsen client would reopen its handle), keeping its last seen zxid.
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
    OpType,
    Reply,
    Send,
    SetTimer,
)
from harness.system import NodeContext
from systems.zab import messages as m
from systems.zab.api import (
    CONNECTION_LOSS,
    DISCONNECTED,
    EVENT_OP_ID,
    NODE_CHILDREN_CHANGED,
    NODE_CREATED,
    NODE_DATA_CHANGED,
    NODE_DELETED,
    SESSION_EXPIRED,
    SESSION_EXPIRED_ERROR,
    SYNC_CONNECTED,
    TIMER_PREFIX,
)
from systems.zab.datatree import EPHEMERAL, NO_NODE, SEQUENTIAL, SET_EXISTING
from systems.zab.settings import merged

# names start with api.TIMER_PREFIX, so a host node embedding a client can route them
OP_TIMER = TIMER_PREFIX + "op_deadline"  # the register operation's deadline
CONNECT_TIMER = TIMER_PREFIX + "connect"  # no answer to a ConnectRequest
RETRY_TIMER = TIMER_PREFIX + "retry"  # pause before connecting again
PING_TIMER = TIMER_PREFIX + "ping"  # idle: ping
READ_TIMER = TIMER_PREFIX + "read_timeout"  # silent server: connection lost
REQUEST_TIMER = TIMER_PREFIX + "request"  # an API request's deadline

# connection states
IDLE = "idle"  # no connection (none asked for yet)
CONNECTING = "connecting"
CONNECTED = "connected"
RETRY_WAIT = "retry_wait"
EXPIRED = "expired"  # the session is gone: requests fail until "reopen"
CLOSED = "closed"  # closed by the host: requests fail until "reopen"

#: api.py request names -> ClientOp kinds
API_OPS = {
    "create": m.CREATE,
    "delete": m.DELETE,
    "exists": m.EXISTS,
    "getData": m.GET_DATA,
    "setData": m.SET_DATA,
    "getChildren": m.GET_CHILDREN,
    "sync": m.SYNC,
    "close": m.CLOSE_SESSION,
}
REGISTER_OPS = ("read", "write", "cas")

# errors with which a server refuses a request before it reaches the leader's log
NOT_CONNECTED = "not connected"
REJECTED = "rejected:"


def key_path(key: Any) -> str:
    """Workload key ``x1`` -> znode ``/x1``."""
    k = str(key)
    return k if k.startswith("/") else "/" + k


def _event(type_: str, path: str | None = None) -> Reply:
    return Reply(ClientResponse(EVENT_OP_ID, "ok", {"type": type_, "path": path}))


@dataclass(slots=True)
class _Request:
    """One ClientOp, queued or in flight: a host's API request (``req``) or a step of the
    running register operation (``req`` None)."""

    req: ClientRequest | None
    kind: str
    path: str
    data: Any = None
    version: int = -1
    flags: int = 0
    watch: bool = False
    deadline: int = 0  # API requests only
    cxid: int = 0  # 0: not sent yet
    answer: m.ClientOpResponse | None = None  # arrived, waiting for earlier answers
    refused: bool = False  # the server refused it: it did not happen


@dataclass(slots=True)
class _Op:
    """A register operation (read / write / cas) in progress."""

    req: ClientRequest
    deadline: int
    stage: str = "connect"  # connect | sync | read | write | cas_read | cas_write
    write_sent: bool = False  # a write is out and its outcome unknown
    server: str = ""  # the server the last request went to


class ZabClient(Node):
    """A ZooKeeper client handle. ``ctx.servers`` is the connect string; ``ctx.node_id``
    is the id servers answer to (a host's own id when embedded)."""

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
        self.server = ""  # picked with the RNG at the first connect (or on_start)
        self.state = IDLE
        self.conn = 0
        self.session_id = 0
        self.negotiated_timeout = self.session_timeout
        self.last_zxid = 0  # newest zxid seen in any answer
        self.cxid = 0
        self.last_sent = 0
        self.last_heard = 0
        self.queue: deque[_Request | _Op] = deque()  # not sent yet, in order
        self.inflight: deque[_Request] = deque()  # sent on this connection, in order
        self.op: _Op | None = None  # the register operation running
        self._request_timer_at: int | None = None
        # watches we hold at our server (re-registered after a reconnect)
        self.data_watches: set[str] = set()
        self.exist_watches: set[str] = set()
        self.child_watches: set[str] = set()

    # ===================================================================== inputs
    def on_start(self, stored: dict[str, tuple], now: int) -> list[Effect]:
        self.server = self.rng.choice(self.servers)
        return []

    def on_client(self, request: ClientRequest, now: int) -> list[Effect]:
        f = request.f
        if f in REGISTER_OPS:
            if f == "cas" and not (isinstance(request.value, (list, tuple)) and len(request.value) == 2):
                return [Reply(ClientResponse(request.op_id, "fail", None, "cas takes [expected, new]"))]
            self.queue.append(_Op(request, now + self.client_timeout))
            return self._pump(now)
        if f == "reopen":
            return self._reopen(now) + [Reply(ClientResponse(request.op_id, "ok", None))] + self._pump(now)
        if f not in API_OPS:
            return [Reply(ClientResponse(request.op_id, "fail", None, f"unknown op {f!r}"))]
        if f == "close" and (self.state in (EXPIRED, CLOSED)
                             or (self.state == IDLE and not self.session_id and not self.queue)):
            if self.state == IDLE:
                self.state = CLOSED
            return [Reply(ClientResponse(request.op_id, "ok", None))]
        if self.state in (EXPIRED, CLOSED):
            return [Reply(ClientResponse(request.op_id, "fail", None, SESSION_EXPIRED_ERROR))]
        args: dict[str, Any] = request.value if isinstance(request.value, dict) else {}
        flags = (EPHEMERAL if args.get("ephemeral") else 0) | (SEQUENTIAL if args.get("sequential") else 0)
        if f == "setData":
            flags |= SET_EXISTING
        path = key_path(request.key) if request.key is not None else "/"
        version = args.get("version")
        r = _Request(
            request,
            API_OPS[f],
            path,
            args.get("data"),
            int(version if version is not None else -1),
            flags,
            bool(args.get("watch", False)),
            now + self.client_timeout,
        )
        self.queue.append(r)
        return self._pump(now) + self._arm_request_timer(now)

    def on_timer(self, name: str, now: int) -> list[Effect]:
        if name == OP_TIMER:
            return self._op_deadline(now)
        if name == CONNECT_TIMER and self.state == CONNECTING:
            return self._retry_elsewhere(now)
        if name == RETRY_TIMER and self.state == RETRY_WAIT:
            return self._connect(now)
        if name == PING_TIMER and self.state == CONNECTED:
            interval = self.negotiated_timeout // 3
            effects: list[Effect] = []
            if now >= self.last_sent + interval:
                effects.append(Send(self.server, m.ClientPing(self.conn)))
                self.last_sent = now
            return effects + [SetTimer(PING_TIMER, self.last_sent + interval)]
        if name == READ_TIMER and self.state == CONNECTED:
            read_timeout = self.negotiated_timeout * 2 // 3
            if now >= self.last_heard + read_timeout:
                return self._lose_connection(now, None)
            return [SetTimer(READ_TIMER, self.last_heard + read_timeout)]
        if name == REQUEST_TIMER:
            self._request_timer_at = None
            return self._request_deadlines(now)
        return []

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        if src != self.server or getattr(msg, "conn", None) != self.conn or self.conn == 0:
            return []  # an answer on a connection we have left
        if isinstance(msg, m.ConnectResponse):
            return self._on_connect_response(msg, now)
        if self.state != CONNECTED:
            return []
        self.last_heard = now
        if isinstance(msg, m.ClientOpResponse):
            return self._on_response(msg, now)
        if isinstance(msg, m.WatchEvent):
            return self._on_watch_event(msg)
        if isinstance(msg, m.Disconnect):
            return self._lose_connection(now, msg.last_cxid if msg.last_cxid >= 0 else None)
        return []  # ClientPong: heard from it, that is all

    # ============================================================ connection
    def _connect(self, now: int) -> list[Effect]:
        if not self.server:
            self.server = self.rng.choice(self.servers)
        self.conn = self.rng.getrandbits(48)
        self.state = CONNECTING
        return [
            Send(self.server, m.ConnectRequest(self.conn, self.last_zxid, self.session_timeout, self.session_id)),
            SetTimer(CONNECT_TIMER, now + self.connect_timeout),
        ]

    def _on_connect_response(self, msg: m.ConnectResponse, now: int) -> list[Effect]:
        if self.state != CONNECTING:
            return []
        effects: list[Effect] = [CancelTimer(CONNECT_TIMER)]
        if not msg.ok:
            if msg.error == SESSION_EXPIRED_ERROR and self.session_id:
                return effects + self._expire(now)
            return effects + self._retry_elsewhere(now)
        reattached = self.session_id != 0
        seen = self.last_zxid  # what our watches are as of (not the server's zxid)
        self.state = CONNECTED
        self.session_id = msg.session
        self.negotiated_timeout = msg.timeout or self.session_timeout
        self.last_zxid = max(self.last_zxid, msg.zxid)
        self.last_heard = self.last_sent = now
        effects.append(_event(SYNC_CONNECTED))
        if reattached and (self.data_watches or self.exist_watches or self.child_watches):
            effects.append(
                Send(
                    self.server,
                    m.SetWatches(
                        self.conn,
                        seen,
                        tuple(sorted(self.data_watches)),
                        tuple(sorted(self.exist_watches)),
                        tuple(sorted(self.child_watches)),
                    ),
                )
            )
        effects += [
            SetTimer(PING_TIMER, now + self.negotiated_timeout // 3),
            SetTimer(READ_TIMER, now + self.negotiated_timeout * 2 // 3),
        ]
        if self.op is not None and self.op.stage == "connect":
            effects += self._op_first_step(now)
        return effects + self._pump(now)

    def _pick_other_server(self) -> None:
        others = [s for s in self.servers if s != self.server]
        if others:
            self.server = self.rng.choice(others)

    def _retry_elsewhere(self, now: int) -> list[Effect]:
        """This server would not take us: try another one after a pause."""
        self.conn = 0
        self.state = RETRY_WAIT
        self._pick_other_server()
        effects: list[Effect] = [SetTimer(RETRY_TIMER, now + self.retry_delay)]
        op = self.op
        if op is not None and op.stage == "connect" and now + self.retry_delay >= op.deadline:
            effects += self._op_finish(now, "fail", error=CONNECTION_LOSS)
        return effects

    def _lose_connection(self, now: int, read_upto: int | None) -> list[Effect]:
        """The connection is gone (the server closed it, or it is silent or stuck). Every
        request on it ends; ``read_upto``: the server's word on the last request it read
        (requests after it did not happen), None if unknown."""
        assert self.state == CONNECTED
        effects: list[Effect] = [
            Send(self.server, m.Disconnect(self.conn, "client moves on")),
            CancelTimer(PING_TIMER),
            CancelTimer(READ_TIMER),
        ]
        self.state = RETRY_WAIT  # (so that nothing below sends or connects)
        self.conn = 0
        inflight, self.inflight = self.inflight, deque()
        for r in inflight:
            if r.answer is not None:
                effects += self._complete(r, r.answer, now)
                continue
            maybe = not r.refused and (read_upto is None or r.cxid <= read_upto)
            if r.req is None:
                effects += self._op_step_lost(now, maybe) if self.op is not None else []
            else:
                write = r.kind in m.WRITE_OPS
                effects.append(self._reply(r, "info" if write and maybe else "fail", error=CONNECTION_LOSS))
        # ZooKeeper fails what was queued too; register operations wait for the next connection
        queued, self.queue = self.queue, deque()
        for q in queued:
            if isinstance(q, _Op):
                self.queue.append(q)
            else:
                effects.append(self._reply(q, "fail", error=CONNECTION_LOSS))
        effects.append(_event(DISCONNECTED))
        return effects + self._retry_elsewhere(now) + self._arm_request_timer(now)

    def _expire(self, now: int) -> list[Effect]:
        """The ensemble says our session is gone."""
        self.state = EXPIRED
        self.conn = 0
        effects: list[Effect] = [CancelTimer(PING_TIMER), CancelTimer(READ_TIMER), CancelTimer(CONNECT_TIMER),
                                 CancelTimer(RETRY_TIMER)]
        effects += self._fail_all(now, SESSION_EXPIRED_ERROR)
        effects.append(_event(SESSION_EXPIRED))
        if self.op is not None or any(isinstance(r, _Op) for r in self.queue):
            effects += self._reopen(now)  # a register operation opens a new session itself
        return effects + self._arm_request_timer(now)

    def _fail_all(self, now: int, error: str) -> list[Effect]:
        """End every request of the session (answers already in are delivered first)."""
        effects: list[Effect] = []
        inflight, self.inflight = self.inflight, deque()
        for r in inflight:
            if r.answer is not None and r.answer.error != SESSION_EXPIRED_ERROR:
                effects += self._complete(r, r.answer, now)
            elif r.req is None:
                effects += self._op_step_lost(now, False) if self.op is not None else []
            else:
                effects.append(self._reply(r, "fail", error=error))
        queued, self.queue = self.queue, deque()
        for q in queued:
            if isinstance(q, _Op):
                self.queue.append(q)
            else:
                effects.append(self._reply(q, "fail", error=error))
        self.data_watches.clear()
        self.exist_watches.clear()
        self.child_watches.clear()
        return effects

    def _reopen(self, now: int) -> list[Effect]:
        """Start a new session (the old one, if live, is left to expire)."""
        effects: list[Effect] = []
        if self.state == CONNECTED:
            effects.append(Send(self.server, m.Disconnect(self.conn, "client reopens")))
            self.state = IDLE
            effects += self._fail_all(now, CONNECTION_LOSS)
        self.data_watches.clear()
        self.exist_watches.clear()
        self.child_watches.clear()
        self.session_id = 0
        self.conn = 0
        self.state = IDLE
        cancel: list[Effect] = [CancelTimer(PING_TIMER), CancelTimer(READ_TIMER), CancelTimer(CONNECT_TIMER),
                                CancelTimer(RETRY_TIMER)]
        return effects + cancel + self._connect(now)

    # ============================================================== requests
    def _pump(self, now: int) -> list[Effect]:
        """Send what may go now, in order; start a register operation when it is its turn."""
        effects: list[Effect] = []
        while self.queue and self.op is None:
            head = self.queue[0]
            if isinstance(head, _Op):
                if self.inflight:
                    break  # it waits for every earlier request
                self.queue.popleft()
                self.op = head
                effects.append(SetTimer(OP_TIMER, head.deadline))
                if self.state == CONNECTED:
                    effects += self._op_first_step(now)
                break
            if self.state != CONNECTED:
                break
            if head.kind in m.READ_OPS and any(r.kind not in m.READ_OPS for r in self.inflight):
                break  # a read waits for our writes and syncs
            self.queue.popleft()
            effects += self._send(head, now)
        if self.queue or self.op is not None:
            if self.state == IDLE:
                effects += self._connect(now)
            elif self.state in (EXPIRED, CLOSED) and self.op is not None:
                effects += self._reopen(now)  # a register operation opens a new session itself
        return effects

    def _send(self, r: _Request, now: int) -> list[Effect]:
        self.cxid += 1
        r.cxid = self.cxid
        self.inflight.append(r)
        self.last_sent = now
        return [Send(self.server, m.ClientOp(self.conn, r.cxid, r.kind, r.path, r.data, r.version, r.flags, r.watch))]

    def _on_response(self, msg: m.ClientOpResponse, now: int) -> list[Effect]:
        r = None
        for x in self.inflight:
            if x.cxid == msg.cxid:
                r = x
                break
        if r is None or r.answer is not None:
            return []  # stale or duplicated
        if msg.error is not None and (msg.error == NOT_CONNECTED or msg.error.startswith(REJECTED)):
            # refused before it reached the leader's log: it did not happen. "not
            # connected": the server has forgotten this connection, so it read nothing
            # from this request on; "rejected": the leader refused it, later ones unknown
            r.refused = True
            return self._lose_connection(now, msg.cxid - 1 if msg.error == NOT_CONNECTED else None)
        self.last_zxid = max(self.last_zxid, msg.zxid)
        r.answer = msg
        effects: list[Effect] = []
        while self.inflight and self.inflight[0].answer is not None:
            first = self.inflight.popleft()
            assert first.answer is not None
            effects += self._complete(first, first.answer, now)
            if first.answer.error == SESSION_EXPIRED_ERROR and self.state == CONNECTED:
                return effects + self._expire(now)
            if self.state != CONNECTED:
                return effects  # (a close answered)
        return effects + self._pump(now) + self._arm_request_timer(now)

    def _complete(self, r: _Request, a: m.ClientOpResponse, now: int) -> list[Effect]:
        """Deliver one answer to whoever asked."""
        if r.req is None:
            return self._op_response(a, now) if self.op is not None else []
        if a.error is not None:
            return [self._reply(r, "fail", error=a.error, zxid=a.zxid)]
        kind = r.kind
        if r.watch:
            if kind == m.EXISTS:
                (self.data_watches if a.exists else self.exist_watches).add(r.path)
            elif kind == m.GET_DATA:
                self.data_watches.add(r.path)
            elif kind == m.GET_CHILDREN:
                self.child_watches.add(r.path)
        value = None if kind in (m.DELETE, m.SYNC, m.CLOSE_SESSION) else a.value
        effects: list[Effect] = [self._reply(r, "ok", value, zxid=a.zxid)]
        if kind == m.CLOSE_SESSION:
            effects = self._closed(now) + effects
        return effects

    def _closed(self, now: int) -> list[Effect]:
        self.state = CLOSED
        self.conn = 0
        effects: list[Effect] = [CancelTimer(PING_TIMER), CancelTimer(READ_TIMER)]
        return effects + self._fail_all(now, SESSION_EXPIRED_ERROR)

    def _reply(self, r: _Request, type_: OpType, value: Any = None, error: str | None = None,
               zxid: int | None = None) -> Reply:
        assert r.req is not None
        extra = (("zxid", zxid),) if zxid else ()
        return Reply(ClientResponse(r.req.op_id, type_, value, error, self.server or None, extra))

    def _arm_request_timer(self, now: int) -> list[Effect]:
        at: int | None = None  # the earliest deadline of an API request queued or in flight
        for q in (self.queue, self.inflight):
            for r in q:
                if isinstance(r, _Request) and r.req is not None and (at is None or r.deadline < at):
                    at = r.deadline
        if at == self._request_timer_at:
            return []
        self._request_timer_at = at
        return [CancelTimer(REQUEST_TIMER)] if at is None else [SetTimer(REQUEST_TIMER, at)]

    def _request_deadlines(self, now: int) -> list[Effect]:
        effects: list[Effect] = []
        # queued past the deadline: never sent, so definitely not executed
        late = [r for r in self.queue if isinstance(r, _Request) and r.deadline <= now]
        for r in late:
            self.queue.remove(r)
            effects.append(self._reply(r, "fail", error=CONNECTION_LOSS))
        stuck = any(r.req is not None and r.deadline <= now and r.answer is None for r in self.inflight)
        if stuck and self.state == CONNECTED:
            effects += self._lose_connection(now, None)
        return effects + self._arm_request_timer(now)

    def _on_watch_event(self, ev: m.WatchEvent) -> list[Effect]:
        self.last_zxid = max(self.last_zxid, ev.zxid)
        p = ev.path
        held = False
        if ev.type in (NODE_CREATED, NODE_DATA_CHANGED, NODE_DELETED):
            held = p in self.data_watches or p in self.exist_watches
            self.data_watches.discard(p)
            self.exist_watches.discard(p)
        if ev.type in (NODE_CHILDREN_CHANGED, NODE_DELETED):
            held = held or p in self.child_watches
            self.child_watches.discard(p)
        # a watch fires once: an event for a watch we no longer hold is a duplicate
        return [_event(ev.type, p)] if held else []

    # =================================================== register operations
    def _op_step(self, now: int, stage: str, kind: str, data: Any = None, version: int = -1) -> list[Effect]:
        op = self.op
        assert op is not None
        op.stage = stage
        op.write_sent = stage in ("write", "cas_write")
        op.server = self.server
        return self._send(_Request(None, kind, key_path(op.req.key), data, version), now)

    def _op_first_step(self, now: int) -> list[Effect]:
        op = self.op
        assert op is not None
        f = op.req.f
        if f == "read":
            if self.reads == "sync":
                return self._op_step(now, "sync", m.SYNC)
            return self._op_step(now, "read", m.GET_DATA)
        if f == "write":
            return self._op_step(now, "write", m.SET_DATA, op.req.value, -1)
        return self._op_step(now, "cas_read", m.GET_DATA)

    def _op_response(self, r: m.ClientOpResponse, now: int) -> list[Effect]:
        op = self.op
        assert op is not None
        zx = (("zxid", r.zxid),)
        absent = r.error == NO_NODE or not r.exists
        if r.error not in (None, NO_NODE) and op.stage in ("sync", "read", "cas_read"):
            return self._op_finish(now, "fail", None, error=r.error, extra=zx)
        if op.stage == "sync":
            return self._op_step(now, "read", m.GET_DATA)
        if op.stage == "read":
            return self._op_finish(now, "ok", None if absent else r.data, extra=zx)
        if op.stage == "cas_read":
            expected, new = op.req.value
            current = None if absent else r.data
            if current != expected:
                return self._op_finish(now, "fail", None, error="value mismatch", extra=zx)
            if not absent:
                return self._op_step(now, "cas_write", m.SET_DATA, new, r.version)
            return self._op_step(now, "cas_write", m.CREATE, new)
        # write, cas_write
        if r.error is None:
            return self._op_finish(now, "ok", None, extra=zx)
        return self._op_finish(now, "fail", None, error=r.error, extra=zx)

    def _op_step_lost(self, now: int, maybe_executed: bool) -> list[Effect]:
        """The connection went with our step: unknown if a write may have happened;
        otherwise start over on the next connection, if time remains."""
        op = self.op
        assert op is not None
        if op.write_sent and maybe_executed:
            return self._op_finish(now, "info", error=CONNECTION_LOSS)
        op.write_sent = False
        op.stage = "connect"
        if now + self.retry_delay >= op.deadline:
            return self._op_finish(now, "fail", error=CONNECTION_LOSS)
        return []

    def _op_deadline(self, now: int) -> list[Effect]:
        """The operation's time is up: give up on it, and on a server too slow for it."""
        op = self.op
        if op is None:
            return []
        if op.stage != "connect" and self.state == CONNECTED:
            return self._lose_connection(now, None)  # ends the op (info if a write was out)
        effects = self._retry_elsewhere(now) if self.state == CONNECTING else []
        if self.op is op:
            effects += self._op_finish(now, "fail", error=CONNECTION_LOSS)
        return effects

    def _op_finish(
        self, now: int, type_: OpType, value: Any = None, error: str | None = None, extra: tuple = ()
    ) -> list[Effect]:
        op = self.op
        assert op is not None
        self.op = None
        effects: list[Effect] = [
            CancelTimer(OP_TIMER),
            Reply(ClientResponse(op.req.op_id, type_, value, error, op.server or None, extra)),
        ]
        return effects + self._pump(now)
