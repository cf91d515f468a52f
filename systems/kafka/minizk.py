"""A one-server ZooKeeper speaking the client API of ``systems/zab/api.py``: server and client.

Why it exists. Kafka's brokers program against the ZooKeeper client API contract
(``systems/zab/api.py``: ephemeral and sequential creates, versioned setData, watches,
sessions that expire). This module implements that contract with the least machinery: one
server node holding the tree, and a client library a broker embeds exactly as it embeds a
``ZabClient``. Protocol tests drive brokers against it directly, and ``--set
zookeeper=mini`` runs the Kafka system on it. It is not replicated; it is durable: every
change is a txn, appended to the file ``zk-txnlog`` and applied only once the fsync is done
(one write in flight at a time), so a crash of the server loses nothing acknowledged, and
a restart replays the log. Sessions are txns too (createSession, closeSession), so
ephemeral znodes outlive a server restart, and their sessions get a fresh timeout then.

Semantics kept from ZooKeeper (docs/zookeeper.md): writes are applied in one total
order (the zxid); a session's requests are answered in order; reads are served from the
applied tree; watches are one-shot and fire before the change is visible to the watcher's
later reads; an expired session's ephemerals are deleted by a closeSession txn and every
later request of it fails ``SessionExpired`` until the host asks ``reopen``.

Client side: requests go out at once (the link is FIFO); one without an answer within
``client_timeout`` fails with ``ConnectionLoss`` (``info`` for writes, ``fail`` for reads)
and the client reports ``Disconnected``; pings every third of the session timeout keep the
session alive, and the first answer after a loss says ``SyncConnected`` or ``Expired``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.node import (
    CancelTimer,
    ClientRequest,
    ClientResponse,
    Effect,
    Node,
    OpType,
    Persist,
    Reply,
    Send,
    SetTimer,
)
from harness.system import NodeContext

MS = 1_000_000

# The contract's names, from the contract itself (api.py imports nothing else of zab).
from systems.zab.api import (  # noqa: E402
    BAD_VERSION,
    CONNECTION_LOSS,
    DISCONNECTED,
    EVENT_OP_ID,
    NO_CHILDREN_FOR_EPHEMERALS,
    NO_NODE,
    NODE_CHILDREN_CHANGED,
    NODE_CREATED,
    NODE_DATA_CHANGED,
    NODE_DELETED,
    NODE_EXISTS,
    NOT_EMPTY,
    SESSION_EXPIRED,
    SESSION_EXPIRED_ERROR,
    SYNC_CONNECTED,
    TIMER_PREFIX,
)

WRITES = ("create", "delete", "setData")
READS = ("exists", "getData", "getChildren", "sync")
TXN_FILE = "zk-txnlog"

# ------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class ZkConnect:
    """Open a session (``session`` 0) or reattach to one."""

    session: int
    timeout: int


@dataclass(frozen=True, slots=True)
class ZkConnected:
    session: int
    ok: bool  # False: the session has expired
    incarnation: int = 0


@dataclass(frozen=True, slots=True)
class ZkRequest:
    session: int
    xid: int
    f: str
    path: str
    args: tuple = ()  # sorted (name, value) pairs


@dataclass(frozen=True, slots=True)
class ZkResponse:
    session: int
    xid: int
    error: str | None = None
    value: Any = None


@dataclass(frozen=True, slots=True)
class ZkEvent:
    session: int
    type: str
    path: str | None


@dataclass(frozen=True, slots=True)
class ZkPing:
    session: int


@dataclass(frozen=True, slots=True)
class ZkPong:
    """``incarnation`` changes when the server restarts, which loses its watches: the
    client then tells its host that every watched znode may have changed."""

    session: int
    ok: bool
    incarnation: int = 0


def is_minizk_message(msg: Any) -> bool:
    return type(msg).__module__ == __name__


# --------------------------------------------------------------------------- server


@dataclass(slots=True)
class _Znode:
    data: Any
    version: int
    cversion: int
    czxid: int
    mzxid: int
    owner: int | None
    children: set = field(default_factory=set)
    next_seq: int = 0

    def stat(self) -> dict:
        return {"version": self.version, "cversion": self.cversion, "czxid": self.czxid,
                "mzxid": self.mzxid, "ephemeralOwner": self.owner}


@dataclass(slots=True)
class _Session:
    timeout: int
    client: str
    last_heard: int


def _parent(path: str) -> str:
    i = path.rfind("/")
    return "/" if i <= 0 else path[:i]


class MiniZkServer(Node):
    """The single ZooKeeper server. Txns: ``("createSession", sid, timeout, client)``,
    ``("closeSession", sid)``, ``("create", path, data, ephemeral_owner, sequential)``,
    ``("delete", path)``, ``("setData", path, data)``; each logged as ``(zxid, txn)``."""

    TICK = "tick"

    def __init__(self, ctx: NodeContext) -> None:
        self.node_id = ctx.node_id
        self.rng = ctx.rng
        self.tick = int(ctx.settings.get("zk_tick", 100 * MS))
        self.nodes: dict[str, _Znode] = {"/": _Znode(None, 0, 0, 0, 0, None)}
        self.sessions: dict[int, _Session] = {}
        self.zxid = 0
        self.data_watches: dict[str, set[int]] = {}
        self.child_watches: dict[str, set[int]] = {}
        self.queue: list[tuple] = []  # writes waiting: (sid, xid, f, path, args) or session txns
        self.in_flight: tuple | None = None
        self.now = 0
        self.incarnation = self.rng.getrandbits(32)

    # --------------------------------------------------------------- inputs
    def on_start(self, stored: dict[str, tuple], now: int) -> list[Effect]:
        self.now = now
        for zxid, txn in stored.get(TXN_FILE, ()):
            self._apply(int(zxid), tuple(txn), now, fire=False)
        for s in self.sessions.values():
            s.last_heard = now
        return [SetTimer(self.TICK, now + self.tick)]

    def on_timer(self, name: str, now: int) -> list[Effect]:
        self.now = now
        effects: list[Effect] = [SetTimer(self.TICK, now + self.tick)]
        for sid in sorted(self.sessions):
            s = self.sessions[sid]
            if now - s.last_heard > s.timeout and not self._closing(sid):
                self.queue.append(("session", ("closeSession", sid)))
        return effects + self._pump()

    def _closing(self, sid: int) -> bool:
        pending = ([self.in_flight] if self.in_flight else []) + self.queue
        return any(q[0] == "session" and q[1][0] == "closeSession" and q[1][1] == sid for q in pending)

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        self.now = now
        if isinstance(msg, ZkConnect):
            if msg.session == 0:
                sid = self.rng.getrandbits(48) or 1
                self.queue.append(("session", ("createSession", sid, msg.timeout, src), src))
                return self._pump()
            s = self.sessions.get(msg.session)
            if s is None or self._closing(msg.session):
                return [Send(src, ZkConnected(msg.session, False, self.incarnation))]
            s.last_heard, s.client = now, src
            return [Send(src, ZkConnected(msg.session, True, self.incarnation))]
        if isinstance(msg, ZkPing):
            s = self.sessions.get(msg.session)
            ok = s is not None and not self._closing(msg.session)
            if ok and s is not None:
                s.last_heard = now
            return [Send(src, ZkPong(msg.session, ok, self.incarnation))]
        if isinstance(msg, ZkRequest):
            s = self.sessions.get(msg.session)
            if s is None or self._closing(msg.session):
                return [Send(src, ZkResponse(msg.session, msg.xid, SESSION_EXPIRED_ERROR))]
            s.last_heard, s.client = now, src
            if msg.f in WRITES or self.queue or self.in_flight:
                # a read behind the session's own writes waits for them (FIFO per session)
                self.queue.append(("op", msg.session, msg.xid, msg.f, msg.path, dict(msg.args)))
                return self._pump()
            return self._read(msg.session, msg.xid, msg.f, msg.path, dict(msg.args))
        return []

    def on_persisted(self, token: Any, now: int) -> list[Effect]:
        self.now = now
        _item, zxid, txn, answer = token
        self.in_flight = None
        effects = self._apply(zxid, txn, now, fire=True)
        if answer is not None:
            effects.append(answer)
        return effects + self._pump()

    # --------------------------------------------------------------- writes
    def _pump(self) -> list[Effect]:
        effects: list[Effect] = []
        while self.in_flight is None and self.queue:
            item = self.queue.pop(0)
            if item[0] == "session":
                txn = item[1]
                answer = None
                if txn[0] == "createSession":
                    answer = Send(item[2], ZkConnected(txn[1], True, self.incarnation))
                elif txn[1] not in self.sessions:
                    continue
                effects += self._log(item, txn, answer)
                continue
            _, sid, xid, f, path, args = item
            s = self.sessions.get(sid)
            if s is None:
                continue
            if f in READS:
                effects += self._read(sid, xid, f, path, args)
                continue
            txn, error, value = self._prepare(sid, f, path, args)
            if error is not None:
                effects.append(Send(s.client, ZkResponse(sid, xid, error)))
                continue
            assert txn is not None  # no error: a txn to log
            effects += self._log(item, txn, Send(s.client, ZkResponse(sid, xid, None, value)))
        return effects

    def _log(self, item: tuple, txn: tuple, answer: Effect | None) -> list[Effect]:
        self.zxid += 1
        self.in_flight = item
        return [Persist(TXN_FILE, ((self.zxid, txn),), (item, self.zxid, txn, answer))]

    def _prepare(self, sid: int, f: str, path: str, args: dict) -> tuple[tuple | None, str | None, Any]:
        node = self.nodes.get(path)
        if f == "create":
            parent = self.nodes.get(_parent(path))
            if parent is None:
                return None, NO_NODE, None
            if parent.owner is not None:
                return None, NO_CHILDREN_FOR_EPHEMERALS, None
            if args.get("sequential"):
                path = f"{path}{parent.next_seq:010d}"
                node = self.nodes.get(path)
            if node is not None:
                return None, NODE_EXISTS, None
            owner = sid if args.get("ephemeral") else None
            return ("create", path, args.get("data"), owner, bool(args.get("sequential"))), None, path
        if node is None:
            return None, NO_NODE, None
        version = args.get("version", -1)
        if version != -1 and version != node.version:
            return None, BAD_VERSION, None
        if f == "delete":
            if node.children:
                return None, NOT_EMPTY, None
            return ("delete", path), None, None
        stat = node.stat()
        stat.update(version=node.version + 1, mzxid=self.zxid + 1)
        return ("setData", path, args.get("data")), None, stat

    def _apply(self, zxid: int, txn: tuple, now: int, fire: bool) -> list[Effect]:
        self.zxid = max(self.zxid, zxid)
        kind = txn[0]
        events: list[tuple[set[int], str, str]] = []
        if kind == "createSession":
            _, sid, timeout, client = txn
            self.sessions[int(sid)] = _Session(int(timeout), client, now)
        elif kind == "closeSession":
            sid = int(txn[1])
            self.sessions.pop(sid, None)
            for path in sorted((p for p, n in self.nodes.items() if n.owner == sid), reverse=True):
                events += self._delete(path)
            for watchers in list(self.data_watches.values()) + list(self.child_watches.values()):
                watchers.discard(sid)
        elif kind == "create":
            _, path, data, owner, sequential = txn
            parent = self.nodes[_parent(path)]
            if sequential:
                parent.next_seq += 1
            self.nodes[path] = _Znode(data, 0, 0, zxid, zxid, owner)
            parent.children.add(path.rsplit("/", 1)[1])
            parent.cversion += 1
            events.append((self.data_watches.pop(path, set()), NODE_CREATED, path))
            events.append((self.child_watches.pop(_parent(path), set()), NODE_CHILDREN_CHANGED, _parent(path)))
        elif kind == "delete":
            events += self._delete(txn[1])
        elif kind == "setData":
            _, path, data = txn
            n = self.nodes[path]
            n.data, n.version, n.mzxid = data, n.version + 1, zxid
            events.append((self.data_watches.pop(path, set()), NODE_DATA_CHANGED, path))
        if not fire:
            return []
        out: list[Effect] = []
        for sids, type_, path in events:
            for sid in sorted(sids):
                s = self.sessions.get(sid)
                if s is not None:
                    out.append(Send(s.client, ZkEvent(sid, type_, path)))
        return out

    def _delete(self, path: str) -> list[tuple[set[int], str, str]]:
        self.nodes.pop(path, None)
        parent = self.nodes.get(_parent(path))
        if parent is not None:
            parent.children.discard(path.rsplit("/", 1)[1])
            parent.cversion += 1
        watchers = self.data_watches.pop(path, set()) | self.child_watches.pop(path, set())
        return [(watchers, NODE_DELETED, path),
                (self.child_watches.pop(_parent(path), set()), NODE_CHILDREN_CHANGED, _parent(path))]

    # ---------------------------------------------------------------- reads
    def _read(self, sid: int, xid: int, f: str, path: str, args: dict) -> list[Effect]:
        s = self.sessions[sid]
        node = self.nodes.get(path)
        watch = bool(args.get("watch"))
        if f == "sync":
            return [Send(s.client, ZkResponse(sid, xid, None, None))]
        if f == "exists":
            if watch:
                self.data_watches.setdefault(path, set()).add(sid)
            return [Send(s.client, ZkResponse(sid, xid, None, node.stat() if node else None))]
        if node is None:
            return [Send(s.client, ZkResponse(sid, xid, NO_NODE))]
        if f == "getData":
            if watch:
                self.data_watches.setdefault(path, set()).add(sid)
            return [Send(s.client, ZkResponse(sid, xid, None, {"data": node.data, "stat": node.stat()}))]
        if watch:
            self.child_watches.setdefault(path, set()).add(sid)
        return [Send(s.client, ZkResponse(sid, xid, None, sorted(node.children)))]

    def state_digest(self) -> Any:
        return {"zxid": self.zxid}


# --------------------------------------------------------------------------- client

PING_TIMER = TIMER_PREFIX + "ping"
DEADLINE_TIMER = TIMER_PREFIX + "deadline"


class MiniZkClient(Node):
    """A session handle, embedded in a host node as api.py describes."""

    def __init__(self, ctx: NodeContext) -> None:
        self.node_id = ctx.node_id
        self.server = ctx.servers[0]
        self.session_timeout = int(ctx.settings.get("session_timeout", 2000 * MS))
        self.client_timeout = int(ctx.settings.get("client_timeout", self.session_timeout * 2 // 3))
        self.session = 0
        self.expired = False
        self.connected = False
        self.connecting = False
        self.xid = 0
        self.queue: list[ClientRequest] = []  # before the session exists
        self.pending: dict[int, tuple[ClientRequest, int]] = {}  # xid -> (request, deadline)
        self.last_heard = 0
        self.incarnation = 0  # of the server, as last heard
        self.watches: set[tuple[str, str]] = set()  # ("data" | "child", path)

    def on_start(self, stored: dict[str, tuple], now: int) -> list[Effect]:
        return []

    def on_client(self, request: ClientRequest, now: int) -> list[Effect]:
        if request.f == "reopen":
            self.session, self.expired, self.connected = 0, False, False
            self.queue = []
            return self._connect(now) + [Reply(ClientResponse(request.op_id, "ok"))]
        if request.f == "close":
            return [Reply(ClientResponse(request.op_id, "ok"))]
        if self.expired:
            return [Reply(ClientResponse(request.op_id, "fail", None, SESSION_EXPIRED_ERROR))]
        if self.session == 0:
            self.queue.append(request)
            return self._connect(now) if not self.connecting else []
        return self._send(request, now)

    def _connect(self, now: int) -> list[Effect]:
        self.connecting = True
        return [Send(self.server, ZkConnect(self.session, self.session_timeout)),
                SetTimer(PING_TIMER, now + self.session_timeout // 3)]

    def _send(self, request: ClientRequest, now: int) -> list[Effect]:
        self.xid += 1
        args = tuple(sorted((request.value or {}).items()))
        deadline = now + self.client_timeout
        self.pending[self.xid] = (request, deadline)
        effects: list[Effect] = [Send(self.server, ZkRequest(self.session, self.xid, request.f, request.key, args))]
        if len(self.pending) == 1:
            effects.append(SetTimer(DEADLINE_TIMER, deadline))
        return effects

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        if src != self.server:
            return []
        if isinstance(msg, ZkConnected):
            if self.session not in (0, msg.session):
                return []
            self.connecting = False
            if not msg.ok:
                return self._expire()
            self.session = msg.session
            self.last_heard = now
            effects = self._heard(now) + self._server_incarnation(msg.incarnation)
            queue, self.queue = self.queue, []
            for r in queue:
                effects += self._send(r, now)
            return effects
        if getattr(msg, "session", None) != self.session or self.session == 0 or self.expired:
            return []
        if isinstance(msg, ZkPong):
            return self._heard(now) + self._server_incarnation(msg.incarnation) if msg.ok else self._expire()
        if isinstance(msg, ZkEvent):
            self.watches.discard(("data", msg.path))
            if msg.type in (NODE_CHILDREN_CHANGED, NODE_DELETED):
                self.watches.discard(("child", msg.path))
            return self._heard(now) + [Reply(ClientResponse(EVENT_OP_ID, "ok", {"type": msg.type, "path": msg.path}))]
        if isinstance(msg, ZkResponse):
            if msg.error == SESSION_EXPIRED_ERROR:
                return self._expire()
            entry = self.pending.pop(msg.xid, None)
            if entry is None:
                return []
            req = entry[0]
            effects = self._heard(now)
            if msg.error is None:
                if (req.value or {}).get("watch"):
                    self.watches.add(("child" if req.f == "getChildren" else "data", req.key))
                effects.append(Reply(ClientResponse(req.op_id, "ok", msg.value)))
            else:
                effects.append(Reply(ClientResponse(req.op_id, "fail", None, msg.error)))
            return effects
        return []

    def _server_incarnation(self, incarnation: int) -> list[Effect]:
        """A restarted server has forgotten our watches: say each may have fired."""
        if incarnation == self.incarnation:
            return []
        first, self.incarnation = self.incarnation == 0, incarnation
        watches, self.watches = sorted(self.watches), set()
        if first:
            return []
        return [Reply(ClientResponse(EVENT_OP_ID, "ok", {"type": NODE_CHILDREN_CHANGED if kind == "child"
                                                         else NODE_DATA_CHANGED, "path": path}))
                for kind, path in watches]

    def _heard(self, now: int) -> list[Effect]:
        self.last_heard = now
        if not self.connected:
            self.connected = True
            return [Reply(ClientResponse(EVENT_OP_ID, "ok", {"type": SYNC_CONNECTED, "path": None}))]
        return []

    def _expire(self) -> list[Effect]:
        if self.expired:
            return []
        self.expired, self.connected, self.connecting = True, False, False
        effects: list[Effect] = [CancelTimer(PING_TIMER), CancelTimer(DEADLINE_TIMER)]
        for xid in sorted(self.pending):
            effects.append(Reply(ClientResponse(self.pending[xid][0].op_id, "fail", None, SESSION_EXPIRED_ERROR)))
        self.pending.clear()
        for r in self.queue:
            effects.append(Reply(ClientResponse(r.op_id, "fail", None, SESSION_EXPIRED_ERROR)))
        self.queue = []
        effects.append(Reply(ClientResponse(EVENT_OP_ID, "ok", {"type": SESSION_EXPIRED, "path": None})))
        return effects

    def on_timer(self, name: str, now: int) -> list[Effect]:
        if self.expired:
            return []
        if name == PING_TIMER:
            effects: list[Effect] = [SetTimer(PING_TIMER, now + self.session_timeout // 3)]
            if self.session == 0:
                return effects + [Send(self.server, ZkConnect(0, self.session_timeout))]
            if self.connected and now - self.last_heard > self.client_timeout:
                self.connected = False
                effects.append(Reply(ClientResponse(EVENT_OP_ID, "ok", {"type": DISCONNECTED, "path": None})))
            return effects + [Send(self.server, ZkPing(self.session))]
        if name == DEADLINE_TIMER:
            effects = []
            for xid in sorted(self.pending):
                req, deadline = self.pending[xid]
                if deadline <= now:
                    del self.pending[xid]
                    type_: OpType = "info" if req.f in WRITES else "fail"
                    effects.append(Reply(ClientResponse(req.op_id, type_, None, CONNECTION_LOSS)))
            if effects and self.connected:
                self.connected = False
                effects.append(Reply(ClientResponse(EVENT_OP_ID, "ok", {"type": DISCONNECTED, "path": None})))
            if self.pending:
                effects.append(SetTimer(DEADLINE_TIMER, min(d for _, d in self.pending.values())))
            return effects
        return []
