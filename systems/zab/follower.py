"""A follower's side of ZAB (ZooKeeper's Follower and Learner): connect to the prospective
leader, accept its epoch, sync (DIFF, TRUNC or SNAP, then the proposals, then NEWLEADER),
then log, ACK and apply the leader's broadcast.

A follower's work on its leader's messages is a queue (``_inbox``) processed in order; a
step that must wait for an fsync blocks it (``_blocked``) and resumes in
``on_persisted``. It ACKs a txn only once its log record is durable; it ACKs NEWLEADER
only once every txn of the sync and then currentEpoch are durable (ZOOKEEPER-4643/4646
order); its log holds epoch-e txns only after its currentEpoch=e is durable (messages
after NEWLEADER wait in the queue until the NEWLEADER ACK is out).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.node import Effect, Persist, Send, trace
from systems.zab import messages as m
from systems.zab.datatree import DataTree, Txn
from systems.zab.messages import FOLLOWING
from systems.zab.phases import BROADCAST, DISCOVERY, SYNCHRONIZATION
from systems.zab.zk_database import ACCEPTED_EPOCH, CURRENT_EPOCH, LOG, SNAPSHOT
from systems.zab.zxid import counter_of, epoch_of, make_zxid


@dataclass(frozen=True, slots=True)
class _Step:
    """A follower's own continuation, queued in its inbox behind an fsync."""

    kind: str
    arg: Any = None


class Follower:
    """The follower role of a ZabServer (a mixin: state set up in ZabServer.__init__)."""

    if TYPE_CHECKING:
        # One part of ZabServer (systems/zab/server.py), which assembles the server from
        # these parts: what the other parts define is typed there, so here it is Any,
        # but for the state this part assigns too.
        _persist_seq: int
        _snapshots_pending: int
        _blocked: tuple[Any, ...] | None
        accepted_epoch: int
        log: list[tuple[int, Txn]]
        log_zxids: list[int]
        leader_id: str | None

        def __getattr__(self, name: str) -> Any: ...

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
        t = type(msg)  # (messages are final classes: the type is the isinstance test)
        if t is m.Ping:  # (the most frequent message: last_logged_zxid and _to_leader inline)
            if msg.last_zxid > (self.log_zxids[-1] if self.log_zxids else self.snap_zxid):
                return self._sync_error(now, "proposals lost")
            assert self.leader_id is not None  # set while following
            effects: list[Effect] = [Send(self.leader_id, m.PingAck(self.conn, msg.round, self._take_touched()))]
            if self.newleader_acked and msg.committed_zxid > self.tree.last_processed_zxid:
                effects += self._apply_up_to(msg.committed_zxid, now)
            return effects
        if t is m.Proposal:
            return self._follower_proposal(msg, now)
        if t is m.Commit:
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
            self.sync_received = True
            return []
        if isinstance(msg, m.Trunc):
            self.sync_received = True
            return self._follower_trunc(msg, now)
        if isinstance(msg, m.Snap):
            self.sync_received = True
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

    def _to_leader(self, msg: Any) -> Send:
        assert self.leader_id is not None  # set while following
        return Send(self.leader_id, msg)

    def _send_ackepoch(self, current_epoch: int) -> list[Effect]:
        self.zab_state = SYNCHRONIZATION
        return [self._to_leader(m.AckEpoch(self.conn, current_epoch, self.last_logged_zxid))]

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
            return [self._to_leader(m.Ack(self.conn, z)), trace("ack_sent", zxid=z)]
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
        if not self.sync_received:
            # on TCP the leader's DIFF, TRUNC or SNAP comes first; here it was lost (the
            # link was cut), and a proposal of the new epoch would extend a log that lacks
            # the sync payload, with nothing else to show the gap
            return self._sync_error(now, "proposal before the leader's sync")
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
            acked: list[Effect] = [self._to_leader(m.Ack(self.conn, z)), trace("ack_sent", zxid=z)]
            return acked + self._log_append(z, msg.txn, None)
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
        if not self.sync_received:
            return self._sync_error(now, "NEWLEADER before the leader's sync")
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
        effects.append(trace("following", leader=self.leader_id, epoch=self.leader_epoch,
                             zxid=self.last_processed_zxid))
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

    def _follower_tick(self, now: int) -> list[Effect]:
        """Go LOOKING when the leader has been silent too long, or the sync is late."""
        limit = self.sync_limit if self.zab_state == BROADCAST else self.init_limit
        if now - self.last_heard > limit * self.tick_time:
            return self._go_looking(now, "leader silent")
        if self.zab_state != BROADCAST and now > self.deadline:
            return self._go_looking(now, "initLimit passed before UPTODATE")
        return []
