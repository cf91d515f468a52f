"""The server's main loop (ZooKeeper's QuorumPeer): the Node inputs, which it routes to the
role the server holds, and leader election (FastLeaderElection, election.py).

Every server runs the same loop: elect, then lead or follow until something goes wrong,
then elect again. ``state`` is LOOKING, FOLLOWING or LEADING; ``zab_state`` the phase
(phases.py). A LOOKING server votes ``(currentEpoch, last logged zxid, sid)`` and
converges with its peers on the greatest vote; the outcome is a *prospective* leader,
which then runs discovery and synchronization (leader.py, learner_handler.py,
follower.py). Votes use the *log* (last logged zxid), never the applied tree
(ZOOKEEPER-2845).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.node import Effect, Node, Send, SetTimer, trace
from systems.zab import messages as m
from systems.zab.election import FINALIZE_TIMER, RESEND_TIMER, Vote
from systems.zab.messages import FOLLOWING, LEADING, LOOKING
from systems.zab.phases import BROADCAST, ELECTION, TICK_TIMER
from systems.zab.zk_database import ACCEPTED_EPOCH, CURRENT_EPOCH, LOG, SNAPSHOT
from systems.zab.zxid import zxid_runs

_CLIENT_TO_SERVER = frozenset(m.CLIENT_TO_SERVER)


class QuorumPeer(Node):
    """Inputs, election and the liveness tick of a ZabServer (a mixin: state set up in ZabServer.__init__)."""

    if TYPE_CHECKING:
        # One part of ZabServer (systems/zab/server.py), which assembles the server from
        # these parts: what the other parts define is typed there, so here it is Any,
        # but for the state this part assigns too.
        _blocked: tuple[Any, ...] | None
        _gen: int
        _snapshots_pending: int
        current_epoch: int
        current_vote: Vote | None

        def __getattr__(self, name: str) -> Any: ...

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
                # the log records read back from disk: durable, as a restart reads only
                # what was fsynced (docs/zab.md §7: the quorum checker counts them logged)
                durable_log=zxid_runs(self.log_zxids),
            ),
            SetTimer(TICK_TIMER, now + self._tick_period()),
        ]
        return effects + self._go_looking(now, "start")

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        t = type(msg)  # (messages are final classes: the type is the isinstance test)
        if t is m.Notification:
            return self._on_notification(src, msg, now)
        if t in _CLIENT_TO_SERVER:
            return self._on_client_message(src, msg, now)
        if self.state == FOLLOWING:
            if src != self.leader_id or getattr(msg, "conn", None) != self.conn:
                return []  # another connection's message: that socket is closed
            self.last_heard = now
            if self._inbox or self._blocked is not None:
                self._inbox.append(msg)
                return self._pump(now)
            # nothing queued and nothing blocking: what _pump would do with msg, minus
            # the queue (and it pumps on only if msg queued steps of its own)
            gen = self._gen
            effects = self._follower_process(msg, now)
            if self._inbox and self._blocked is None and self.state == FOLLOWING and self._gen == gen:
                effects = effects + self._pump(now)
            return effects
        if self.state == LEADING:
            return self._leader_message(src, msg, now)
        return []

    def on_timer(self, name: str, now: int) -> list[Effect]:
        if name == TICK_TIMER:
            effects: list[Effect] = [SetTimer(TICK_TIMER, now + max(1, self.tick_time // 2))]  # _tick_period
            state = self.state
            if state == FOLLOWING:
                effects += self._follower_tick(now)
            elif state == LEADING:
                effects += self._leader_tick(now)
            return effects
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

    def _tick_period(self) -> int:
        return max(1, self.tick_time // 2)
