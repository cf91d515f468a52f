"""A one-server fake ZooKeeper that speaks systems/zab/api.py, for testing the recipes.

Registered as the system ``fakezk``: one server ``z1`` keeps the znodes and the sessions
and expires a session when it has not heard from it for the session timeout, *on its own
clock*; the client part (``FakeZkClient``) is embedded in each election candidate exactly
as a ``ZabClient`` is (``systems/zab/api.py``): it pings every third of the timeout,
answers requests in order, turns watch triggers into events, and reports an expired
session (``SESSION_EXPIRED``) the next time the server hears from it. Small on purpose:
no replication, so it tests the candidate and the checker, not ZAB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.node import CancelTimer, ClientResponse, Node, Reply, Send, SetTimer, trace
from harness.system import NodeContext, register_system
from systems.zab import api

MS = 1_000_000
SERVER = "z1"


@dataclass(frozen=True, slots=True)
class ZReq:
    session: str
    cid: int
    f: str
    path: Any
    args: Any


@dataclass(frozen=True, slots=True)
class ZResp:
    session: str
    cid: int
    type: str
    value: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ZEvent:
    session: str
    value: Any


def is_fake_msg(msg: Any) -> bool:
    return isinstance(msg, (ZResp, ZEvent))


WRITES = ("create", "delete", "setData", "close")


class FakeZkServer(Node):
    def __init__(self, ctx: NodeContext, session_timeout: int):
        self.node_id = ctx.node_id
        self.timeout = session_timeout
        self.zxid = 0
        self.nodes: dict[str, dict] = {}
        self.sessions: dict[str, int] = {}  # live session -> last heard (server clock)
        self.dead: set[str] = set()
        self.owner: dict[str, str] = {}  # session -> client node
        self.watches: dict[str, set[str]] = {}  # path -> sessions

    def on_start(self, stored, now):
        return [SetTimer("expire", now + 50 * MS)]

    def on_timer(self, name, now):
        effects = []
        for s, last in list(self.sessions.items()):
            if now - last >= self.timeout:
                effects += self._kill(s, now, "session_expired")
        return effects + [SetTimer("expire", now + 50 * MS)]

    def _kill(self, s: str, now: int, kind: str) -> list:
        self.sessions.pop(s, None)
        self.dead.add(s)
        self.zxid += 1
        effects: list = [trace(kind, session=s, zxid=self.zxid)]
        for path in [p for p, n in self.nodes.items() if n["ephemeralOwner"] == s]:
            del self.nodes[path]
            effects += self._fire(path, api.NODE_DELETED)
        return effects

    def _fire(self, path: str, kind: str) -> list:
        out = []
        for s in sorted(self.watches.pop(path, set())):
            if s in self.sessions:
                out.append(Send(self.owner[s], ZEvent(s, {"type": kind, "path": path})))
        return out

    def _stat(self, n: dict) -> dict:
        return {"version": n["version"], "cversion": 0, "czxid": n["czxid"], "mzxid": n["mzxid"],
                "ephemeralOwner": n["ephemeralOwner"]}

    def on_message(self, src, msg, now):
        if isinstance(msg, ZReq):
            s = msg.session
            self.owner[s] = src
            if s in self.dead:
                return [Send(src, ZEvent(s, {"type": api.SESSION_EXPIRED, "path": None})),
                        Send(src, ZResp(s, msg.cid, "fail", None, api.SESSION_EXPIRED_ERROR))] \
                    if msg.f != "ping" else [Send(src, ZEvent(s, {"type": api.SESSION_EXPIRED, "path": None}))]
            self.sessions[s] = now
            return self._handle(src, s, msg, now)
        return []

    def _handle(self, src, s, msg, now):
        f, path, args = msg.f, msg.path, msg.args or {}

        def ok(value=None):
            return [Send(src, ZResp(s, msg.cid, "ok", value))]

        def fail(err):
            return [Send(src, ZResp(s, msg.cid, "fail", None, err))]

        if f == "ping" or f == "sync":
            return ok() if f == "sync" else []
        if f == "close":
            return self._kill(s, now, "session_closed") + ok()
        if f == "create":
            if path in self.nodes:
                return fail(api.NODE_EXISTS)
            self.zxid += 1
            self.nodes[path] = {"data": args.get("data"), "version": 0, "czxid": self.zxid, "mzxid": self.zxid,
                                "ephemeralOwner": s if args.get("ephemeral") else None}
            return ok(path) + self._fire(path, api.NODE_CREATED)
        if f == "delete":
            if path not in self.nodes:
                return fail(api.NO_NODE)
            del self.nodes[path]
            self.zxid += 1
            return ok() + self._fire(path, api.NODE_DELETED)
        if f in ("getData", "exists"):
            n = self.nodes.get(path)
            if args.get("watch") and (n is not None or f == "exists"):
                self.watches.setdefault(path, set()).add(s)
            if f == "exists":
                return ok(self._stat(n) if n else None)
            if n is None:
                return fail(api.NO_NODE)
            return ok({"data": n["data"], "stat": self._stat(n)})
        return fail(f"unknown {f}")


class FakeZkClient(Node):
    """The client side: embedded in a host node, as api.py describes."""

    def __init__(self, ctx: NodeContext, session_timeout: int):
        self.node_id = ctx.node_id
        self.timeout = session_timeout
        self.gen = 0
        self.session = f"{ctx.node_id}/0"
        self.pending: dict[int, tuple[int, str]] = {}  # cid -> (host op id, f)
        self.cid = 0
        self.expired = False

    def on_start(self, stored, now):
        return [SetTimer(api.TIMER_PREFIX + "ping", now + self.timeout // 3)]

    def on_timer(self, name, now):
        if name == api.TIMER_PREFIX + "ping":
            return [Send(SERVER, ZReq(self.session, 0, "ping", None, None)),
                    SetTimer(api.TIMER_PREFIX + "ping", now + self.timeout // 3)]
        if name.startswith(api.TIMER_PREFIX + "op."):
            cid = int(name.rsplit(".", 1)[1])
            p = self.pending.pop(cid, None)
            if p is None:
                return []
            op_id, f = p
            t = "info" if f in WRITES else "fail"
            return [Reply(ClientResponse(op_id, t, None, api.CONNECTION_LOSS))]
        return []

    def on_client(self, req, now):
        if req.f == "reopen":
            self.gen += 1
            self.session = f"{self.node_id}/{self.gen}"
            self.expired = False
            return [Reply(ClientResponse(req.op_id, "ok"))]
        if self.expired:
            return [Reply(ClientResponse(req.op_id, "fail", None, api.SESSION_EXPIRED_ERROR))]
        self.cid += 1
        self.pending[self.cid] = (req.op_id, req.f)
        return [Send(SERVER, ZReq(self.session, self.cid, req.f, req.key, req.value)),
                SetTimer(f"{api.TIMER_PREFIX}op.{self.cid}", now + self.timeout * 2 // 3)]

    def on_message(self, src, msg, now):
        if msg.session != self.session:
            return []
        if isinstance(msg, ZEvent):
            if (msg.value or {}).get("type") == api.SESSION_EXPIRED:
                if self.expired:
                    return []
                self.expired = True
            return [Reply(ClientResponse(api.EVENT_OP_ID, "ok", msg.value))]
        p = self.pending.pop(msg.cid, None)
        if p is None:
            return []
        return [CancelTimer(f"{api.TIMER_PREFIX}op.{msg.cid}"),
                Reply(ClientResponse(p[0], msg.type, msg.value, msg.error, SERVER))]


class FakeZkSpec:
    name = "fakezk"
    files = ()

    def default_settings(self) -> dict:
        return {"session_timeout": 2000 * MS}

    def server_ids(self, config) -> list[str]:
        return [SERVER]

    def make_server(self, ctx: NodeContext) -> Node:
        return FakeZkServer(ctx, ctx.settings.get("session_timeout", 2000 * MS))

    def make_client(self, ctx: NodeContext) -> Node:
        from systems.zab.recipes import STORAGE_ID, ElectionCandidate, StorageService

        if ctx.node_id == STORAGE_ID:
            return StorageService(ctx)
        zk = FakeZkClient(ctx, ctx.settings.get("session_timeout", 2000 * MS))
        return ElectionCandidate(ctx, zk=zk, is_zk=is_fake_msg)

    def is_leader(self, server: Node) -> bool:
        return True


register_system("fakezk", FakeZkSpec)
