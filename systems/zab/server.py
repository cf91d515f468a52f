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

Sessions and watches (PROTOCOLS.md section 2). A client's first CONNECT becomes a
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

What is persisted, and when (file: records):
- ``log``: one record ``(zxid, txn)`` per txn, appended when the txn is received (mode
  append); TRUNC and SNAP cut it (mode truncate). Records at the head that are not after
  the snapshot are ignored at recovery (left by a crash in the middle of a SNAP).
- ``acceptedEpoch``, ``currentEpoch``: one int each (mode replace).
- ``snapshot``: ``DataTree.to_record()`` of committed txns (mode replace), written when
  a SNAP is received, and every ``snap_count`` applied txns while serving; once a periodic
  snapshot is durable the log is rewritten without the txns it covers (mode replace), so
  a server far behind gets a SNAP. SNAP order: cut the log's txns after the snapshot
  point, then the snapshot, then the rest of the log; each step waits for the previous
  one's fsync, since a crash may lose, file by file, whatever is not durable.
Recovery (``on_start``): tree = snapshot; log = records after the snapshot; epochs from
their files; the logged txns are applied only once a leader says they are committed.

A follower's work on its leader's messages is a queue (``_inbox``) processed in order;
a step that must wait for an fsync blocks it (``_blocked``) and resumes in
``on_persisted``. Role-specific persist completions carry the role generation, so a
completion that arrives after the server changed role only records durability.

Trace (what checkers/quorum.py reads; zxids are ints): recovered, looking, vote_decided,
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
``last_ping`` and ``now`` on its monotonic clock, ``idle``, ``timeout``), ephemeral_deleted (every server, on applying closeSession: ``session``,
``path``, ``zxid``).

Planted bugs (BUGS.md) are meant as one-line switches at the marked ``# bug:`` spots.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from typing import Any

from harness.node import (
    Effect,
    Node,
    Persist,
    Send,
    SetTimer,
    trace,
)
from harness.system import NodeContext
from systems.zab import messages as m
from systems.zab.datatree import CLOSE_SESSION, CREATE, CREATE_SESSION, NO_NODE, SESSION_EXPIRED, ZNODE_TXNS, DataTree, Txn, TxnResult
from systems.zab.election import FINALIZE_TIMER, RESEND_TIMER, FastLeaderElection, Vote
from systems.zab.messages import FOLLOWING, LEADING, LOOKING
from systems.zab.sessions import SessionTracker
from systems.zab.settings import merged
from systems.zab.sync import DIFF, SNAP, TRUNC, choose_sync
from systems.zab.watches import WatchManager
from systems.zab.zxid import counter_of, epoch_of, make_zxid, max_counter

# zab_state values
ELECTION = "ELECTION"
DISCOVERY = "DISCOVERY"
SYNCHRONIZATION = "SYNCHRONIZATION"
BROADCAST = "BROADCAST"

# file names (SystemSpec.files)
LOG = "log"
ACCEPTED_EPOCH = "acceptedEpoch"
CURRENT_EPOCH = "currentEpoch"
SNAPSHOT = "snapshot"
FILES = (LOG, ACCEPTED_EPOCH, CURRENT_EPOCH, SNAPSHOT)

TICK_TIMER = "tick"

# learner handler stages, as the leader sees one follower
INFO = "info"  # FOLLOWERINFO received
LEADERINFO_SENT = "leaderinfo_sent"
EPOCH_ACKED = "epoch_acked"  # ACKEPOCH received, waiting for the sync to start
NEWLEADER_SENT = "newleader_sent"  # sync payload + NEWLEADER sent: forwarding
NEWLEADER_ACKED = "newleader_acked"  # waiting for the leader to be established
SYNCED = "synced"  # UPTODATE sent
FORWARDING = (NEWLEADER_SENT, NEWLEADER_ACKED, SYNCED)


@dataclass(slots=True)
class LearnerHandler:
    """The leader's view of one follower connection (ZooKeeper's LearnerHandler)."""

    sid: str
    conn: int
    accepted_epoch: int
    last_seen: int
    since: int = 0  # when it connected
    stage: str = INFO
    peer_last: int = 0
    sent_upto: int = 0  # the last txn its sync payload carried
    ping_round: int = 0  # latest ping round this follower answered


@dataclass(slots=True)
class ClientConn:
    """A client connection to this server: its session and the last request read."""

    session: int
    last_cxid: int = 0


@dataclass(frozen=True, slots=True)
class _Step:
    """A follower's own continuation, queued in its inbox behind an fsync."""

    kind: str
    arg: Any = None


@dataclass(slots=True)
class _PendingSync:
    """A sync waiting at the leader for a quorum ping round and for commits."""

    round: int
    zxid: int
    requester: str
    sync_id: int


@dataclass(slots=True)
class _LogWrite:
    zxid: int | None
    ack: str | None  # "follower" (send ACK when durable), "leader" (count own ACK)
    gen: int


class ZabServer(Node):
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

    # ================================================================ public views
    @property
    def last_logged_zxid(self) -> int:
        return self.log_zxids[-1] if self.log_zxids else self.snap_zxid

    @property
    def last_processed_zxid(self) -> int:
        return self.tree.last_processed_zxid

    @property
    def serving(self) -> bool:
        if self.state == LEADING:
            return self.established
        return self.state == FOLLOWING and self.zab_state == BROADCAST

    def state_digest(self) -> Any:
        return {"zxid": self.tree.last_processed_zxid, "tree": self.tree.digest()}

    # ===================================================================== inputs
    def on_start(self, stored: dict[str, tuple], now: int) -> list[Effect]:
        self._recover(stored)
        effects: list[Effect] = [
            trace(
                "recovered",
                accepted_epoch=self.accepted_epoch,
                current_epoch=self.current_epoch,
                snap_zxid=self.snap_zxid,
                last_zxid=self.last_logged_zxid,
                applied_zxid=self.last_processed_zxid,
            ),
            SetTimer(TICK_TIMER, now + self._tick_period()),
        ]
        return effects + self._go_looking(now, "start")

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        if isinstance(msg, m.Notification):
            return self._on_notification(src, msg, now)
        if isinstance(msg, m.CLIENT_TO_SERVER):
            return self._on_client_message(src, msg, now)
        if self.state == FOLLOWING:
            if src != self.leader_id or getattr(msg, "conn", None) != self.conn:
                return []  # another connection's message: that socket is closed
            self.last_heard = now
            self._inbox.append(msg)
            return self._pump(now)
        if self.state == LEADING:
            return self._leader_message(src, msg, now)
        return []

    def on_timer(self, name: str, now: int) -> list[Effect]:
        if name == TICK_TIMER:
            return [SetTimer(TICK_TIMER, now + self._tick_period())] + self._tick(now)
        if name in (RESEND_TIMER, FINALIZE_TIMER) and self.state == LOOKING:
            effects, vote = self.fle.on_timer(name, now)
            if vote is not None:
                effects += self._decided(vote, now)
            return effects
        return []

    def on_wallclock(self, wall_offset: int, now: int) -> list[Effect]:
        self.wall_offset = wall_offset
        return []

    def on_persisted(self, token: Any, now: int) -> list[Effect]:
        kind = token[0]
        effects: list[Effect] = []
        if kind == LOG:
            effects += self._log_durable(token[1], now)
        elif kind == ACCEPTED_EPOCH:
            _, _, epoch, gen = token
            effects.append(trace("epoch_accepted", epoch=epoch, persisted=True))
            if gen == self._gen and self.state == LEADING and epoch == self.epoch:
                effects += self._lead_epoch_durable(now)
        elif kind == CURRENT_EPOCH:
            _, _, epoch, gen = token
            self.current_epoch = max(self.current_epoch, epoch)
            effects.append(trace("current_epoch", epoch=epoch))
            if gen == self._gen and self.current_vote is not None:
                # QuorumPeer.updateElectionVote (ZOOKEEPER-1732): the vote we show LOOKING
                # peers carries the epoch we now hold, so that every member of the
                # ensemble shows the same (leader, peerEpoch) and a newcomer can join
                v = self.current_vote
                self.current_vote = Vote(v.leader, v.zxid, epoch, v.election_epoch)
            if gen == self._gen and self.state == LEADING:
                effects += self._lead_current_epoch_durable(now)
        elif kind == SNAPSHOT:
            self._snapshots_pending -= 1
            effects.append(trace("snapshot_persisted", zxid=token[2]))
            if token[3] == "periodic":
                effects += self._compact_log(token[2])
            effects += self._maybe_establish(now)
        if self._blocked is not None and self._unblocks(token):
            self._blocked = None
            effects += self._pump(now)
        return effects

    # ================================================================== recovery
    def _recover(self, stored: dict[str, tuple]) -> None:
        accepted = stored.get(ACCEPTED_EPOCH) or ()
        current = stored.get(CURRENT_EPOCH) or ()
        self.accepted_epoch = int(accepted[-1]) if accepted else 0
        self.current_epoch = int(current[-1]) if current else 0
        snap = stored.get(SNAPSHOT) or ()
        if snap:
            self.tree = DataTree.from_record(snap[-1])
            self.snap_zxid = self.tree.last_processed_zxid
        records = list(stored.get(LOG) or ())
        skip = 0
        while skip < len(records) and int(records[skip][0]) <= self.snap_zxid:
            skip += 1
        self._log_skip = skip
        for zxid, txn in records[skip:]:
            self._log_append_memory(int(zxid), Txn.from_record(txn))

    # ============================================================ election (FLE)
    def _go_looking(self, now: int, reason: str) -> list[Effect]:
        effects: list[Effect] = []
        effects += self._drop_clients("server is LOOKING")
        self._gen += 1
        self._reset_role()
        self.state = LOOKING
        self.zab_state = ELECTION
        self.current_vote = None
        effects.append(trace("looking", reason=reason, epoch=self.current_epoch, zxid=self.last_logged_zxid))
        effects += self.fle.look_for_leader(self.last_logged_zxid, self.current_epoch, now)
        return effects

    def _on_notification(self, src: str, n: m.Notification, now: int) -> list[Effect]:
        if self.state == LOOKING:
            effects, vote = self.fle.on_notification(src, n, now)
            if vote is not None:
                effects += self._decided(vote, now)
            return effects
        # decided servers tell a LOOKING peer whom they follow (WorkerReceiver)
        if n.state == LOOKING and self.current_vote is not None:
            v = self.current_vote
            return [Send(src, m.Notification(v.leader, v.zxid, v.election_epoch, v.peer_epoch, self.state))]
        return []

    def _decided(self, vote: Vote, now: int) -> list[Effect]:
        self.current_vote = Vote(vote.leader, vote.zxid, vote.peer_epoch, vote.election_epoch)
        effects: list[Effect] = [
            trace("vote_decided", leader=vote.leader, epoch=vote.peer_epoch, zxid=vote.zxid, round=vote.election_epoch)
        ]
        self._gen += 1
        self._reset_role()
        if vote.leader == self.node_id:
            return effects + self._start_leading(now)
        return effects + self._start_following(vote.leader, now)

    # ======================================================= the log and the tree
    def _log_append_memory(self, zxid: int, txn: Txn) -> None:
        self.log.append((zxid, txn))
        self.log_zxids.append(zxid)

    def _log_append(self, zxid: int, txn: Txn, ack: str | None) -> list[Effect]:
        """Append to the log (memory now, disk after fsync)."""
        self._log_append_memory(zxid, txn)
        self._log_seq += 1
        self._log_writes[self._log_seq] = _LogWrite(zxid, ack, self._gen)
        return [Persist(LOG, ((zxid, txn.to_record()),), (LOG, self._log_seq))]

    def _log_truncate(self, keep_file_records: int) -> list[Effect]:
        self._log_seq += 1
        self._log_writes[self._log_seq] = _LogWrite(None, None, self._gen)
        return [Persist(LOG, (), (LOG, self._log_seq), mode="truncate", keep=keep_file_records)]

    def _log_durable(self, seq: int, now: int) -> list[Effect]:
        self._log_durable_seq = seq
        w = self._log_writes.pop(seq, None)
        effects: list[Effect] = []
        if w is None or w.zxid is None:
            return effects + self._maybe_establish(now)
        effects.append(trace("logged", zxid=w.zxid))
        if w.gen != self._gen:
            return effects
        if w.ack == "follower" and self.state == FOLLOWING:
            effects += [Send(self.leader_id, m.Ack(self.conn, w.zxid)), trace("ack_sent", zxid=w.zxid)]
        elif w.ack == "leader" and self.state == LEADING and w.zxid in self.outstanding:
            self.outstanding[w.zxid].add(self.node_id)
            effects += self._try_commit(now)
        return effects + self._maybe_establish(now)

    def _persist_epoch(self, file: str, epoch: int) -> tuple[list[Effect], tuple]:
        self._persist_seq += 1
        token = (file, self._persist_seq, epoch, self._gen)
        return [Persist(file, (epoch,), token, mode="replace")], token

    def _apply_up_to(self, zxid: int, now: int) -> list[Effect]:
        """Apply logged txns up to ``zxid`` in order; answer our clients' writes."""
        effects: list[Effect] = []
        i = bisect.bisect_right(self.log_zxids, self.tree.last_processed_zxid)
        while i < len(self.log) and self.log_zxids[i] <= zxid:
            z, txn = self.log[i]
            if (
                "zk-ephemeral-lingers" in self.bugs
                and txn.type == CLOSE_SESSION
                and self.state == FOLLOWING
                and self.zab_state != BROADCAST
            ):
                # bug: zk-ephemeral-lingers (ZOOKEEPER-2355): a closeSession a follower
                # applies at the end of its sync is skipped, yet counted applied (and
                # delivered): the session and its ephemerals linger here
                self.tree.last_processed_zxid = z
                result = TxnResult(True)
            else:
                result = self.tree.apply(z, txn)
            effects.append(trace("deliver", zxid=z, digest=txn.digest(), **self._delivered(txn, result)))
            effects += self._applied(z, txn, result, now)
            i += 1
            self._txns_since_snapshot += 1
        if self.sync_waits:
            effects += self._answer_sync_waits()
        if self.snap_count and self._txns_since_snapshot >= self.snap_count and self.serving:
            effects += self._take_snapshot()
        return effects

    def _take_snapshot(self) -> list[Effect]:
        """Snapshot the committed tree (ZooKeeper's SyncRequestProcessor after snapCount
        txns); once it is durable, the log before it goes (``_compact_log``)."""
        self._txns_since_snapshot = 0
        self._persist_seq += 1
        self._snapshots_pending += 1
        record = self.tree.to_record()
        return [Persist(SNAPSHOT, (record,), (SNAPSHOT, self._persist_seq, record[0], "periodic"), mode="replace")]

    def _compact_log(self, zxid: int) -> list[Effect]:
        """Drop the logged txns a durable snapshot at ``zxid`` covers: rewrite the log
        with the rest. Skipped when another snapshot write follows (it will replace this
        one) or our log no longer holds ``zxid`` (a sync rewrote it)."""
        if self._snapshots_pending or zxid <= self.snap_zxid:
            return []
        i = bisect.bisect_right(self.log_zxids, zxid)
        if i == 0 or self.log_zxids[i - 1] != zxid:
            return []
        self.snap_zxid = zxid
        del self.log[:i]
        del self.log_zxids[:i]
        self._log_skip = 0
        self._log_seq += 1
        self._log_writes[self._log_seq] = _LogWrite(None, None, self._gen)
        records = tuple((z, t.to_record()) for z, t in self.log)
        return [trace("log_compacted", snap_zxid=zxid, kept=len(records)), Persist(LOG, records, (LOG, self._log_seq), mode="replace")]

    # ================================================================== follower
    def _start_following(self, leader: str, now: int) -> list[Effect]:
        self.state = FOLLOWING
        self.zab_state = DISCOVERY
        self.leader_id = leader
        self.conn = self.rng.getrandbits(48)
        self.last_heard = now
        self.deadline = now + self.init_limit * self.tick_time  # to get UPTODATE
        # FOLLOWERINFO carries the epoch we promised, the highest we ever wrote
        return [Send(leader, m.FollowerInfo(self.conn, make_zxid(self.accepted_epoch, 0, self.bits)))]

    def _unblocks(self, token: Any) -> bool:
        b = self._blocked
        if b is None:
            return False
        if b[0] == LOG:
            return self._log_durable_seq >= b[1]
        return token == b

    def _pump(self, now: int) -> list[Effect]:
        effects: list[Effect] = []
        gen = self._gen
        while self._inbox and self._blocked is None and self.state == FOLLOWING and self._gen == gen:
            effects += self._follower_process(self._inbox.popleft(), now)
        return effects

    def _sync_error(self, now: int, reason: str) -> list[Effect]:
        return [trace("sync_error", reason=reason, leader=self.leader_id)] + self._go_looking(now, reason)

    def _follower_process(self, msg: Any, now: int) -> list[Effect]:
        if isinstance(msg, m.Ping):
            if msg.last_zxid > self.last_logged_zxid:
                return self._sync_error(now, "proposals lost")
            effects: list[Effect] = [Send(self.leader_id, m.PingAck(self.conn, msg.round, self._take_touched()))]
            if self.newleader_acked and msg.committed_zxid > self.tree.last_processed_zxid:
                effects += self._apply_up_to(msg.committed_zxid, now)
            return effects
        if isinstance(msg, m.Proposal):
            return self._follower_proposal(msg, now)
        if isinstance(msg, m.Commit):
            if msg.zxid <= self.tree.last_processed_zxid:
                return []
            i = bisect.bisect_left(self.log_zxids, msg.zxid)
            if i == len(self.log_zxids) or self.log_zxids[i] != msg.zxid:
                if "zab-propose-only-synced" in self.bugs and not self._pending_txns():
                    # bug: zab-propose-only-synced: the leader never sent us this proposal;
                    # as FollowerZooKeeperServer.commit, with no pending txn the COMMIT is
                    # only logged ("without seeing txn") and ignored: the hole stays
                    return [trace("missing_proposal", zxid=msg.zxid, ignored=True)]
                return [trace("missing_proposal", zxid=msg.zxid)] + self._sync_error(now, "commit of unknown zxid")
            return self._apply_up_to(msg.zxid, now)
        if isinstance(msg, m.LeaderInfo):
            return self._follower_leaderinfo(msg, now)
        if isinstance(msg, _Step):
            return self._follower_step(msg, now)
        if isinstance(msg, m.Diff):
            if msg.zxid != self.last_logged_zxid:
                return self._sync_error(now, "DIFF from a zxid we do not have last")
            return []
        if isinstance(msg, m.Trunc):
            return self._follower_trunc(msg, now)
        if isinstance(msg, m.Snap):
            return self._follower_snap(msg, now)
        if isinstance(msg, m.NewLeader):
            return self._follower_newleader(msg, now)
        if isinstance(msg, m.UpToDate):
            return self._follower_uptodate(msg, now)
        if isinstance(msg, m.SyncDone):
            return self._follower_sync_done(msg, now)
        if isinstance(msg, m.RequestRejected):
            return self._reject_local(msg.txn, msg.reason)
        return []

    def _follower_leaderinfo(self, msg: m.LeaderInfo, now: int) -> list[Effect]:
        e = msg.epoch
        if self.zab_state != DISCOVERY:
            return []
        if e > self.accepted_epoch:
            self.accepted_epoch = e  # promised now, acted on only once durable
            if "zab-volatile-accepted-epoch" in self.bugs:
                # bug: zab-volatile-accepted-epoch (ZOOKEEPER-335): the promise is kept in
                # memory only, so a restart forgets it
                return [trace("epoch_accepted", epoch=e, persisted=False)] + self._send_ackepoch(self.current_epoch)
            effects, token = self._persist_epoch(ACCEPTED_EPOCH, e)
            self._blocked = token
            self._inbox.appendleft(_Step("ackepoch", self.current_epoch))
            return effects
        if e == self.accepted_epoch:
            # already accepted this epoch (from this or another leader): not an ack
            return self._send_ackepoch(-1)
        return self._sync_error(now, "LEADERINFO epoch older than acceptedEpoch")

    def _send_ackepoch(self, current_epoch: int) -> list[Effect]:
        self.zab_state = SYNCHRONIZATION
        return [Send(self.leader_id, m.AckEpoch(self.conn, current_epoch, self.last_logged_zxid))]

    def _follower_step(self, step: _Step, now: int) -> list[Effect]:
        if step.kind == "ackepoch":
            return self._send_ackepoch(self.current_epoch)
        if step.kind == "snap_store":
            # (b) the snapshot itself, once the log holds nothing after it
            self._persist_seq += 1
            token = (SNAPSHOT, self._persist_seq, step.arg[0], "sync")
            self._blocked = token
            self._snapshots_pending += 1
            self._inbox.appendleft(_Step("snap_cut_log"))
            return [Persist(SNAPSHOT, (step.arg,), token, mode="replace")]
        if step.kind == "snap_cut_log":
            # (c) the old log is now redundant: drop it (no need to wait)
            self._log_skip = 0
            return self._log_truncate(0)
        if step.kind == "newleader_epoch":
            # the synced txns are durable; now currentEpoch (ZOOKEEPER-4643 order)
            effects, token = self._persist_epoch(CURRENT_EPOCH, step.arg)
            self._blocked = token
            self._inbox.appendleft(_Step("newleader_ack", step.arg))
            return effects
        if step.kind == "newleader_ack":
            if "zab-epoch-before-log" in self.bugs and self._log_durable_seq < self._log_seq:
                # bug: zab-epoch-before-log: the log is flushed only now, after currentEpoch
                self._blocked = (LOG, self._log_seq)
                self._inbox.appendleft(step)
                return []
            self.newleader_acked = True
            z = make_zxid(step.arg, 0, self.bits)
            return [Send(self.leader_id, m.Ack(self.conn, z)), trace("ack_sent", zxid=z)]
        raise AssertionError(step)

    def _follower_trunc(self, msg: m.Trunc, now: int) -> list[Effect]:
        z = msg.zxid
        if z < self.tree.last_processed_zxid:
            return self._sync_error(now, "TRUNC below an applied (committed) txn")
        i = bisect.bisect_right(self.log_zxids, z)
        have = self.log_zxids[i - 1] if i > 0 else self.snap_zxid
        if have != z:
            return self._sync_error(now, "TRUNC to a zxid we do not have")
        removed = self.log_zxids[i:]
        del self.log[i:]
        del self.log_zxids[i:]
        effects = [trace("truncate", to_zxid=z, removed=list(removed))]
        return effects + self._log_truncate(self._log_skip + i)

    def _follower_snap(self, msg: m.Snap, now: int) -> list[Effect]:
        z = msg.zxid
        effects: list[Effect] = [trace("snapshot_received", zxid=z)]
        i = bisect.bisect_right(self.log_zxids, z)
        removed = self.log_zxids[i:]
        keep = self._log_skip + i
        # in memory: the snapshot is our state now; the log restarts after it
        self.tree = DataTree.from_record(msg.tree)
        self._txns_since_snapshot = 0
        self.snap_zxid = z
        self.log, self.log_zxids = [], []
        self._log_skip = keep
        self._inbox.appendleft(_Step("snap_store", msg.tree))
        if removed:
            # (a) first cut logged txns after the snapshot point: they must not survive
            # next to the new snapshot. Those in the leader's history come back as the
            # proposals after the SNAP; the others were never committed. Not a "truncate"
            # for the checker: snapshot_received already restarts our delivered history.
            effects.append(trace("snap_log_cut", to_zxid=z, removed=list(removed)))
            effects += self._log_truncate(keep)
            self._blocked = (LOG, self._log_seq)
        return effects

    def _follower_proposal(self, msg: m.Proposal, now: int) -> list[Effect]:
        # a leader's proposals are contiguous within an epoch (counter 1, 2, ...), and so is
        # every log; a gap means messages were lost on the way: resync
        last = self.last_logged_zxid
        if msg.zxid <= last and (msg.zxid <= self.snap_zxid or msg.zxid in self._logged_set()):
            return []  # a duplicate (the network may duplicate; TCP would not)
        if epoch_of(msg.zxid, self.bits) == epoch_of(last, self.bits):
            in_order = counter_of(msg.zxid, self.bits) == counter_of(last, self.bits) + 1
        else:
            in_order = msg.zxid > last and counter_of(msg.zxid, self.bits) == 1
        # bug: zab-propose-only-synced: a proposal the leader skipped us for leaves a gap;
        # as Follower.processPacket, the gap is only noted ("Got zxid ... expected ...")
        gap = not in_order and "zab-propose-only-synced" in self.bugs and msg.zxid > last
        if not in_order and not gap:
            return self._sync_error(now, "proposal out of order")
        if epoch_of(msg.zxid, self.bits) > self.accepted_epoch:
            return self._sync_error(now, "proposal from a future epoch")
        if gap:
            return [trace("proposal_gap", zxid=msg.zxid, last=last)] + self._log_append(
                msg.zxid, msg.txn, "follower" if self.newleader_acked else None)
        # after NEWLEADER was ACKed proposals are live: ACK each once durable. Before,
        # they are the sync payload, which NEWLEADER's ACK covers.
        ack = "follower" if self.newleader_acked else None
        if ack and "zab-ack-before-fsync" in self.bugs:
            # bug: zab-ack-before-fsync: ACK now, while the record is only being written
            z = msg.zxid
            return [Send(self.leader_id, m.Ack(self.conn, z)), trace("ack_sent", zxid=z)] + self._log_append(z, msg.txn, None)
        return self._log_append(msg.zxid, msg.txn, ack)

    def _pending_txns(self) -> list[int]:
        """Logged, not yet applied txns that came after NEWLEADER (ZooKeeper's pendingTxns:
        those a COMMIT must match; the sync payload before NEWLEADER is not among them)."""
        after = max(self.tree.last_processed_zxid, self.newleader_zxid)
        return self.log_zxids[bisect.bisect_right(self.log_zxids, after):]

    def _logged_set(self) -> set[int]:
        # only for the rare duplicate; the log is short between snapshots
        return set(self.log_zxids)

    def _follower_newleader(self, msg: m.NewLeader, now: int) -> list[Effect]:
        e = epoch_of(msg.zxid, self.bits)
        if e != self.accepted_epoch:
            return self._sync_error(now, "NEWLEADER epoch is not the accepted one")
        self.leader_epoch = e
        self.newleader_zxid = self.last_logged_zxid  # the end of the sync payload
        effects: list[Effect] = [trace("newleader_received", epoch=e, zxid=self.last_logged_zxid)]
        # 1-2. every txn of the sync durable first, 3. then currentEpoch, 4. then ACK
        self._inbox.appendleft(_Step("newleader_epoch", e))
        # bug: zab-newleader-ack-before-durable (ZOOKEEPER-3911/3023/4646): currentEpoch,
        # then ACK, while the synced txns may be only in memory; zab-epoch-before-log
        # (ZOOKEEPER-4643): currentEpoch is written before the log is flushed
        early_epoch = self.bugs & {"zab-newleader-ack-before-durable", "zab-epoch-before-log"}
        if self._log_durable_seq < self._log_seq and not early_epoch:
            self._blocked = (LOG, self._log_seq)
        return effects

    def _follower_uptodate(self, msg: m.UpToDate, now: int) -> list[Effect]:
        if not self.newleader_acked:
            return self._sync_error(now, "UPTODATE before NEWLEADER")
        # the leader is established: its initial history (all we logged in the sync)
        # is committed, and so is everything up to its latest commit
        effects = self._apply_up_to(max(msg.committed_zxid, self._sync_end()), now)
        self.zab_state = BROADCAST
        effects.append(trace("following", leader=self.leader_id, epoch=self.leader_epoch, zxid=self.last_processed_zxid))
        return effects

    def _sync_end(self) -> int:
        """The last txn of the leader's initial history we logged: every txn we hold of
        an epoch before the leader's."""
        i = bisect.bisect_left(self.log_zxids, make_zxid(self.leader_epoch, 0, self.bits))
        return self.log_zxids[i - 1] if i > 0 else 0

    def _follower_sync_done(self, msg: m.SyncDone, now: int) -> list[Effect]:
        # the leader answers only once ``zxid`` is committed: apply up to it (a COMMIT
        # may have been lost)
        effects = self._apply_up_to(msg.zxid, now) if self.newleader_acked else []
        entry = self.pending_client_syncs.pop(msg.sync_id, None)
        if entry is None:
            return effects
        client, conn, cxid = entry
        self.sync_waits.append((msg.zxid, client, conn, cxid))
        return effects + self._answer_sync_waits()

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

    # ==================================================================== leader
    def _start_leading(self, now: int) -> list[Effect]:
        self.state = LEADING
        self.zab_state = DISCOVERY
        self.connecting = {self.node_id: self.accepted_epoch}
        self.leader_summary = (self.current_epoch, self.last_logged_zxid)
        self.deadline = now + self.init_limit * self.tick_time
        return self._maybe_choose_epoch(now)

    def _leader_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        if isinstance(msg, m.FollowerInfo):
            return self._lead_followerinfo(src, msg, now)
        h = self.learners.get(src)
        if h is None or getattr(msg, "conn", None) != h.conn:
            return []
        h.last_seen = now
        if isinstance(msg, m.Ack):
            return self._lead_ack(h, msg, now)
        if isinstance(msg, m.PingAck):
            h.ping_round = max(h.ping_round, msg.round)
            self._touch_relayed(msg.sessions, now)
            return self._try_finish_syncs()
        if isinstance(msg, m.AckEpoch):
            return self._lead_ackepoch(h, msg, now)
        if isinstance(msg, m.Request):
            return self._lead_request(h, msg.txn, now)
        if isinstance(msg, m.SyncRequest):
            if not self.established:
                return []
            return self._add_sync(src, msg.sync_id)
        return []

    def _lead_followerinfo(self, src: str, msg: m.FollowerInfo, now: int) -> list[Effect]:
        if src not in self.servers or src == self.node_id:
            return []
        accepted = epoch_of(msg.zxid, self.bits)
        old = self.learners.get(src)
        if old is not None and old.conn == msg.conn:
            return []  # a duplicate
        h = LearnerHandler(src, msg.conn, accepted, now, now)
        self.learners[src] = h  # a new connection replaces the old one
        if not self.epoch:
            self.connecting[src] = accepted
            return self._maybe_choose_epoch(now)
        if self.epoch_durable:
            h.stage = LEADERINFO_SENT
            return [Send(src, m.LeaderInfo(h.conn, self.epoch))]
        return []

    def _maybe_choose_epoch(self, now: int) -> list[Effect]:
        if self.epoch or len(self.connecting) < self.quorum:
            return []
        # getEpochToPropose: one more than any acceptedEpoch of the quorum
        self.epoch = max(self.connecting.values()) + 1
        self.accepted_epoch = max(self.accepted_epoch, self.epoch)
        self.deadline = now + self.init_limit * self.tick_time
        effects, _ = self._persist_epoch(ACCEPTED_EPOCH, self.epoch)
        return effects

    def _lead_epoch_durable(self, now: int) -> list[Effect]:
        if self.epoch_durable or not self.epoch:
            return []
        self.epoch_durable = True
        self.epoch_ackers = {self.node_id}
        effects: list[Effect] = []
        for h in self.learners.values():
            if h.stage == INFO:
                h.stage = LEADERINFO_SENT
                effects.append(Send(h.sid, m.LeaderInfo(h.conn, self.epoch)))
        return effects + self._maybe_epoch_quorum(now)

    def _lead_ackepoch(self, h: LearnerHandler, msg: m.AckEpoch, now: int) -> list[Effect]:
        if h.stage != LEADERINFO_SENT:
            return []
        h.peer_last = msg.last_zxid
        h.stage = EPOCH_ACKED
        if self.current_epoch_ready:
            return self._sync_learner(h)
        if self.current_epoch_issued:
            return []  # the epoch is settled; synced once currentEpoch is durable
        if msg.current_epoch == -1:
            return []  # it had accepted this epoch already: not an ack (waitForEpochAck)
        if (msg.current_epoch, msg.last_zxid) > self.leader_summary:
            # the follower may hold committed txns we lack: we cannot lead
            return [
                trace("abandon", reason="follower more recent", peer=h.sid, peer_epoch=msg.current_epoch, peer_zxid=msg.last_zxid)
            ] + self._go_looking(now, "follower more recent than leader")
        self.epoch_ackers.add(h.sid)
        return self._maybe_epoch_quorum(now)

    def _maybe_epoch_quorum(self, now: int) -> list[Effect]:
        if self.current_epoch_issued or len(self.epoch_ackers) < self.quorum:
            return []
        self.current_epoch_issued = True
        self.deadline = now + self.init_limit * self.tick_time
        effects, _ = self._persist_epoch(CURRENT_EPOCH, self.epoch)
        return effects

    def _lead_current_epoch_durable(self, now: int) -> list[Effect]:
        if self.current_epoch_ready:
            return []
        self.current_epoch_ready = True
        self.zab_state = SYNCHRONIZATION
        effects: list[Effect] = []
        for h in list(self.learners.values()):
            if h.stage == EPOCH_ACKED:
                effects += self._sync_learner(h)
        return effects + self._maybe_establish(now)

    def _sync_learner(self, h: LearnerHandler) -> list[Effect]:
        """Send DIFF/TRUNC/SNAP, the proposals the follower lacks, then NEWLEADER."""
        plan = choose_sync(h.peer_last, self.log_zxids, self.snap_zxid, self.bits)
        effects: list[Effect] = [trace("sync_mode", peer=h.sid, mode=plan.mode, peer_zxid=h.peer_last, zxid=plan.zxid)]
        if plan.mode == DIFF:
            effects.append(Send(h.sid, m.Diff(h.conn, plan.zxid)))
            start = plan.start
        elif plan.mode == TRUNC and "zab-no-trunc" in self.bugs:
            # bug: zab-no-trunc (ZOOKEEPER-1154): a DIFF from the follower's last zxid, so
            # the txns it logged and we never had stay in its log
            effects.append(Send(h.sid, m.Diff(h.conn, h.peer_last)))
            start = plan.start
        elif plan.mode == TRUNC:
            effects.append(Send(h.sid, m.Trunc(h.conn, plan.zxid)))
            start = plan.start
        else:
            assert plan.mode == SNAP
            snap = self.tree.to_record()
            effects.append(Send(h.sid, m.Snap(h.conn, snap[0], snap)))
            start = bisect.bisect_right(self.log_zxids, snap[0])
        for zxid, txn in self.log[start:]:
            effects.append(Send(h.sid, m.Proposal(h.conn, zxid, txn)))
        effects.append(Send(h.sid, m.NewLeader(h.conn, make_zxid(self.epoch, 0, self.bits))))
        h.sent_upto = self.last_logged_zxid
        h.stage = NEWLEADER_SENT  # forwarding from here on
        return effects

    def _lead_ack(self, h: LearnerHandler, msg: m.Ack, now: int) -> list[Effect]:
        if counter_of(msg.zxid, self.bits) == 0:
            if h.stage != NEWLEADER_SENT or epoch_of(msg.zxid, self.bits) != self.epoch:
                return []
            h.stage = NEWLEADER_ACKED
            if self.established:
                # a late joiner: it logged (durably) the proposals its sync carried
                h.stage = SYNCED
                effects = self._ack_upto(h.sid, h.sent_upto, now)
                return effects + [Send(h.sid, m.UpToDate(h.conn, self.last_committed))]
            self.newleader_ackers.add(h.sid)
            return self._maybe_establish(now)
        return self._ack_upto(h.sid, msg.zxid, now)

    def _ack_upto(self, sid: str, zxid: int, now: int) -> list[Effect]:
        """A follower logs in zxid order and ACKs once durable, so an ACK of ``zxid``
        vouches for every outstanding proposal up to it (this survives a lost ACK)."""
        for z, acks in self.outstanding.items():
            if z > zxid:
                break
            acks.add(sid)
        return self._try_commit(now)

    def _maybe_establish(self, now: int) -> list[Effect]:
        if (
            self.state != LEADING
            or self.established
            or not self.current_epoch_ready
            or self._log_durable_seq < self._log_seq  # our own NEWLEADER "ACK"
            or self._snapshots_pending
            or len(self.newleader_ackers) + 1 < self.quorum
        ):
            return []
        self.established = True
        self.zab_state = BROADCAST
        last = self.last_logged_zxid
        effects: list[Effect] = [
            trace(
                "leader_established",
                epoch=self.epoch,
                zxid=last,
                acks=sorted(self.newleader_ackers | {self.node_id}),
            )
        ]
        # the whole initial history is committed now
        for zxid in self.log_zxids[bisect.bisect_right(self.log_zxids, self.tree.last_processed_zxid) :]:
            effects.append(trace("commit", zxid=zxid, initial=True))
        effects += self._apply_up_to(last, now)
        # sessions survive a leader change: track every live one afresh
        self.session_tracker.track_all(self.tree.sessions, self._session_clock(now), now)
        self.last_committed = last
        self.next_counter = 1
        for h in self.learners.values():
            if h.stage == NEWLEADER_ACKED:
                h.stage = SYNCED
                effects.append(Send(h.sid, m.UpToDate(h.conn, self.last_committed)))
        return effects

    def _lead_request(self, h: LearnerHandler | None, txn: Txn, now: int) -> list[Effect]:
        if not self.established:
            if h is None:
                return self._reject_local(txn, "not established")
            return [Send(h.sid, m.RequestRejected(h.conn, txn, "not established"))]
        # bug: zab-zxid-overflow (ZOOKEEPER-1277): no rollover check; _propose carries
        # the counter into the epoch bits
        if self.next_counter >= max_counter(self.bits) and "zab-zxid-overflow" not in self.bugs:
            # ZOOKEEPER-1277: the counter would roll over: refuse, force a new epoch
            effects = (
                self._reject_local(txn, "zxid rollover")
                if h is None
                else [Send(h.sid, m.RequestRejected(h.conn, txn, "zxid rollover"))]
            )
            return effects + self._go_looking(now, "zxid counter rollover")
        return self._propose(txn, now)

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

    def _propose(self, txn: Txn, now: int) -> list[Effect]:
        # a request duplicated by the network must not become a second txn
        if txn.client:  # (the session tracker's closeSession has no client)
            last = self.last_cxid.get(txn.session)
            if last is not None and txn.cxid <= last:
                return []
            self.last_cxid[txn.session] = txn.cxid
        if "zab-zxid-overflow" in self.bugs:
            zxid = (self.epoch << self.bits) + self.next_counter  # bug: zab-zxid-overflow
        else:
            zxid = make_zxid(self.epoch, self.next_counter, self.bits)
        self.next_counter += 1
        self.outstanding[zxid] = set()
        effects: list[Effect] = [trace("propose", epoch=self.epoch, zxid=zxid, digest=txn.digest())]
        effects += self._log_append(zxid, txn, "leader")
        # bug: zab-propose-only-synced (protocol spec, found by TLC): only to followers
        # that got UPTODATE, not to those between NEWLEADER and its ACK
        to = (SYNCED,) if "zab-propose-only-synced" in self.bugs else FORWARDING
        for h in self.learners.values():
            if h.stage in to:
                effects.append(Send(h.sid, m.Proposal(h.conn, zxid, txn)))
        return effects

    def _try_commit(self, now: int) -> list[Effect]:
        """Commit from the oldest outstanding proposal on, each once a quorum ACKed it."""
        effects: list[Effect] = []
        while self.outstanding:
            zxid, acks = next(iter(self.outstanding.items()))
            if "zab-commit-without-quorum" in self.bugs:
                # bug: zab-commit-without-quorum: the leader's own durable ACK is enough
                enough = self.node_id in acks
            else:
                enough = len(acks) >= self.quorum
            if not enough:
                break
            del self.outstanding[zxid]
            effects.append(trace("acks_quorum", zxid=zxid, acks=sorted(acks)))
            effects.append(trace("commit", zxid=zxid))
            self.last_committed = zxid
            for h in self.learners.values():
                if h.stage in FORWARDING:
                    effects.append(Send(h.sid, m.Commit(h.conn, zxid)))
            effects += self._apply_up_to(zxid, now)
        if effects:
            effects += self._try_finish_syncs()
        return effects

    # ---------------------------------------------------------------- sync
    def _add_sync(self, requester: str, sync_id: int) -> list[Effect]:
        # wait for a ping round started now, and for everything proposed so far
        if "zk-sync-not-quorum" in self.bugs:
            # bug: zk-sync-not-quorum (ZOOKEEPER-1675): no quorum round (round 0 needs no
            # ping): answered at once, up to what this leader believes committed. (Before
            # 1675 the leader also waited for its outstanding proposals; a deposed leader
            # with clients writing to it has some forever, which hides the stale answer.)
            self.pending_syncs.append(_PendingSync(0, self.last_committed, requester, sync_id))
            return self._try_finish_syncs()
        self.pending_syncs.append(_PendingSync(self.ping_round + 1, self.last_logged_zxid, requester, sync_id))
        return self._ping_round() + self._try_finish_syncs()

    def _ping_round(self) -> list[Effect]:
        self.ping_round += 1
        return [
            Send(h.sid, m.Ping(h.conn, self.ping_round, self.last_committed, self.last_logged_zxid))
            for h in self.learners.values()
            if h.stage in FORWARDING
        ]

    def _try_finish_syncs(self) -> list[Effect]:
        if not self.pending_syncs:
            return []
        effects: list[Effect] = []
        rest: list[_PendingSync] = []
        for ps in self.pending_syncs:
            confirmed = 1 + sum(1 for h in self.learners.values() if h.stage == SYNCED and h.ping_round >= ps.round)
            if confirmed >= self.quorum and self.last_committed >= ps.zxid:
                effects += self._finish_sync(ps)
            else:
                rest.append(ps)
        self.pending_syncs = rest
        return effects

    def _finish_sync(self, ps: _PendingSync) -> list[Effect]:
        if ps.requester == self.node_id:
            entry = self.pending_client_syncs.pop(ps.sync_id, None)
            if entry is None:
                return []
            client, conn, cxid = entry
            self.sync_waits.append((ps.zxid, client, conn, cxid))
            return self._answer_sync_waits()
        h = self.learners.get(ps.requester)
        if h is None or h.stage not in FORWARDING:
            return []
        return [Send(h.sid, m.SyncDone(h.conn, ps.sync_id, ps.zxid))]

    # ================================================================ liveness
    def _tick_period(self) -> int:
        return max(1, self.tick_time // 2)

    def _tick(self, now: int) -> list[Effect]:
        if self.state == FOLLOWING:
            limit = self.sync_limit if self.zab_state == BROADCAST else self.init_limit
            if now - self.last_heard > limit * self.tick_time:
                return self._go_looking(now, "leader silent")
            if self.zab_state != BROADCAST and now > self.deadline:
                return self._go_looking(now, "initLimit passed before UPTODATE")
            return []
        if self.state != LEADING:
            return []
        if not self.established:
            if now > self.deadline:
                return self._go_looking(now, "initLimit passed without a quorum")
            return []
        # forget followers silent for too long (their socket timed out)
        sync_window = self.sync_limit * self.tick_time
        for sid in sorted(self.learners):
            h = self.learners[sid]
            if h.stage in (NEWLEADER_ACKED, SYNCED):
                gone = now - h.last_seen > sync_window
            else:  # still connecting or syncing: initLimit for the whole of it
                gone = now - h.since > self.init_limit * self.tick_time
            if gone:
                del self.learners[sid]
        synced = 1 + sum(1 for h in self.learners.values() if h.stage in (NEWLEADER_ACKED, SYNCED))
        if synced < self.quorum:
            return self._go_looking(now, "not sufficient followers synced")
        return self._ping_round() + self._expire_sessions(now)

    # ================================================================ sessions
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
        touched, self.touched = tuple(sorted(self.touched)), set()
        return touched

    def _touch_relayed(self, sessions: tuple, now: int) -> None:
        clock = self._session_clock(now)
        for s in sessions:
            self.session_tracker.touch(s, clock, now)

    def _expire_sessions(self, now: int) -> list[Effect]:
        """The established leader closes every session not heard of within its timeout."""
        effects: list[Effect] = []
        for session, t in self.session_tracker.expire(self._session_clock(now)):
            effects.append(
                trace(
                    "session_expired",
                    session=session,
                    last_ping=t.touched_mono,
                    now=now,
                    idle=now - t.touched_mono,
                    timeout=t.timeout,
                )
            )
            effects += self._lead_request(None, Txn(CLOSE_SESSION, "/", None, -1, self.node_id, "", 0, session), now)
            if not self.serving:
                break  # (the counter rolled over: we stepped down)
        return effects

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
            Send(client, m.WatchEvent(conn, type_, path, z)) for (client, conn), type_, path in self.watches.trigger(result.triggers)
        ]
        if txn.type == CREATE_SESSION:
            timeout = int(txn.data or 0)
            if self.state == LEADING and self.established:
                self.session_tracker.track(txn.session, timeout, self._session_clock(now), now)
            key = self.pending_connects.pop(txn.session, None) if txn.origin == self.node_id else None
            if key is not None:
                self.client_conns[key] = ClientConn(txn.session)
                effects.append(trace("session_created", session=txn.session, client=txn.client, timeout=timeout, zxid=z))
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

    # ================================================================= clients
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
            return [Send(src, m.ConnectResponse(msg.conn, False, self.last_processed_zxid, SESSION_EXPIRED, msg.session))]
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
