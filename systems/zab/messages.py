"""Every message a ZAB server or ZooKeeper client sends: frozen, slotted dataclasses.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.node import fast_init
from systems.zab.datatree import Txn

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


@fast_init
@dataclass(frozen=True, slots=True)
class Notification:
    """An FLE vote: ``leader`` proposed with its ``zxid`` and ``peer_epoch``, sent in
    election round ``election_epoch`` (the sender's logicalclock) by a sender in ``state``."""

    leader: str
    zxid: int
    election_epoch: int
    peer_epoch: int
    state: str

    def __post_init__(self) -> None:
        _check_zxid(self.zxid)
        if self.state not in PEER_STATES:
            raise ValueError(f"bad peer state {self.state!r}")


# --------------------------------------------------------------- discovery (phase 1)


@fast_init
@dataclass(frozen=True, slots=True)
class FollowerInfo:
    """FOLLOWERINFO (paper CEPOCH): ``zxid = make_zxid(acceptedEpoch, 0)``."""

    conn: int
    zxid: int


@fast_init
@dataclass(frozen=True, slots=True)
class LeaderInfo:
    """LEADERINFO (paper NEWEPOCH): the epoch the prospective leader proposes."""

    conn: int
    epoch: int


@fast_init
@dataclass(frozen=True, slots=True)
class AckEpoch:
    """ACKEPOCH (paper ACK-E): the follower's currentEpoch (-1: "I had already accepted
    this epoch", not counted as an ack) and its last logged zxid."""

    conn: int
    current_epoch: int
    last_zxid: int


# ---------------------------------------------------------- synchronization (phase 2)


@fast_init
@dataclass(frozen=True, slots=True)
class Diff:
    """DIFF: the proposals that follow extend your log from ``zxid`` (your last)."""

    conn: int
    zxid: int


@fast_init
@dataclass(frozen=True, slots=True)
class Trunc:
    """TRUNC: drop every logged txn after ``zxid``; proposals follow."""

    conn: int
    zxid: int


@fast_init
@dataclass(frozen=True, slots=True)
class Snap:
    """SNAP: replace your state by this snapshot of committed txns up to ``zxid``
    (``tree`` is ``DataTree.to_record()``); proposals after it follow."""

    conn: int
    zxid: int
    tree: tuple


@fast_init
@dataclass(frozen=True, slots=True)
class NewLeader:
    """NEWLEADER (paper NEWLEADER / ACK-LD asks for): ``zxid = make_zxid(epoch, 0)``."""

    conn: int
    zxid: int


@fast_init
@dataclass(frozen=True, slots=True)
class UpToDate:
    """UPTODATE (paper COMMIT-LD): the leader is established; everything up to its latest
    committed zxid ``committed_zxid`` is committed; start serving."""

    conn: int
    committed_zxid: int


# ------------------------------------------------------------------ broadcast (phase 3)


@fast_init
@dataclass(frozen=True, slots=True)
class Proposal:
    conn: int
    zxid: int
    txn: Txn

    def __post_init__(self) -> None:
        _check_zxid(self.zxid)


@fast_init
@dataclass(frozen=True, slots=True)
class Ack:
    """ACK of a proposal, or of NEWLEADER when ``zxid`` has counter 0."""

    conn: int
    zxid: int


@fast_init
@dataclass(frozen=True, slots=True)
class Commit:
    conn: int
    zxid: int


@fast_init
@dataclass(frozen=True, slots=True)
class Ping:
    """Leader to follower every half tick; ``round`` numbers it so a quorum round can be
    recognised (what ``sync`` waits for). ``committed_zxid`` is the leader's latest
    commit, so a follower that lost a COMMIT catches up, and ``last_zxid`` its latest
    proposal, so a follower that lost PROPOSALs notices (links are FIFO, so all of them
    came before this ping) and resyncs. ZooKeeper relies on TCP never to lose a packet
    inside a live connection; our network may, so the protocol checks."""

    conn: int
    round: int
    committed_zxid: int = 0
    last_zxid: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class PingAck:
    """The follower's answer to a Ping (ZooKeeper's follower answers PING with PING).
    ``sessions``: the client sessions it heard from since its last answer (ZooKeeper's
    LearnerSessionTracker touch table), so that the leader's session tracker sees them."""

    conn: int
    round: int
    sessions: tuple = ()


@fast_init
@dataclass(frozen=True, slots=True)
class Request:
    """REQUEST: a follower forwards a client's write to the leader."""

    conn: int
    txn: Txn


@fast_init
@dataclass(frozen=True, slots=True)
class RequestRejected:
    """The leader did not propose a forwarded write (not established, zxid rollover)."""

    conn: int
    txn: Txn
    reason: str


@fast_init
@dataclass(frozen=True, slots=True)
class SyncRequest:
    """SYNC forwarded by a follower; ``sync_id`` is the follower's own number for it."""

    conn: int
    sync_id: int


@fast_init
@dataclass(frozen=True, slots=True)
class SyncDone:
    """The leader confirmed with a quorum that it leads; apply up to ``zxid``, then
    answer the client's sync."""

    conn: int
    sync_id: int
    zxid: int


# -------------------------------------------------------------------- client sessions


@fast_init
@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """A client (re)connects; ``last_zxid`` is the newest zxid it has seen. A server that
    has applied less refuses (single system image). ``session`` 0 asks for a new session
    with ``session_timeout`` (ns; the server clamps it); otherwise the client reattaches
    to that session."""

    conn: int
    last_zxid: int
    session_timeout: int = 0
    session: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class ConnectResponse:
    """``ok``: connected to ``session`` (whose negotiated timeout is ``timeout``);
    otherwise ``error`` says why: ``SessionExpired`` (the session is gone: the client
    must not retry it), or a reason to try another server."""

    conn: int
    ok: bool
    zxid: int = 0
    error: str | None = None
    session: int = 0
    timeout: int = 0


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


@fast_init
@dataclass(frozen=True, slots=True)
class ClientOp:
    """A request on a client connection. ``version`` is setData's and delete's expected
    version, ``flags`` the txn flags (datatree: EPHEMERAL, SEQUENTIAL, SET_EXISTING),
    ``watch`` leaves a one-shot watch (exists, getData: data; getChildren: children)."""

    conn: int
    cxid: int
    op: str
    path: str = "/"
    data: Any = None
    version: int = -1
    flags: int = 0
    watch: bool = False

    def __post_init__(self) -> None:
        if self.op not in CLIENT_OPS:
            raise ValueError(f"unknown client op {self.op!r}")


@fast_init
@dataclass(frozen=True, slots=True)
class ClientOpResponse:
    """Reply to a ClientOp. ``error`` None means success; ``zxid`` is the server's last
    processed zxid when it answered (for a write: the write's own zxid). ``data``,
    ``version``, ``exists`` describe the znode of a getData (the register workload's
    view); ``value`` is the client API's result (api.py: a path, a stat dict,
    ``{"data", "stat"}``, a list of children)."""

    conn: int
    cxid: int
    error: str | None = None
    data: Any = None
    version: int = -1
    exists: bool = False
    zxid: int = 0
    value: Any = None


@fast_init
@dataclass(frozen=True, slots=True)
class ClientPing:
    """An idle client keeps its session alive (and checks its server is there)."""

    conn: int


@fast_init
@dataclass(frozen=True, slots=True)
class ClientPong:
    conn: int
    zxid: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A one-shot watch fired: ``type`` is a ZooKeeper event type (api.py), at the
    server's apply of ``zxid`` (0 for an event fired by SetWatches)."""

    conn: int
    type: str
    path: str
    zxid: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class SetWatches:
    """After reconnecting, the client re-registers its watches as of ``zxid`` (its last
    seen): the server fires those whose znode changed since, and keeps the others.
    ``data``: getData/exists watches on existing znodes, ``exist``: exists watches on
    absent ones, ``child``: getChildren watches."""

    conn: int
    zxid: int
    data: tuple = ()
    exist: tuple = ()
    child: tuple = ()


@fast_init
@dataclass(frozen=True, slots=True)
class Disconnect:
    """Either side closes the client connection (server stopped serving, client left,
    session closed).

    From a server, ``last_cxid`` is the last request it read on the connection: a request
    sent after it was never read, and never will be (the server refuses it), so the client
    knows that request did not happen. The analogue of the bytes a closed socket discards.
    """

    conn: int
    reason: str = ""
    last_cxid: int = 0


#: what a client sends to a server
CLIENT_TO_SERVER = (ConnectRequest, ClientOp, ClientPing, SetWatches, Disconnect)
