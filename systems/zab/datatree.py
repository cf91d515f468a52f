"""The replicated state: a ZooKeeper-style tree of znodes and sessions, and the txns that change it.

A txn is what the leader proposes and every server logs and, once committed, applies in
zxid order. Applying is deterministic: the same tree and the same txn give the same result
on every replica, which is why the checks of a write (version, existence, parent, session)
happen here, at apply time, and not at the leader before proposing (ZooKeeper's
PrepRequestProcessor does them at the leader against its "outstanding changes"; both give
a definite answer, ours has fewer moving parts). A failed check is still a txn: it takes a
zxid, changes nothing, and tells the origin server to answer the client ``fail``.

Kinds (``Txn.type``):
- ``create``: ``path`` with ``data``. NoNode if the parent is absent,
  NoChildrenForEphemerals if the parent is ephemeral, NodeExists if present (the register
  workload's cas from "absent"). ``flags``: EPHEMERAL (owned by ``session``, deleted with
  it), SEQUENTIAL (the name gets a 10-digit suffix, the parent's ``cversion`` before the
  create: it grows with every child create and delete, so it increases strictly under one
  parent, as in ZooKeeper).
- ``delete``: NoNode, BadVersion (``version >= 0`` differs), NotEmpty (has children).
- ``setData``: ``version >= 0`` is the compare-and-set: NoNode if absent, BadVersion if
  the version differs. ``version == -1`` sets unconditionally; then, without the flag
  SET_EXISTING, it creates the znode if it is absent (the register workload's "put", a
  deviation from ZooKeeper, whose setData fails with NoNode: the client library's
  ``setData`` sets SET_EXISTING).
- ``createSession``: the session ``session`` exists from now on, with timeout ``data``.
- ``closeSession``: the session ends (expired by the leader, or closed by its client); its
  ephemeral znodes are deleted, in path order.
A client's write (create, delete, setData) of a session that no longer exists fails with
SessionExpired (``session`` 0 means "no session": unchecked, for tests and old records).

Sessions are part of the tree (ZooKeeper keeps them in the ZKDatabase and its snapshots),
so a new leader knows every live session and a SNAP carries them.

Txns travel in messages as ``Txn`` values and are stored in the log as plain tuples
(``Txn.to_record``); records may come back from disk as lists, ``Txn.from_record`` takes
either, and also the 7-field records written before sessions existed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from harness.node import fast_init

#: errors a txn can end with; the names are ZooKeeper's KeeperException codes
NO_NODE = "NoNode"
BAD_VERSION = "BadVersion"
NODE_EXISTS = "NodeExists"
NOT_EMPTY = "NotEmpty"
NO_CHILDREN_FOR_EPHEMERALS = "NoChildrenForEphemerals"
SESSION_EXPIRED = "SessionExpired"
BAD_ARGUMENTS = "BadArguments"

# txn kinds
CREATE = "create"
DELETE = "delete"
SET_DATA = "setData"
CREATE_SESSION = "createSession"
CLOSE_SESSION = "closeSession"
TXN_TYPES = (CREATE, DELETE, SET_DATA, CREATE_SESSION, CLOSE_SESSION)
#: kinds that act on a znode (``path``); session txns carry ``"/"``
ZNODE_TXNS = (CREATE, DELETE, SET_DATA)

# Txn.flags
EPHEMERAL = 1
SEQUENTIAL = 2
SET_EXISTING = 4  # setData(-1) of an absent znode fails NoNode instead of creating it

# watch triggers (WatchManager turns them into ZooKeeper event types)
CREATED = "created"
DELETED = "deleted"
CHANGED = "changed"
CHILDREN = "children"


# what json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr) builds
# afresh on every call
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=repr)


def canonical(value: Any) -> str:
    """A deterministic text form of a JSON-able value (tuples and lists look alike)."""
    return _CANONICAL.encode(value)


def parent_of(path: str) -> str:
    i = path.rfind("/")
    return "/" if i <= 0 else path[:i]


def name_of(path: str) -> str:
    return path[path.rfind("/") + 1 :]


class _TxnDigest:
    """Where a Txn keeps its digest once computed: a slot outside the dataclass's fields,
    so equality, hashing, repr and pickling see only the txn (a digest is a pure
    function of the fields; every server traces it on deliver, the leader on propose)."""

    __slots__ = ("_digest",)
    _digest: str | None


_set_digest = _TxnDigest.__dict__["_digest"].__set__


@fast_init
@dataclass(frozen=True, slots=True)
class Txn(_TxnDigest):
    """One state change, with who asked for it (so the origin server can answer).

    ``origin`` is the server the client is connected to, ``client`` the client's node id
    (where answers go), ``cxid`` the client's request number, ``session`` its session id
    (0: none), ``flags`` EPHEMERAL / SEQUENTIAL / SET_EXISTING.
    """

    type: str
    path: str
    data: Any = None
    version: int = -1
    origin: str = ""
    client: str = ""
    cxid: int = 0
    session: int = 0
    flags: int = 0

    def __post_init__(self) -> None:
        if self.type not in TXN_TYPES:
            raise ValueError(f"unknown txn type {self.type!r}")
        if not self.path.startswith("/"):
            raise ValueError(f"znode path must start with '/': {self.path!r}")
        _set_digest(self, None)

    def to_record(self) -> tuple:
        base = (self.type, self.path, self.data, self.version, self.origin, self.client, self.cxid)
        return base + (self.session, self.flags) if (self.session or self.flags) else base

    @classmethod
    def from_record(cls, record: Any) -> Txn:
        t, path, data, version, origin, client, cxid, *rest = record
        session, flags = (int(rest[0]), int(rest[1])) if rest else (0, 0)
        return cls(t, path, data, int(version), origin, client, int(cxid), session, flags)

    def digest(self) -> str:
        """Short, deterministic, readable: ``setData:/x1:3f2a9c01b7``. Never ``hash()``."""
        try:
            d = self._digest
        except AttributeError:  # an unpickled txn (no __init__, so no None there yet)
            d = None
        if d is not None:
            return d
        h = hashlib.sha1(canonical(self.to_record()).encode()).hexdigest()[:10]
        d = f"{self.type}:{self.path}:{h}"
        _set_digest(self, d)
        return d


@dataclass(slots=True)
class Znode:
    """A znode's stat. ``version`` counts setData calls, ``cversion`` child creates and
    deletes; ``pzxid`` is the zxid of the last child change; ``ephemeral_owner`` the
    owning session (0: persistent)."""

    data: Any
    version: int
    czxid: int
    mzxid: int
    cversion: int = 0
    pzxid: int = 0
    ephemeral_owner: int = 0

    def stat(self) -> dict:
        """The stat dict of the client API (systems/zab/api.py)."""
        return {
            "version": self.version,
            "cversion": self.cversion,
            "czxid": self.czxid,
            "mzxid": self.mzxid,
            "ephemeralOwner": self.ephemeral_owner or None,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class TxnResult:
    """What applying a txn did. ``path``: the znode acted on (a sequential create's full
    name); ``stat`` its stat after (create, setData); ``triggers``: (trigger, path) pairs
    for the watch manager; ``deleted``: ephemerals a closeSession removed."""

    ok: bool
    error: str | None = None
    version: int | None = None
    path: str | None = None
    stat: dict | None = None
    triggers: tuple = ()
    deleted: tuple = ()


class DataTree:
    """Znodes by path, live sessions, and the zxid of the last txn applied."""

    def __init__(self) -> None:
        self.nodes: dict[str, Znode] = {"/": Znode(None, 0, 0, 0)}
        self.children: dict[str, set[str]] = {"/": set()}
        self.sessions: dict[int, int] = {}  # session id -> timeout (ns)
        self.ephemerals: dict[int, set[str]] = {}  # session id -> paths it owns
        self.last_processed_zxid = 0

    # ----------------------------------------------------------------- reads
    def get(self, path: str) -> Znode | None:
        return self.nodes.get(path)

    def get_children(self, path: str) -> list[str] | None:
        kids = self.children.get(path)
        return None if kids is None else sorted(kids)

    # ---------------------------------------------------------------- writes
    def apply(self, zxid: int, txn: Txn) -> TxnResult:
        """Apply ``txn`` as zxid ``zxid``; zxids must increase."""
        if zxid <= self.last_processed_zxid:
            raise ValueError(f"apply out of order: {zxid} after {self.last_processed_zxid}")
        self.last_processed_zxid = zxid
        if txn.type == CREATE_SESSION:
            self.sessions.setdefault(txn.session, int(txn.data or 0))
            return TxnResult(True)
        if txn.type == CLOSE_SESSION:
            return self._close_session(zxid, txn.session)
        if txn.session and txn.session not in self.sessions:
            return TxnResult(False, SESSION_EXPIRED, path=txn.path)
        if txn.type == CREATE:
            return self._create(zxid, txn)
        if txn.type == DELETE:
            return self._delete_checked(zxid, txn)
        return self._set_data(zxid, txn)

    def _create(self, zxid: int, txn: Txn) -> TxnResult:
        path = txn.path
        parent = self.nodes.get(parent_of(path))
        if parent is None:
            return TxnResult(False, NO_NODE, path=path)
        if parent.ephemeral_owner:
            return TxnResult(False, NO_CHILDREN_FOR_EPHEMERALS, path=path)
        if txn.flags & SEQUENTIAL:
            path = f"{path}{parent.cversion:010d}"
        if path == "/" or path.endswith("/"):
            return TxnResult(False, BAD_ARGUMENTS, path=path)
        if path in self.nodes:
            return TxnResult(False, NODE_EXISTS, path=path)
        owner = txn.session if txn.flags & EPHEMERAL else 0
        return self._add(zxid, path, txn.data, owner)

    def _add(self, zxid: int, path: str, data: Any, owner: int) -> TxnResult:
        node = Znode(data, 0, zxid, zxid, 0, zxid, owner)
        self.nodes[path] = node
        self.children[path] = set()
        p = parent_of(path)
        self.children[p].add(name_of(path))
        parent = self.nodes[p]
        parent.cversion += 1
        parent.pzxid = zxid
        if owner:
            self.ephemerals.setdefault(owner, set()).add(path)
        return TxnResult(True, version=0, path=path, stat=node.stat(), triggers=((CREATED, path), (CHILDREN, p)))

    def _delete_checked(self, zxid: int, txn: Txn) -> TxnResult:
        path = txn.path
        node = self.nodes.get(path)
        if path == "/":
            return TxnResult(False, BAD_ARGUMENTS, path=path)
        if node is None:
            return TxnResult(False, NO_NODE, path=path)
        if txn.version != -1 and txn.version != node.version:
            return TxnResult(False, BAD_VERSION, path=path)
        if self.children[path]:
            return TxnResult(False, NOT_EMPTY, path=path)
        return TxnResult(True, path=path, triggers=self._remove(zxid, path))

    def _remove(self, zxid: int, path: str) -> tuple:
        node = self.nodes.pop(path)
        del self.children[path]
        p = parent_of(path)
        self.children[p].discard(name_of(path))
        parent = self.nodes[p]
        parent.cversion += 1
        parent.pzxid = zxid
        if node.ephemeral_owner:
            owned = self.ephemerals.get(node.ephemeral_owner)
            if owned is not None:
                owned.discard(path)
                if not owned:
                    del self.ephemerals[node.ephemeral_owner]
        return ((DELETED, path), (CHILDREN, p))

    def _set_data(self, zxid: int, txn: Txn) -> TxnResult:
        node = self.nodes.get(txn.path)
        if node is None:
            if txn.version != -1 or txn.flags & SET_EXISTING:
                return TxnResult(False, NO_NODE, path=txn.path)
            parent = self.nodes.get(parent_of(txn.path))
            if parent is None or parent.ephemeral_owner or txn.path == "/":
                return TxnResult(False, NO_NODE, path=txn.path)
            return self._add(zxid, txn.path, txn.data, 0)
        if txn.version != -1 and txn.version != node.version:
            return TxnResult(False, BAD_VERSION, path=txn.path)
        node.data = txn.data
        node.version += 1
        node.mzxid = zxid
        return TxnResult(True, version=node.version, path=txn.path, stat=node.stat(), triggers=((CHANGED, txn.path),))

    def _close_session(self, zxid: int, session: int) -> TxnResult:
        self.sessions.pop(session, None)
        # deepest first would matter only if ephemerals had children; they cannot
        paths = sorted(self.ephemerals.get(session, ()))
        triggers: tuple = ()
        for path in paths:
            triggers += self._remove(zxid, path)
        return TxnResult(True, triggers=triggers, deleted=tuple(paths))

    # ------------------------------------------------------------- snapshots
    def to_record(self) -> tuple:
        """``(last_processed_zxid, ((path, data, version, czxid, mzxid, cversion, pzxid,
        owner), ...), ((session, timeout), ...))``, sorted."""
        return (
            self.last_processed_zxid,
            tuple(
                (p, n.data, n.version, n.czxid, n.mzxid, n.cversion, n.pzxid, n.ephemeral_owner)
                for p, n in sorted(self.nodes.items())
            ),
            tuple(sorted(self.sessions.items())),
        )

    @classmethod
    def from_record(cls, record: Any) -> DataTree:
        tree = cls()
        zxid, nodes, *rest = record
        tree.last_processed_zxid = int(zxid)
        tree.nodes = {}
        for p, d, v, c, m, *more in nodes:
            cv, pz, owner = (int(more[0]), int(more[1]), int(more[2])) if more else (0, int(c), 0)
            tree.nodes[p] = Znode(d, int(v), int(c), int(m), cv, pz, owner)
        tree.children = {p: set() for p in tree.nodes}
        for p, n in tree.nodes.items():
            if p != "/":
                tree.children[parent_of(p)].add(name_of(p))
            if n.ephemeral_owner:
                tree.ephemerals.setdefault(n.ephemeral_owner, set()).add(p)
        tree.sessions = {int(s): int(t) for s, t in (rest[0] if rest else ())}
        return tree

    def copy(self) -> DataTree:
        return DataTree.from_record(self.to_record())

    def digest(self) -> dict:
        """What replicas must agree on after healing: every znode's data, version,
        cversion and ephemeral owner, and the live sessions (so an ephemeral or a session
        that lingers on one replica shows)."""
        return {
            "znodes": [[p, n.data, n.version, n.cversion, n.ephemeral_owner] for p, n in sorted(self.nodes.items())],
            "sessions": sorted(self.sessions),
        }

