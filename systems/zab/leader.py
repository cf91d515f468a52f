"""A leader's side of ZAB (ZooKeeper's Leader): choose the new epoch from a quorum's
acceptedEpochs, wait for a quorum of ACKEPOCHs and of NEWLEADER ACKs (establishment
commits the whole initial history), then propose each write with the next zxid and commit
it once a quorum ACKed it durably, in zxid order; ping the followers, step down without a
synced quorum, answer sync after a quorum ping round (ZOOKEEPER-1675), and expire
sessions (sessions.py). A zxid counter about to roll over makes the leader refuse the write
and step down, forcing a new epoch (ZOOKEEPER-1277).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.node import Effect, Send, trace
from systems.zab import messages as m
from systems.zab.datatree import CLOSE_SESSION, Txn
from systems.zab.learner_handler import (
    EPOCH_ACKED,
    FORWARDING,
    INFO,
    LEADERINFO_SENT,
    NEWLEADER_ACKED,
    SYNCED,
    LearnerHandler,
)
from systems.zab.messages import LEADING
from systems.zab.phases import BROADCAST, DISCOVERY, SYNCHRONIZATION
from systems.zab.zk_database import ACCEPTED_EPOCH, CURRENT_EPOCH
from systems.zab.zxid import make_zxid, max_counter


@dataclass(slots=True)
class _PendingSync:
    """A sync waiting at the leader for a quorum ping round and for commits."""

    round: int
    zxid: int
    requester: str
    sync_id: int


class Leader:
    """The leader role of a ZabServer (a mixin: state set up in ZabServer.__init__)."""

    if TYPE_CHECKING:
        # One part of ZabServer (systems/zab/server.py), which assembles the server from
        # these parts: what the other parts define is typed there, so here it is Any,
        # but for the state this part assigns too.
        accepted_epoch: int
        epoch: int
        epoch_durable: bool
        current_epoch_issued: bool
        current_epoch_ready: bool
        established: bool
        pending_syncs: list[_PendingSync]
        ping_round: int

        def __getattr__(self, name: str) -> Any: ...

    def _start_leading(self, now: int) -> list[Effect]:
        self.state = LEADING
        self.zab_state = DISCOVERY
        self.connecting = {self.node_id: self.accepted_epoch}
        self.leader_summary = (self.current_epoch, self.last_logged_zxid)
        self.deadline = now + self.init_limit * self.tick_time
        return self._maybe_choose_epoch(now)

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
            if "zab-commit-without-quorum" in self.bugs:  # noqa: SIM108 - the bug marker needs its own branch
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
        r, committed, last = self.ping_round, self.last_committed, self.last_logged_zxid
        return [Send(h.sid, m.Ping(h.conn, r, committed, last))
                for h in self.learners.values() if h.stage in FORWARDING]

    def _try_finish_syncs(self) -> list[Effect]:
        if not self.pending_syncs:
            return []
        effects: list[Effect] = []
        rest: list[_PendingSync] = []
        # the rounds the synced followers answered (finishing a sync changes no learner)
        rounds = [h.ping_round for h in self.learners.values() if h.stage == SYNCED]
        for ps in self.pending_syncs:
            if self.last_committed >= ps.zxid and 1 + sum(1 for r in rounds if r >= ps.round) >= self.quorum:
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

    def _leader_tick(self, now: int) -> list[Effect]:
        """Step down without a synced quorum; else ping and expire sessions."""
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

    def _touch_relayed(self, sessions: tuple, now: int) -> None:
        clock = self._session_clock(now)
        for s in sessions:
            self.session_tracker.touch(s, clock, now)
