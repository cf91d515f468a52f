"""A ZAB server (ZooKeeper's QuorumPeer with its Leader and Follower), sans-IO.

Theory of operation
===================

Every server runs the same loop (ZooKeeper's QuorumPeer.run): elect, then lead or follow
until something goes wrong, then elect again. ``state`` is LOOKING, FOLLOWING or LEADING;
``zab_state`` the phase: ELECTION, DISCOVERY, SYNCHRONIZATION, BROADCAST.

Phase 0, election (election.py). A LOOKING server votes ``(currentEpoch, last logged zxid,
sid)`` and converges with its peers on the greatest vote; the outcome is a *prospective*
leader.

Phase 1, discovery (establish an epoch):

    follower                                   prospective leader
    FOLLOWERINFO(acceptedEpoch) ------------->  waits for a quorum (itself included),
                                                e = max(acceptedEpoch) + 1,
                                                persists acceptedEpoch = e
                <------------------------------ LEADERINFO(e)
    e > acceptedEpoch: persist acceptedEpoch=e
    ACKEPOCH(currentEpoch, lastZxid) -------->  waits for a quorum of acks (itself
    (e == acceptedEpoch: currentEpoch -1,       included; -1 is not an ack); abandons if
     which does not count)                      an acker is more recent than itself;
                                                persists currentEpoch = e

Phase 2, synchronization (per follower, sync.py chooses the mode):

                <------------------------------ DIFF | TRUNC(z) | SNAP(z, tree),
                <------------------------------ PROPOSAL* (the rest of the leader's log),
                <------------------------------ NEWLEADER(e, 0); the follower is now in
                                                the forwarding set: new PROPOSALs and
                                                COMMITs reach it from here on
    logs each txn; on NEWLEADER waits until
    the log is durable, then persists
    currentEpoch = e, then
    ACK(e, 0) ------------------------------->  a quorum of NEWLEADER ACKs (its own: its
                                                currentEpoch and log durable) establishes
                                                the leader: its whole log is committed
                <------------------------------ UPTODATE(latest committed zxid)
    applies everything committed; serves clients

Phase 3, broadcast: the leader gives each write the next zxid ``(e, counter)``, logs it
and sends PROPOSAL to the forwarding set; a follower logs it and sends ACK once the record
is durable (``on_persisted``); the leader's own durable record counts as its ACK. When a
quorum has ACKed z and everything before z is committed, the leader sends COMMIT(z) and
applies; followers apply committed txns in zxid order. Liveness: the leader PINGs every
half tick; followers answer. A leader without a quorum heard from within ``sync_limit``
ticks steps down; a follower that hears nothing from its leader within ``sync_limit`` ticks
(``init_limit`` while syncing) goes LOOKING. Discovery and synchronization must finish
within ``init_limit`` ticks. A zxid counter about to roll over makes the leader refuse the
write and step down, forcing a new epoch (ZOOKEEPER-1277).

Lost and duplicated messages. ZooKeeper runs on TCP: inside a live connection nothing is
lost, duplicated or reordered, and a broken connection is noticed. Our network keeps
per-link FIFO but drops messages across a partition without "closing" anything (and may
duplicate). So the protocol checks what TCP would have guaranteed, without changing what
it decides: a follower requires each epoch's proposals to be contiguous (counter + 1) and
resyncs on a gap; PINGs carry the leader's latest proposal and commit, so a follower
notices lost PROPOSALs (resync) and lost COMMITs (apply up to the commit); an ACK of z
counts for every outstanding proposal up to z (a follower logs and ACKs in order), so a
lost ACK does not stall commits; duplicated proposals, FOLLOWERINFOs and client requests
are ignored. A connection is a random ``conn`` id (messages.py). (The planted
zab-propose-only-synced turns the first two checks back into ZooKeeper's: a gap is only
noted, and a COMMIT of a txn never received is ignored when nothing is pending.)

Clients (client.py) connect to any serving server; reads are served locally, writes are
forwarded to the leader, proposed, and answered by the server the client is connected to
once it applies the txn. ``sync`` makes the leader confirm its leadership with a quorum
ping round (ZOOKEEPER-1675) before the server may answer the client, and only after that
server has applied everything the leader had proposed when the sync arrived.

Sessions and watches (docs/zookeeper.md). A client's first CONNECT becomes a
``createSession`` txn (timeout clamped to [min_session_ticks, max_session_ticks]),
answered once applied; a reconnect names its session and is accepted while the session
is in our tree (at the leader: and not being closed). The established leader's session
tracker (sessions.py) expires a session not heard of within its timeout, on the monotonic
clock: its own clients' requests and pings touch it, followers relay theirs in PingAck;
it proposes ``closeSession``, whose apply deletes the session's ephemerals everywhere and
closes its connections (the client learns "Expired" when it reconnects). A new leader
tracks every live session afresh. Watches (watches.py) live on the server the client is
connected to and fire when that server applies the change, before it answers anything
later on that connection; a reconnecting client re-registers them (SetWatches).

Invariants this code keeps (and the trace lets the quorum checker verify):
- acceptedEpoch and currentEpoch only grow, and each is durable before anyone acts on it
  (LEADERINFO, ACKEPOCH, NEWLEADER ACK are sent only after ``on_persisted``).
- A follower ACKs a txn only once its log record is durable; it ACKs NEWLEADER only once
  every txn of the sync and then currentEpoch are durable (ZOOKEEPER-4643/4646 order).
- A follower's log holds epoch-e txns only after its currentEpoch=e is durable: messages
  after NEWLEADER are queued until the NEWLEADER ACK is out.
- The data tree holds committed txns only; applied in zxid order, never skipping.
- The leader commits in zxid order, each after a quorum of durable ACKs.
- Votes use the *log* (last logged zxid), never the applied tree (ZOOKEEPER-2845).

Where the code lives (one mixin per role, in ZooKeeper's terms; ZabServer below holds
the state they share and is the only class the system spec builds):
- quorum_peer.py   QuorumPeer: the Node inputs, election (FastLeaderElection), the tick
- leader.py        Leader: epoch, establishment, propose/commit, sync rounds, expiry
- learner_handler.py  LearnerHandler: the leader's handling of one follower connection
- follower.py      Follower (and Learner): discovery, sync, broadcast as a follower
- zookeeper_server.py  ZooKeeperServer: client connections, sessions, reads, writes, watches
- zk_database.py   ZKDatabase: the log, epoch files, snapshots, recovery, applying txns
- phases.py        the ZAB phases and the tick timer

The durable files and recovery are described in zk_database.py; a follower's inbox (its
queue of work blocked behind fsyncs) in follower.py.

Trace (what checkers/quorum.py reads; zxids are ints): recovered (``durable_log``: the
log it read back, as [first, last] zxid runs: durable, since a restart reads only
completed writes), looking, vote_decided,
epoch_accepted (when durable), current_epoch (when durable), sync_mode (leader, per
follower), newleader_received, truncate (TRUNC only), snapshot_received, snap_log_cut,
snapshot_persisted, log_compacted, leader_established (with the NEWLEADER ackers),
following (a follower got UPTODATE and serves), propose, logged (a record is durable),
ack_sent, acks_quorum, commit (``initial=True`` for the history a new leader commits by
being established), deliver (applied to the tree, at every server; for create, delete
and setData also ``path`` and its ``data`` once applied, None if absent, which
checkers/session.py reads; for session txns ``session``), sync_error, missing_proposal,
proposal_gap (only with zab-propose-only-synced),
abandon. After ``recovered`` (applied_zxid = the snapshot's) or ``snapshot_received`` a
server's delivered history restarts from that zxid. Sessions: session_created (the server
the client asked, when it applies createSession and answers the client), session_expired (the
leader's tracker, as it proposes closeSession, which a leader change may lose: ``session``,
``last_ping`` and ``now`` on its monotonic clock, ``idle``, ``timeout``), ephemeral_deleted
(every server, on applying closeSession: ``session``, ``path``, ``zxid``).

Planted bugs (docs/zab.md §9) are meant as one-line switches at the marked ``# bug:`` spots.
"""

from __future__ import annotations

from collections import deque

from harness.system import NodeContext
from systems.zab.datatree import DataTree, Txn
from systems.zab.election import FastLeaderElection, Vote
from systems.zab.follower import Follower
from systems.zab.leader import Leader, _PendingSync
from systems.zab.learner_handler import FORWARDING, LearnerHandler, LearnerHandlers
from systems.zab.messages import LOOKING
from systems.zab.phases import BROADCAST, DISCOVERY, ELECTION, SYNCHRONIZATION, TICK_TIMER
from systems.zab.quorum_peer import QuorumPeer
from systems.zab.sessions import SessionTracker
from systems.zab.settings import merged
from systems.zab.watches import WatchManager
from systems.zab.zk_database import ACCEPTED_EPOCH, CURRENT_EPOCH, FILES, LOG, SNAPSHOT, ZKDatabase, _LogWrite
from systems.zab.zookeeper_server import ClientConn, ZooKeeperServer

__all__ = [
    "ACCEPTED_EPOCH",
    "BROADCAST",
    "CURRENT_EPOCH",
    "DISCOVERY",
    "ELECTION",
    "FILES",
    "FORWARDING",
    "LOG",
    "SNAPSHOT",
    "SYNCHRONIZATION",
    "TICK_TIMER",
    "ClientConn",
    "LearnerHandler",
    "ZabServer",
]


class ZabServer(QuorumPeer, ZooKeeperServer, Leader, LearnerHandlers, Follower, ZKDatabase):
    """One ZooKeeper server. Build with a NodeContext; drive through the Node inputs."""

    def __init__(self, ctx: NodeContext) -> None:
        self.node_id = ctx.node_id
        self.servers = tuple(ctx.servers)
        self.quorum = len(self.servers) // 2 + 1
        self.rng = ctx.rng
        self.bugs = frozenset(ctx.bugs)
        s = merged(ctx.settings)
        self.settings = s
        self.tick_time: int = s["tick_time"]
        self.init_limit: int = s["init_limit"]
        self.sync_limit: int = s["sync_limit"]
        self.bits: int = s["counter_bits"]
        self.snap_count: int = s["snap_count"]
        self.fle = FastLeaderElection(
            self.node_id,
            self.servers,
            finalize_wait=s["finalize_wait"],
            max_notification_interval=s["max_notification_interval"],
            rng=self.rng,
            bugs=self.bugs,
        )
        # --- persistent state (in-memory mirrors of the files)
        self.accepted_epoch = 0  # highest ever written (we act only once durable)
        self.current_epoch = 0  # durable value
        self.log: list[tuple[int, Txn]] = []  # txns after the snapshot, in zxid order
        self.log_zxids: list[int] = []
        self._log_skip = 0  # head records of the log file ignored (not after snapshot)
        self.snap_zxid = 0
        # --- durability bookkeeping
        self._persist_seq = 0
        self._log_seq = 0  # log writes issued
        self._log_durable_seq = 0  # log writes completed
        self._log_writes: dict[int, _LogWrite] = {}
        self._snapshots_pending = 0
        self._txns_since_snapshot = 0
        # --- volatile state
        self.tree = DataTree()
        self.state = LOOKING
        self.zab_state = ELECTION
        self.current_vote: Vote | None = None
        self._gen = 0  # role generation: bumped whenever the server changes role
        self._reset_role()
        # client connections and requests in progress at this server
        self.client_conns: dict[tuple[str, int], ClientConn] = {}  # by (client, conn)
        self.pending_writes: dict[tuple[str, int], int] = {}  # (client, cxid) -> conn
        self.pending_connects: dict[int, tuple[str, int]] = {}  # new session -> (client, conn)
        self.watches = WatchManager()
        self.touched: set[int] = set()  # follower: sessions heard of since the last PingAck
        self.wall_offset = 0  # wall clock = now + wall_offset; correct code never reads it
        self.min_session_timeout: int = s["min_session_ticks"] * self.tick_time
        self.max_session_timeout: int = s["max_session_ticks"] * self.tick_time
        self.pending_client_syncs: dict[int, tuple[str, int, int]] = {}
        self.sync_waits: list[tuple[int, str, int, int]] = []  # (zxid, client, conn, cxid)
        self._sync_seq = 0

    def _reset_role(self) -> None:
        # follower side
        self.leader_id: str | None = None
        self.conn = 0
        self._inbox: deque = deque()
        self._blocked: tuple | None = None
        self.last_heard = 0
        self.newleader_acked = False
        self.newleader_zxid = 0
        self.sync_received = False  # the leader's DIFF, TRUNC or SNAP of this connection
        self.leader_epoch = 0
        # leader side
        self.learners: dict[str, LearnerHandler] = {}
        self.connecting: dict[str, int] = {}
        self.epoch = 0  # the epoch this leader establishes (0: not chosen yet)
        self.epoch_durable = False
        self.epoch_ackers: set[str] = set()
        self.current_epoch_issued = False  # the epoch-ack quorum is in (electionFinished)
        self.current_epoch_ready = False  # ... and currentEpoch is durable
        self.newleader_ackers: set[str] = set()
        self.leader_summary = (0, 0)
        self.established = False
        self.deadline = 0
        self.outstanding: dict[int, set[str]] = {}
        self.last_committed = 0
        self.next_counter = 1
        self.ping_round = 0
        self.pending_syncs: list[_PendingSync] = []
        self.last_cxid: dict[int, int] = {}  # per session: the last request proposed
        self.session_tracker = SessionTracker()  # live once established
