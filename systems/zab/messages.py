"""Every message a ZAB server or ZooKeeper client sends: frozen values with slots.

Three groups, named after ZooKeeper's own packets:

- **Election** (``FastLeaderElection``): ``Notification``.
- **Quorum peers** (``Leader``/``LearnerHandler``/``Learner``): FOLLOWERINFO, LEADERINFO,
  ACKEPOCH (discovery); DIFF, TRUNC, SNAP, NEWLEADER, UPTODATE (synchronization);
  PROPOSAL, ACK, COMMIT, PING, REQUEST, SYNC (broadcast). Each carries ``conn``, the id of
  the follower-to-leader "TCP connection" it belongs to: the follower draws a fresh one
  from its RNG each time it connects, so a message from an older connection (an earlier
  incarnation, an earlier round of following the same leader) is recognised and dropped,
  as a closed socket would drop it.
- **Client sessions** (``ClientCnxn`` and the server's request path): CONNECT, client
  operations and their replies, DISCONNECT. ``conn`` again names the client's connection.

Sender ids are not in the messages: the network hands ``src`` to ``on_message``.

Each message class is what ``@dataclass(frozen=True, slots=True)`` with
``harness.node.fast_init`` made of it (same constructor, fields, ``repr``, equality,
hash, ``FrozenInstanceError`` on assignment, pickling, ``__match_args__``), written out
plainly on one base class, `_Message`: the dataclass machinery compiled some eight
functions per class at import, about 20 ms of every ``harness run`` for 27 classes
(``dataclasses.fields`` does not apply to these; nothing uses it on a message).
tests/zab/test_messages.py compares each with the dataclass built from its fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError
from operator import attrgetter
from typing import Any, NoReturn

from systems.zab.datatree import Txn


class _Message:
    """The frozen, slotted value behind every message: a subclass lists its fields in
    ``__slots__`` (in order) and stores them in ``__init__`` through ``_setters``, each
    field slot's own setter (as ``fast_init`` does: ``__setattr__`` refuses)."""

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()
    #: each field slot's setter, in field order
    _setters: tuple[Callable[[Any, Any], None], ...] = ()
    #: the tuple of field values (what equality, the hash and pickling use)
    _values: Callable[[Any], tuple[Any, ...]]

    def __init_subclass__(cls) -> None:
        names: tuple[str, ...] = cls.__dict__["__slots__"]
        cls.__match_args__ = names  # type: ignore[misc]
        cls._setters = tuple(cls.__dict__[n].__set__ for n in names)
        get = attrgetter(*names)
        cls._values = staticmethod(get if len(names) > 1 else lambda self: (get(self),))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={v!r}" for n, v in zip(self.__match_args__, self._values(self)))
        return f"{self.__class__.__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values(self) == other._values(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values(self))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self) -> list[Any]:
        return list(self._values(self))

    def __setstate__(self, state: list[Any]) -> None:
        for store, value in zip(self._setters, state):
            store(self, value)

# ------------------------------------------------------------------------- states

LOOKING = "LOOKING"
FOLLOWING = "FOLLOWING"
LEADING = "LEADING"
PEER_STATES = (LOOKING, FOLLOWING, LEADING)


def _check_zxid(*zxids: int) -> None:
    for z in zxids:
        if not isinstance(z, int) or z < 0:
            raise ValueError(f"bad zxid {z!r}")


# ----------------------------------------------------------------------- election


class Notification(_Message):
    """An FLE vote: ``leader`` proposed with its ``zxid`` and ``peer_epoch``, sent in
    election round ``election_epoch`` (the sender's logicalclock) by a sender in ``state``."""

    __slots__ = ("leader", "zxid", "election_epoch", "peer_epoch", "state")
    leader: str
    zxid: int
    election_epoch: int
    peer_epoch: int
    state: str

    def __init__(self, leader: str, zxid: int, election_epoch: int, peer_epoch: int, state: str) -> None:
        _leader, _zxid, _election_epoch, _peer_epoch, _state = self._setters
        _leader(self, leader)
        _zxid(self, zxid)
        _election_epoch(self, election_epoch)
        _peer_epoch(self, peer_epoch)
        _state(self, state)
        self.__post_init__()

    def __post_init__(self) -> None:
        _check_zxid(self.zxid)
        if self.state not in PEER_STATES:
            raise ValueError(f"bad peer state {self.state!r}")


# --------------------------------------------------------------- discovery (phase 1)


class FollowerInfo(_Message):
    """FOLLOWERINFO (paper CEPOCH): ``zxid = make_zxid(acceptedEpoch, 0)``."""

    __slots__ = ("conn", "zxid")
    conn: int
    zxid: int

    def __init__(self, conn: int, zxid: int) -> None:
        _conn, _zxid = self._setters
        _conn(self, conn)
        _zxid(self, zxid)


class LeaderInfo(_Message):
    """LEADERINFO (paper NEWEPOCH): the epoch the prospective leader proposes."""

    __slots__ = ("conn", "epoch")
    conn: int
    epoch: int

    def __init__(self, conn: int, epoch: int) -> None:
        _conn, _epoch = self._setters
        _conn(self, conn)
        _epoch(self, epoch)


class AckEpoch(_Message):
    """ACKEPOCH (paper ACK-E): the follower's currentEpoch (-1: "I had already accepted
    this epoch", not counted as an ack) and its last logged zxid."""

    __slots__ = ("conn", "current_epoch", "last_zxid")
    conn: int
    current_epoch: int
    last_zxid: int

    def __init__(self, conn: int, current_epoch: int, last_zxid: int) -> None:
        _conn, _current_epoch, _last_zxid = self._setters
        _conn(self, conn)
        _current_epoch(self, current_epoch)
        _last_zxid(self, last_zxid)


# ---------------------------------------------------------- synchronization (phase 2)


class Diff(_Message):
    """DIFF: the proposals that follow extend your log from ``zxid`` (your last)."""

    __slots__ = ("conn", "zxid")
    conn: int
    zxid: int

    def __init__(self, conn: int, zxid: int) -> None:
        _conn, _zxid = self._setters
        _conn(self, conn)
        _zxid(self, zxid)


class Trunc(_Message):
    """TRUNC: drop every logged txn after ``zxid``; proposals follow."""

    __slots__ = ("conn", "zxid")
    conn: int
    zxid: int

    def __init__(self, conn: int, zxid: int) -> None:
        _conn, _zxid = self._setters
        _conn(self, conn)
        _zxid(self, zxid)


class Snap(_Message):
    """SNAP: replace your state by this snapshot of committed txns up to ``zxid``
    (``tree`` is ``DataTree.to_record()``); proposals after it follow."""

    __slots__ = ("conn", "zxid", "tree")
    conn: int
    zxid: int
    tree: tuple

    def __init__(self, conn: int, zxid: int, tree: tuple) -> None:
        _conn, _zxid, _tree = self._setters
        _conn(self, conn)
        _zxid(self, zxid)
        _tree(self, tree)


class NewLeader(_Message):
    """NEWLEADER (paper NEWLEADER / ACK-LD asks for): ``zxid = make_zxid(epoch, 0)``."""

    __slots__ = ("conn", "zxid")
    conn: int
    zxid: int

    def __init__(self, conn: int, zxid: int) -> None:
        _conn, _zxid = self._setters
        _conn(self, conn)
        _zxid(self, zxid)


class UpToDate(_Message):
    """UPTODATE (paper COMMIT-LD): the leader is established; everything up to its latest
    committed zxid ``committed_zxid`` is committed; start serving."""

    __slots__ = ("conn", "committed_zxid")
    conn: int
    committed_zxid: int

    def __init__(self, conn: int, committed_zxid: int) -> None:
        _conn, _committed_zxid = self._setters
        _conn(self, conn)
        _committed_zxid(self, committed_zxid)


# ------------------------------------------------------------------ broadcast (phase 3)


class Proposal(_Message):
    """PROPOSAL: log ``txn`` as ``zxid`` and ACK it."""

    __slots__ = ("conn", "zxid", "txn")
    conn: int
    zxid: int
    txn: Txn

    def __init__(self, conn: int, zxid: int, txn: Txn) -> None:
        _conn, _zxid, _txn = self._setters
        _conn(self, conn)
        _zxid(self, zxid)
        _txn(self, txn)
        self.__post_init__()

    def __post_init__(self) -> None:
        _check_zxid(self.zxid)


class Ack(_Message):
    """ACK of a proposal, or of NEWLEADER when ``zxid`` has counter 0."""

    __slots__ = ("conn", "zxid")
    conn: int
    zxid: int

    def __init__(self, conn: int, zxid: int) -> None:
        _conn, _zxid = self._setters
        _conn(self, conn)
        _zxid(self, zxid)


class Commit(_Message):
    """COMMIT: everything up to ``zxid`` is committed."""

    __slots__ = ("conn", "zxid")
    conn: int
    zxid: int

    def __init__(self, conn: int, zxid: int) -> None:
        _conn, _zxid = self._setters
        _conn(self, conn)
        _zxid(self, zxid)


class Ping(_Message):
    """Leader to follower every half tick; ``round`` numbers it so a quorum round can be
    recognised (what ``sync`` waits for). ``committed_zxid`` is the leader's latest
    commit, so a follower that lost a COMMIT catches up, and ``last_zxid`` its latest
    proposal, so a follower that lost PROPOSALs notices (links are FIFO, so all of them
    came before this ping) and resyncs. ZooKeeper relies on TCP never to lose a packet
    inside a live connection; our network may, so the protocol checks."""

    __slots__ = ("conn", "round", "committed_zxid", "last_zxid")
    conn: int
    round: int
    committed_zxid: int
    last_zxid: int

    def __init__(self, conn: int, round: int, committed_zxid: int = 0, last_zxid: int = 0) -> None:
        _conn, _round, _committed_zxid, _last_zxid = self._setters
        _conn(self, conn)
        _round(self, round)
        _committed_zxid(self, committed_zxid)
        _last_zxid(self, last_zxid)


class PingAck(_Message):
    """The follower's answer to a Ping (ZooKeeper's follower answers PING with PING).
    ``sessions``: the client sessions it heard from since its last answer (ZooKeeper's
    LearnerSessionTracker touch table), so that the leader's session tracker sees them."""

    __slots__ = ("conn", "round", "sessions")
    conn: int
    round: int
    sessions: tuple

    def __init__(self, conn: int, round: int, sessions: tuple = ()) -> None:
        _conn, _round, _sessions = self._setters
        _conn(self, conn)
        _round(self, round)
        _sessions(self, sessions)


class Request(_Message):
    """REQUEST: a follower forwards a client's write to the leader."""

    __slots__ = ("conn", "txn")
    conn: int
    txn: Txn

    def __init__(self, conn: int, txn: Txn) -> None:
        _conn, _txn = self._setters
        _conn(self, conn)
        _txn(self, txn)


class RequestRejected(_Message):
    """The leader did not propose a forwarded write (not established, zxid rollover)."""

    __slots__ = ("conn", "txn", "reason")
    conn: int
    txn: Txn
    reason: str

    def __init__(self, conn: int, txn: Txn, reason: str) -> None:
        _conn, _txn, _reason = self._setters
        _conn(self, conn)
        _txn(self, txn)
        _reason(self, reason)


class SyncRequest(_Message):
    """SYNC forwarded by a follower; ``sync_id`` is the follower's own number for it."""

    __slots__ = ("conn", "sync_id")
    conn: int
    sync_id: int

    def __init__(self, conn: int, sync_id: int) -> None:
        _conn, _sync_id = self._setters
        _conn(self, conn)
        _sync_id(self, sync_id)


class SyncDone(_Message):
    """The leader confirmed with a quorum that it leads; apply up to ``zxid``, then
    answer the client's sync."""

    __slots__ = ("conn", "sync_id", "zxid")
    conn: int
    sync_id: int
    zxid: int

    def __init__(self, conn: int, sync_id: int, zxid: int) -> None:
        _conn, _sync_id, _zxid = self._setters
        _conn(self, conn)
        _sync_id(self, sync_id)
        _zxid(self, zxid)


# -------------------------------------------------------------------- client sessions


class ConnectRequest(_Message):
    """A client (re)connects; ``last_zxid`` is the newest zxid it has seen. A server that
    has applied less refuses (single system image). ``session`` 0 asks for a new session
    with ``session_timeout`` (ns; the server clamps it); otherwise the client reattaches
    to that session."""

    __slots__ = ("conn", "last_zxid", "session_timeout", "session")
    conn: int
    last_zxid: int
    session_timeout: int
    session: int

    def __init__(self, conn: int, last_zxid: int, session_timeout: int = 0, session: int = 0) -> None:
        _conn, _last_zxid, _session_timeout, _session = self._setters
        _conn(self, conn)
        _last_zxid(self, last_zxid)
        _session_timeout(self, session_timeout)
        _session(self, session)


class ConnectResponse(_Message):
    """``ok``: connected to ``session`` (whose negotiated timeout is ``timeout``);
    otherwise ``error`` says why: ``SessionExpired`` (the session is gone: the client
    must not retry it), or a reason to try another server."""

    __slots__ = ("conn", "ok", "zxid", "error", "session", "timeout")
    conn: int
    ok: bool
    zxid: int
    error: str | None
    session: int
    timeout: int

    def __init__(self, conn: int, ok: bool, zxid: int = 0, error: str | None = None, session: int = 0,
                 timeout: int = 0) -> None:
        _conn, _ok, _zxid, _error, _session, _timeout = self._setters
        _conn(self, conn)
        _ok(self, ok)
        _zxid(self, zxid)
        _error(self, error)
        _session(self, session)
        _timeout(self, timeout)


#: client operation kinds
GET_DATA = "getData"
SET_DATA = "setData"
CREATE = "create"
DELETE = "delete"
EXISTS = "exists"
GET_CHILDREN = "getChildren"
SYNC = "sync"
CLOSE_SESSION = "closeSession"
CLIENT_OPS = (GET_DATA, SET_DATA, CREATE, DELETE, EXISTS, GET_CHILDREN, SYNC, CLOSE_SESSION)
#: answered by the connected server from its tree, at once
READ_OPS = (GET_DATA, EXISTS, GET_CHILDREN)
#: txns through the leader, answered once the connected server applies them
WRITE_OPS = (SET_DATA, CREATE, DELETE, CLOSE_SESSION)


class ClientOp(_Message):
    """A request on a client connection. ``version`` is setData's and delete's expected
    version, ``flags`` the txn flags (datatree: EPHEMERAL, SEQUENTIAL, SET_EXISTING),
    ``watch`` leaves a one-shot watch (exists, getData: data; getChildren: children)."""

    __slots__ = ("conn", "cxid", "op", "path", "data", "version", "flags", "watch")
    conn: int
    cxid: int
    op: str
    path: str
    data: Any
    version: int
    flags: int
    watch: bool

    def __init__(self, conn: int, cxid: int, op: str, path: str = "/", data: Any = None, version: int = -1,
                 flags: int = 0, watch: bool = False) -> None:
        _conn, _cxid, _op, _path, _data, _version, _flags, _watch = self._setters
        _conn(self, conn)
        _cxid(self, cxid)
        _op(self, op)
        _path(self, path)
        _data(self, data)
        _version(self, version)
        _flags(self, flags)
        _watch(self, watch)
        self.__post_init__()

    def __post_init__(self) -> None:
        if self.op not in CLIENT_OPS:
            raise ValueError(f"unknown client op {self.op!r}")


class ClientOpResponse(_Message):
    """Reply to a ClientOp. ``error`` None means success; ``zxid`` is the server's last
    processed zxid when it answered (for a write: the write's own zxid). ``data``,
    ``version``, ``exists`` describe the znode of a getData (the register workload's
    view); ``value`` is the client API's result (api.py: a path, a stat dict,
    ``{"data", "stat"}``, a list of children)."""

    __slots__ = ("conn", "cxid", "error", "data", "version", "exists", "zxid", "value")
    conn: int
    cxid: int
    error: str | None
    data: Any
    version: int
    exists: bool
    zxid: int
    value: Any

    def __init__(self, conn: int, cxid: int, error: str | None = None, data: Any = None, version: int = -1,
                 exists: bool = False, zxid: int = 0, value: Any = None) -> None:
        _conn, _cxid, _error, _data, _version, _exists, _zxid, _value = self._setters
        _conn(self, conn)
        _cxid(self, cxid)
        _error(self, error)
        _data(self, data)
        _version(self, version)
        _exists(self, exists)
        _zxid(self, zxid)
        _value(self, value)


class ClientPing(_Message):
    """An idle client keeps its session alive (and checks its server is there)."""

    __slots__ = ("conn",)
    conn: int

    def __init__(self, conn: int) -> None:
        self._setters[0](self, conn)


class ClientPong(_Message):
    """A server's answer to a ClientPing, with its last processed zxid."""

    __slots__ = ("conn", "zxid")
    conn: int
    zxid: int

    def __init__(self, conn: int, zxid: int = 0) -> None:
        _conn, _zxid = self._setters
        _conn(self, conn)
        _zxid(self, zxid)


class WatchEvent(_Message):
    """A one-shot watch fired: ``type`` is a ZooKeeper event type (api.py), at the
    server's apply of ``zxid`` (0 for an event fired by SetWatches)."""

    __slots__ = ("conn", "type", "path", "zxid")
    conn: int
    type: str
    path: str
    zxid: int

    def __init__(self, conn: int, type: str, path: str, zxid: int = 0) -> None:
        _conn, _type, _path, _zxid = self._setters
        _conn(self, conn)
        _type(self, type)
        _path(self, path)
        _zxid(self, zxid)


class SetWatches(_Message):
    """After reconnecting, the client re-registers its watches as of ``zxid`` (its last
    seen): the server fires those whose znode changed since, and keeps the others.
    ``data``: getData/exists watches on existing znodes, ``exist``: exists watches on
    absent ones, ``child``: getChildren watches."""

    __slots__ = ("conn", "zxid", "data", "exist", "child")
    conn: int
    zxid: int
    data: tuple
    exist: tuple
    child: tuple

    def __init__(self, conn: int, zxid: int, data: tuple = (), exist: tuple = (), child: tuple = ()) -> None:
        _conn, _zxid, _data, _exist, _child = self._setters
        _conn(self, conn)
        _zxid(self, zxid)
        _data(self, data)
        _exist(self, exist)
        _child(self, child)


class Disconnect(_Message):
    """Either side closes the client connection (server stopped serving, client left,
    session closed).

    From a server, ``last_cxid`` is the last request it read on the connection: a request
    sent after it was never read, and never will be (the server refuses it), so the client
    knows that request did not happen. The analogue of the bytes a closed socket discards.
    """

    __slots__ = ("conn", "reason", "last_cxid")
    conn: int
    reason: str
    last_cxid: int

    def __init__(self, conn: int, reason: str = "", last_cxid: int = 0) -> None:
        _conn, _reason, _last_cxid = self._setters
        _conn(self, conn)
        _reason(self, reason)
        _last_cxid(self, last_cxid)


#: what a client sends to a server
CLIENT_TO_SERVER = (ConnectRequest, ClientOp, ClientPing, SetWatches, Disconnect)
