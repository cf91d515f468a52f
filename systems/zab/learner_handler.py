"""The leader's handling of one follower connection (ZooKeeper's LearnerHandler): its
FOLLOWERINFO, LEADERINFO and ACKEPOCH, the sync the leader sends it (DIFF, TRUNC or SNAP,
the proposals it lacks, NEWLEADER), its NEWLEADER ACK, and the messages it sends while
synced (ACK, PingAck, Request, SyncRequest). The stages below are how the leader sees it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.node import Effect, Send, trace
from systems.zab import messages as m
from systems.zab.sync import DIFF, SNAP, TRUNC, choose_sync
from systems.zab.zxid import counter_of, epoch_of, make_zxid

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


class LearnerHandlers:
    """The leader's per-follower message handling of a ZabServer (a mixin: state set up in ZabServer.__init__)."""

    if TYPE_CHECKING:
        # One part of ZabServer (systems/zab/server.py), which assembles the server from
        # these parts: what the other parts define is typed there, so here it is Any.
        def __getattr__(self, name: str) -> Any: ...

    def _leader_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        t = type(msg)  # (messages are final classes: the type is the isinstance test)
        if t is m.FollowerInfo:
            return self._lead_followerinfo(src, msg, now)
        h = self.learners.get(src)
        if h is None or getattr(msg, "conn", None) != h.conn:
            return []
        h.last_seen = now
        if t is m.Ack:
            return self._lead_ack(h, msg, now)
        if t is m.PingAck:
            h.ping_round = max(h.ping_round, msg.round)
            if msg.sessions:
                self._touch_relayed(msg.sessions, now)
            return self._try_finish_syncs() if self.pending_syncs else []
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
                trace("abandon", reason="follower more recent", peer=h.sid, peer_epoch=msg.current_epoch,
                      peer_zxid=msg.last_zxid)
            ] + self._go_looking(now, "follower more recent than leader")
        self.epoch_ackers.add(h.sid)
        return self._maybe_epoch_quorum(now)

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
