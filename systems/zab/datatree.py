"""The replicated state: a ZooKeeper-style tree of znodes, and the txns that change it.

A txn is what the leader proposes and every server logs and, once committed, applies in
zxid order. Applying is deterministic: the same tree and the same txn give the same result
on every replica, which is why the version check of a conditional setData happens here, at
apply time, and not at the leader before proposing (ZooKeeper's PrepRequestProcessor does
it at the leader against its "outstanding changes"; both give a definite answer, ours has
fewer moving parts). A failed check is still a txn: it takes a zxid, changes nothing, and
tells the origin server to answer the client ``fail``.

Kinds (``Txn.type``):
- ``setData``: ``version == -1`` sets unconditionally and, as the register workload's
  "put", creates the znode if it is absent (a deviation from ZooKeeper, whose setData
  fails with NoNode); ``version >= 0`` is the compare-and-set: NoNode if absent,
  BadVersion if the version differs.
- ``create``: NodeExists if present (the register workload's cas from "absent").
Later kinds (delete, createSession, closeSession, ephemeral and sequential creates) fit
the same shape: a frozen ``Txn``, a branch in ``DataTree.apply``.

Txns travel in messages as ``Txn`` values and are stored in the log as plain tuples
(``Txn.to_record``); records may come back from disk as lists, ``Txn.from_record`` takes
either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

#: errors a txn can end with; the names are ZooKeeper's KeeperException codes
NO_NODE = "NoNode"
BAD_VERSION = "BadVersion"
NODE_EXISTS = "NodeExists"


def canonical(value: Any) -> str:
    """A deterministic text form of a JSON-able value (tuples and lists look alike)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)


@dataclass(frozen=True, slots=True)
class Txn:
    """One state change, with who asked for it (so the origin server can answer).

    ``origin`` is the server the client is connected to, ``session`` the client's session
    (its node id for now), ``cxid`` the client's request number on that session.
    """

    type: str
    path: str
    data: Any = None
    version: int = -1
    origin: str = ""
    session: str = ""
    cxid: int = 0

    def __post_init__(self) -> None:
        if self.type not in ("setData", "create"):
            raise ValueError(f"unknown txn type {self.type!r}")
        if not self.path.startswith("/"):
            raise ValueError(f"znode path must start with '/': {self.path!r}")

    def to_record(self) -> tuple:
        return (self.type, self.path, self.data, self.version, self.origin, self.session, self.cxid)

    @classmethod
    def from_record(cls, record: Any) -> "Txn":
        t, path, data, version, origin, session, cxid = record
        return cls(t, path, data, int(version), origin, session, int(cxid))

    def digest(self) -> str:
        """Short, deterministic, readable: ``setData:/x1:3f2a9c01b7``. Never ``hash()``."""
        h = hashlib.sha1(canonical(self.to_record()).encode()).hexdigest()[:10]
        return f"{self.type}:{self.path}:{h}"


@dataclass(slots=True)
class Znode:
    """A znode's stat, as much of it as we use. ``version`` counts setData calls."""

    data: Any
    version: int
    czxid: int
    mzxid: int


@dataclass(frozen=True, slots=True)
class TxnResult:
    ok: bool
    error: str | None = None
    version: int | None = None


class DataTree:
    """Znodes by path, and the zxid of the last txn applied (``last_processed_zxid``)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Znode] = {"/": Znode(None, 0, 0, 0)}
        self.last_processed_zxid = 0

    # ----------------------------------------------------------------- reads
    def get(self, path: str) -> Znode | None:
        return self.nodes.get(path)

    # ---------------------------------------------------------------- writes
    def apply(self, zxid: int, txn: Txn) -> TxnResult:
        """Apply ``txn`` as zxid ``zxid``; zxids must increase."""
        if zxid <= self.last_processed_zxid:
            raise ValueError(f"apply out of order: {zxid} after {self.last_processed_zxid}")
        self.last_processed_zxid = zxid
        node = self.nodes.get(txn.path)
        if txn.type == "create":
            if node is not None:
                return TxnResult(False, NODE_EXISTS)
            self.nodes[txn.path] = Znode(txn.data, 0, zxid, zxid)
            return TxnResult(True, version=0)
        # setData
        if node is None:
            if txn.version != -1:
                return TxnResult(False, NO_NODE)
            self.nodes[txn.path] = Znode(txn.data, 0, zxid, zxid)
            return TxnResult(True, version=0)
        if txn.version != -1 and txn.version != node.version:
            return TxnResult(False, BAD_VERSION)
        node.data = txn.data
        node.version += 1
        node.mzxid = zxid
        return TxnResult(True, version=node.version)

    # ------------------------------------------------------------- snapshots
    def to_record(self) -> tuple:
        """``(last_processed_zxid, ((path, data, version, czxid, mzxid), ...))``, sorted."""
        return (
            self.last_processed_zxid,
            tuple((p, n.data, n.version, n.czxid, n.mzxid) for p, n in sorted(self.nodes.items())),
        )

    @classmethod
    def from_record(cls, record: Any) -> "DataTree":
        tree = cls()
        zxid, nodes = record
        tree.last_processed_zxid = int(zxid)
        tree.nodes = {p: Znode(d, int(v), int(c), int(m)) for p, d, v, c, m in nodes}
        return tree

    def copy(self) -> "DataTree":
        return DataTree.from_record(self.to_record())

    def digest(self) -> list:
        """What replicas must agree on after healing: every znode's data and version."""
        return [[p, n.data, n.version] for p, n in sorted(self.nodes.items())]
