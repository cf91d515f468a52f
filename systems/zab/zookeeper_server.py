"""Serving clients (ZooKeeper's ZooKeeperServer and its request processors): client
connections and sessions, reads from the local tree, writes handed to the leader,
answers once the txn is applied here, watches, and sync.

Clients (client.py) connect to any serving server; reads are served locally, writes are
forwarded to the leader, proposed, and answered by the server the client is connected to
once it applies the txn. ``sync`` makes the leader confirm its leadership with a quorum
ping round before this server may answer the client, and only after it has applied
everything the leader had proposed when the sync arrived. Sessions and watches: see
docs/zookeeper.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.node import Effect, Send, trace
from systems.zab import messages as m
from systems.zab.datatree import (
    CLOSE_SESSION,
    CREATE,
    CREATE_SESSION,
    NO_NODE,
    SESSION_EXPIRED,
    ZNODE_TXNS,
    Txn,
    TxnResult,
)
from systems.zab.messages import LEADING


@dataclass(slots=True)
class ClientConn:
    """A client connection to this server: its session and the last request read."""

    session: int
    last_cxid: int = 0


class ZooKeeperServer:
    """The client-serving part of a ZabServer (a mixin: state set up in ZabServer.__init__)."""

    if TYPE_CHECKING:
        # One part of ZabServer (systems/zab/server.py), which assembles the server from
        # these parts: what the other parts define is typed there, so here it is Any,
        # but for the state this part assigns too.
        _sync_seq: int
        client_conns: dict[tuple[str, int], ClientConn]
        pending_writes: dict[tuple[str, int], int]
        pending_connects: dict[int, tuple[str, int]]
        pending_client_syncs: dict[int, tuple[str, int, int]]
        sync_waits: list[tuple[int, str, int, int]]
        touched: set[int]

        def __getattr__(self, name: str) -> Any: ...

    def _session_clock(self, now: int) -> int:
        """The clock session expiry is measured on: the monotonic one, as ZooKeeper's
        since ZOOKEEPER-1366 (sessions.py)."""
        if "zk-wallclock-session-expiry" in self.bugs:
            # bug: zk-wallclock-session-expiry (ZOOKEEPER-1366): the wall clock, which a
            # forward jump moves past every session's timeout
            return now + self.wall_offset
        return now

    def _touch(self, session: int, now: int) -> None:
        """A client of ``session`` was heard from here."""
        if self.state == LEADING:
            self.session_tracker.touch(session, self._session_clock(now), now)
        else:
            self.touched.add(session)

    def _take_touched(self) -> tuple:
        if not self.touched:
            return ()
        touched, self.touched = tuple(sorted(self.touched)), set()
        return touched

    def _new_session_id(self) -> int:
        """Unique in the ensemble: the server's index in the top bits (as ZooKeeper's sid
        in the top byte), random below; under 2**53 so that JSON readers keep it exact."""
        return (self.servers.index(self.node_id) + 1) << 40 | self.rng.getrandbits(40)

    def _delivered(self, txn: Txn, result: TxnResult) -> dict:
        """Trace fields of a ``deliver``: the znode a create/delete/setData acted on and
        its data once applied (None: absent), which checkers/session.py reads."""
        if txn.type not in ZNODE_TXNS:
            return {"session": txn.session}
        path = result.path or txn.path
        node = self.tree.get(path)
        return {"path": path, "data": None if node is None else node.data}

    def _applied(self, z: int, txn: Txn, result: TxnResult, now: int) -> list[Effect]:
        """After the tree applied ``txn`` as ``z``: fire the watches it hit, keep the
        session tracker in step, answer our client who asked."""
        effects: list[Effect] = [
            Send(client, m.WatchEvent(conn, type_, path, z))
            for (client, conn), type_, path in self.watches.trigger(result.triggers)
        ]
        if txn.type == CREATE_SESSION:
            timeout = int(txn.data or 0)
            if self.state == LEADING and self.established:
                self.session_tracker.track(txn.session, timeout, self._session_clock(now), now)
            key = self.pending_connects.pop(txn.session, None) if txn.origin == self.node_id else None
            if key is not None:
                self.client_conns[key] = ClientConn(txn.session)
                effects.append(trace("session_created", session=txn.session, client=txn.client, timeout=timeout,
                                     zxid=z))
                effects.append(Send(key[0], m.ConnectResponse(key[1], True, z, None, txn.session, timeout)))
            return effects
        if txn.type == CLOSE_SESSION:
            self.session_tracker.remove(txn.session)
            effects += [trace("ephemeral_deleted", session=txn.session, path=p, zxid=z) for p in result.deleted]
            effects += self._answer_write(z, txn, result)
            # the session is over: close its connections here (its client learns on reconnect)
            for key in sorted(k for k, cc in self.client_conns.items() if cc.session == txn.session):
                cc = self.client_conns.pop(key)
                self.watches.remove_watcher(key)
                effects.append(Send(key[0], m.Disconnect(key[1], "session closed", cc.last_cxid)))
            return effects
        return effects + self._answer_write(z, txn, result)

    def _answer_write(self, z: int, txn: Txn, result: TxnResult) -> list[Effect]:
        if txn.origin != self.node_id:
            return []
        conn = self.pending_writes.pop((txn.client, txn.cxid), None)
        if conn is None or (txn.client, conn) not in self.client_conns:
            return []
        value = (result.path if txn.type == CREATE else result.stat) if result.ok else None
        version = -1 if result.version is None else result.version
        return [Send(txn.client, m.ClientOpResponse(conn, txn.cxid, result.error, None, version, result.ok, z, value))]

    def _drop_clients(self, reason: str) -> list[Effect]:
        effects: list[Effect] = [
            Send(c, m.Disconnect(conn, reason, cc.last_cxid)) for (c, conn), cc in self.client_conns.items()
        ]
        effects += [
            Send(c, m.ConnectResponse(conn, False, self.last_processed_zxid, reason))
            for c, conn in self.pending_connects.values()
        ]
        self.client_conns = {}
        self.pending_writes = {}
        self.pending_connects = {}
        self.pending_client_syncs = {}
        self.sync_waits = []
        self.watches.clear()
        self.touched = set()
        return effects

    def _on_client_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        key = (src, msg.conn)
        if isinstance(msg, m.Disconnect):
            if self.client_conns.pop(key, None) is not None:
                self.watches.remove_watcher(key)
            return []
        if isinstance(msg, m.ConnectRequest):
            if key in self.client_conns or key in self.pending_connects.values():
                return []  # a duplicate
            if not self.serving:
                return [Send(src, m.ConnectResponse(msg.conn, False, self.last_processed_zxid, "not serving"))]
            # single system image: never let a session see an older state
            # bug: zk-reconnect-ignores-lastzxid skips this check
            if self.last_processed_zxid < msg.last_zxid and "zk-reconnect-ignores-lastzxid" not in self.bugs:
                return [Send(src, m.ConnectResponse(msg.conn, False, self.last_processed_zxid, "server behind client"))]
            return self._connect_session(src, msg, now)
        cc = self.client_conns.get(key)
        if cc is None or not self.serving:
            if isinstance(msg, m.ClientOp):
                return [Send(src, m.ClientOpResponse(msg.conn, msg.cxid, "not connected"))]
            if isinstance(msg, m.ClientPing):
                # we do not know what we read on it: -1, the client must assume anything
                return [Send(src, m.Disconnect(msg.conn, "not connected", -1))]
            return []
        self._touch(cc.session, now)
        if isinstance(msg, m.ClientPing):
            return [Send(src, m.ClientPong(msg.conn, self.last_processed_zxid))]
        if isinstance(msg, m.SetWatches):
            fire = self.watches.set_watches(self.tree, key, msg.zxid, msg.data, msg.exist, msg.child)
            return [Send(src, m.WatchEvent(msg.conn, type_, path, 0)) for type_, path in fire]
        assert isinstance(msg, m.ClientOp)
        if msg.cxid <= cc.last_cxid:
            return []  # a duplicate: cxids grow on a connection
        cc.last_cxid = msg.cxid
        if msg.op in m.READ_OPS:
            return [Send(src, self._read(key, msg))]
        if msg.op == m.SYNC:
            self._sync_seq += 1
            self.pending_client_syncs[self._sync_seq] = (src, msg.conn, msg.cxid)
            if self.state == LEADING:
                return self._add_sync(self.node_id, self._sync_seq)
            return [Send(self.leader_id, m.SyncRequest(self.conn, self._sync_seq))]
        # a write: create, delete, setData, closeSession
        txn = Txn(msg.op, msg.path, msg.data, msg.version, self.node_id, src, msg.cxid, cc.session, msg.flags)
        self.pending_writes[(src, msg.cxid)] = msg.conn
        if self.state == LEADING:
            return self._lead_request(None, txn, now)
        return [Send(self.leader_id, m.Request(self.conn, txn))]

    def _connect_session(self, src: str, msg: m.ConnectRequest, now: int) -> list[Effect]:
        """A new session is a createSession txn, answered once applied here; an existing
        one is taken back if it is still live (here: in our tree; at the leader: also not
        being closed)."""
        if msg.session == 0:
            timeout = min(max(msg.session_timeout, self.min_session_timeout), self.max_session_timeout)
            session = self._new_session_id()
            self.pending_connects[session] = (src, msg.conn)
            txn = Txn(CREATE_SESSION, "/", timeout, -1, self.node_id, src, 0, session)
            if self.state == LEADING:
                return self._lead_request(None, txn, now)
            return [Send(self.leader_id, m.Request(self.conn, txn))]
        timeout = self.tree.sessions.get(msg.session)
        if timeout is None or (self.state == LEADING and not self.session_tracker.is_live(msg.session)):
            return [Send(src, m.ConnectResponse(msg.conn, False, self.last_processed_zxid, SESSION_EXPIRED,
                                                msg.session))]
        self.client_conns[(src, msg.conn)] = ClientConn(msg.session)
        self._touch(msg.session, now)
        return [Send(src, m.ConnectResponse(msg.conn, True, self.last_processed_zxid, None, msg.session, timeout))]

    def _read(self, key: tuple[str, int], msg: m.ClientOp) -> m.ClientOpResponse:
        """exists / getData / getChildren from our tree, leaving the watch asked for."""
        node = self.tree.get(msg.path)
        z = self.last_processed_zxid
        if msg.op == m.EXISTS:
            if msg.watch:
                self.watches.add_data(msg.path, key)
            if node is None:
                return m.ClientOpResponse(msg.conn, msg.cxid, None, None, -1, False, z, None)
            return m.ClientOpResponse(msg.conn, msg.cxid, None, node.data, node.version, True, z, node.stat())
        if node is None:
            return m.ClientOpResponse(msg.conn, msg.cxid, NO_NODE, None, -1, False, z)
        if msg.op == m.GET_DATA:
            if msg.watch:
                self.watches.add_data(msg.path, key)
            value = {"data": node.data, "stat": node.stat()}
            return m.ClientOpResponse(msg.conn, msg.cxid, None, node.data, node.version, True, z, value)
        if msg.watch:
            self.watches.add_child(msg.path, key)
        return m.ClientOpResponse(msg.conn, msg.cxid, None, None, -1, True, z, self.tree.get_children(msg.path))

    def _reject_local(self, txn: Txn, reason: str) -> list[Effect]:
        """The leader did not propose our client's request: tell the client."""
        if txn.type == CREATE_SESSION:
            key = self.pending_connects.pop(txn.session, None)
            if key is None:
                return []
            return [Send(key[0], m.ConnectResponse(key[1], False, self.last_processed_zxid, "rejected:" + reason))]
        conn = self.pending_writes.pop((txn.client, txn.cxid), None)
        if conn is None:
            return []
        return [Send(txn.client, m.ClientOpResponse(conn, txn.cxid, "rejected:" + reason))]

    def _answer_sync_waits(self) -> list[Effect]:
        effects: list[Effect] = []
        applied = self.tree.last_processed_zxid
        rest = []
        for zxid, client, conn, cxid in self.sync_waits:
            if zxid <= applied:
                if (client, conn) in self.client_conns:
                    effects.append(Send(client, m.ClientOpResponse(conn, cxid, None, zxid=applied)))
            else:
                rest.append((zxid, client, conn, cxid))
        self.sync_waits = rest
        return effects
