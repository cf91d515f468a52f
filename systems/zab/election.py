"""Fast Leader Election (phase 0), as ``FastLeaderElection.lookForLeader`` runs it.

A LOOKING server votes for itself with ``(peerEpoch = currentEpoch, zxid = last logged
zxid, sid)`` and sends the vote to every peer. Votes are ordered lexicographically on
``(peerEpoch, zxid, sid)`` (``total_order_predicate``, ZooKeeper's totalOrderPredicate); a
server adopts any better vote it hears and re-sends. Rounds (``logicalclock``, alias
electionEpoch) separate elections: a notification from a higher round makes the receiver
jump to that round and forget the votes it had; one from a lower round is ignored (and
answered with our vote, so the laggard catches up).

Termination: when the votes received in this round hold a quorum for our proposal, wait
``finalize_wait`` for a better vote; none came, so decide. Servers already FOLLOWING or
LEADING answer a LOOKING peer with the vote they decided; a LOOKING server joins that
leader when a quorum of such answers agree on it (same leader and peerEpoch) and the leader
itself says LEADING (``check_leader``). Without news the server re-sends its vote after a
silence of ``not_timeout``, which doubles up to ``max_notification_interval``.

The outcome is only a *prospective* leader; discovery and synchronization (server.py)
establish it. This module is sans-IO like the server: methods return effects, plus the
decided ``Vote`` when the election is over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.node import CancelTimer, Effect, Send, SetTimer, fast_init
from systems.zab.messages import FOLLOWING, LEADING, LOOKING, Notification

RESEND_TIMER = "fle_resend"
FINALIZE_TIMER = "fle_finalize"


def sid_rank(servers: tuple[str, ...] | list[str]) -> dict[str, int]:
    """ZooKeeper sids are numbers; ours are names like "n1".."n12". Order them naturally
    (by the number in the name, then the name), so "n10" > "n9" as sid 10 > sid 9."""

    def key(s: str) -> tuple:
        m = re.search(r"(\d+)$", s)
        return (int(m.group(1)) if m else -1, s)

    return {s: i for i, s in enumerate(sorted(servers, key=key))}


@fast_init
@dataclass(frozen=True, slots=True)
class Vote:
    """A vote as FLE keeps it. ``state`` is the voter's state when it sent the vote."""

    leader: str
    zxid: int
    peer_epoch: int
    election_epoch: int = 0
    state: str = LOOKING


def total_order_predicate(
    new: Vote | Notification, cur: Vote, rank: dict[str, int], bugs: frozenset = frozenset()
) -> bool:
    """True when ``new`` beats ``cur``: higher peerEpoch, then higher zxid, then higher sid.

    This is the total order fixed by ZOOKEEPER-1419 (a planted bug may break it).
    """
    if "zab-vote-by-id-only" in bugs:
        # bug: zab-vote-by-id-only: the server id alone decides, epoch and zxid ignored
        return rank[new.leader] > rank[cur.leader]
    if "zab-vote-order-not-total" in bugs:
        # bug: zab-vote-order-not-total (ZOOKEEPER-1419, before 3.4.4): the last clause
        # compares zxid and sid but not the epoch, so a lower-epoch vote with the same
        # zxid and a higher sid beats a higher-epoch one, which beats it back
        return (
            new.peer_epoch > cur.peer_epoch
            or (new.peer_epoch == cur.peer_epoch and new.zxid > cur.zxid)
            or (new.zxid == cur.zxid and rank[new.leader] > rank[cur.leader])
        )
    return (new.peer_epoch, new.zxid, rank[new.leader]) > (cur.peer_epoch, cur.zxid, rank[cur.leader])


class FastLeaderElection:
    """One server's election state across rounds. ``look_for_leader`` starts a round."""

    def __init__(
        self,
        me: str,
        servers: tuple[str, ...],
        *,
        finalize_wait: int,
        max_notification_interval: int,
        rng: Any,
        jitter: float = 0.1,
        bugs: frozenset = frozenset(),
    ) -> None:
        self.me = me
        self.bugs = frozenset(bugs)
        self.servers = tuple(servers)
        self.rank = sid_rank(servers)
        self.quorum = len(self.servers) // 2 + 1
        self.finalize_wait = finalize_wait
        self.max_notification_interval = max_notification_interval
        self.rng = rng
        self.jitter = jitter
        #: the election round; survives rounds, not crashes (ZooKeeper: AtomicLong)
        self.logicalclock = 0
        self.active = False
        self.proposal = Vote(me, 0, 0)
        self.my_vote = Vote(me, 0, 0)  # our own initial vote of this round
        self.recvset: dict[str, Vote] = {}
        self.outofelection: dict[str, Vote] = {}
        self.not_timeout = finalize_wait
        self.finalizing = False

    # ------------------------------------------------------------------ driving
    def look_for_leader(self, last_zxid: int, current_epoch: int, now: int) -> list[Effect]:
        """Start a new round voting for ourselves."""
        self.active = True
        self.logicalclock += 1
        self.my_vote = Vote(self.me, last_zxid, current_epoch)
        self.proposal = self.my_vote
        self.recvset = {}
        self.outofelection = {}
        self.not_timeout = self.finalize_wait
        self.finalizing = False
        effects = self._send_notifications() + [self._resend_timer(now), CancelTimer(FINALIZE_TIMER)]
        if self._term_predicate(self.recvset, self._proposal_vote()):  # a one-server ensemble
            self.finalizing = True
            effects.append(SetTimer(FINALIZE_TIMER, now + self.finalize_wait))
        return effects

    def stop(self) -> list[Effect]:
        self.active = False
        self.finalizing = False
        return [CancelTimer(RESEND_TIMER), CancelTimer(FINALIZE_TIMER)]

    def on_timer(self, name: str, now: int) -> tuple[list[Effect], Vote | None]:
        if not self.active:
            return [], None
        if name == FINALIZE_TIMER and self.finalizing:
            # finalizeWait passed with no better vote: the proposal is the outcome
            p = self.proposal
            return self.stop(), Vote(p.leader, p.zxid, p.peer_epoch, self.logicalclock)
        if name == RESEND_TIMER:
            # silence for not_timeout: re-send, and back off (doubling, capped)
            effects = self._send_notifications()
            self.not_timeout = min(self.not_timeout * 2, self.max_notification_interval)
            return effects + [self._resend_timer(now)], None
        return [], None

    def on_notification(self, src: str, n: Notification, now: int) -> tuple[list[Effect], Vote | None]:
        """A notification arrived while we are LOOKING."""
        if not self.active or src not in self.rank or n.leader not in self.rank:
            return [], None
        effects: list[Effect] = [self._resend_timer(now)]  # the poll restarts
        if self.finalizing:
            # ZooKeeper's inner finalize loop: only a better vote interrupts it; anything
            # else is consumed and dropped
            if not total_order_predicate(n, self.proposal, self.rank, self.bugs):
                return effects, None
            self.finalizing = False
            effects.append(CancelTimer(FINALIZE_TIMER))
        if n.state == LOOKING:
            return self._on_looking(src, n, now, effects)
        if n.state in (FOLLOWING, LEADING):
            return self._on_decided(src, n, effects)
        return effects, None

    # ---------------------------------------------------------------- internals
    def _on_looking(
        self, src: str, n: Notification, now: int, effects: list[Effect]
    ) -> tuple[list[Effect], Vote | None]:
        if n.election_epoch > self.logicalclock:
            self.logicalclock = n.election_epoch
            self.recvset = {}
            best = n if total_order_predicate(n, self.my_vote, self.rank, self.bugs) else self.my_vote
            self.proposal = Vote(best.leader, best.zxid, best.peer_epoch)
            effects += self._send_notifications()
        elif n.election_epoch < self.logicalclock:
            # a laggard: tell it where we are, otherwise ignore
            effects.append(Send(src, self._notification()))
            return effects, None
        elif total_order_predicate(n, self.proposal, self.rank, self.bugs):
            self.proposal = Vote(n.leader, n.zxid, n.peer_epoch)
            effects += self._send_notifications()
        self.recvset[src] = Vote(n.leader, n.zxid, n.peer_epoch, n.election_epoch, LOOKING)
        if self._term_predicate(self.recvset, self._proposal_vote()) and not self.finalizing:
            self.finalizing = True
            effects.append(SetTimer(FINALIZE_TIMER, now + self.finalize_wait))
        return effects, None

    def _on_decided(
        self, src: str, n: Notification, effects: list[Effect]
    ) -> tuple[list[Effect], Vote | None]:
        vote = Vote(n.leader, n.zxid, n.peer_epoch, n.election_epoch, n.state)
        if n.election_epoch == self.logicalclock:
            self.recvset[src] = vote
            if self._term_predicate(self.recvset, vote) and self._check_leader(
                self.recvset, n.leader, n.election_epoch
            ):
                return effects + self.stop(), vote
        # the leader was elected in another round: join it if a quorum follows it
        self.outofelection[src] = vote
        if self._out_of_election_quorum(vote) and self._check_leader(
            self.outofelection, n.leader, n.election_epoch
        ):
            self.logicalclock = n.election_epoch
            return effects + self.stop(), vote
        return effects, None

    def _proposal_vote(self) -> Vote:
        p = self.proposal
        return Vote(p.leader, p.zxid, p.peer_epoch, self.logicalclock, LOOKING)

    def _term_predicate(self, votes: dict[str, Vote], vote: Vote) -> bool:
        """A quorum of ``votes`` agrees with ``vote`` (same leader, zxid, round, epoch)."""
        key = (vote.leader, vote.zxid, vote.election_epoch, vote.peer_epoch)
        agree = sum(
            1 for v in votes.values() if (v.leader, v.zxid, v.election_epoch, v.peer_epoch) == key
        )
        return agree >= self.quorum

    def _out_of_election_quorum(self, vote: Vote) -> bool:
        """Decided servers agree when they name the same leader and peerEpoch."""
        agree = sum(
            1
            for v in self.outofelection.values()
            if (v.leader, v.peer_epoch) == (vote.leader, vote.peer_epoch)
        )
        return agree >= self.quorum

    def _check_leader(self, votes: dict[str, Vote], leader: str, election_epoch: int) -> bool:
        """Do not follow a leader that has not told us itself that it is LEADING; do not
        lead on the word of others from another round."""
        if leader != self.me:
            v = votes.get(leader)
            return v is not None and v.state == LEADING
        return self.logicalclock == election_epoch

    def _notification(self) -> Notification:
        p = self.proposal
        return Notification(p.leader, p.zxid, self.logicalclock, p.peer_epoch, LOOKING)

    def _send_notifications(self) -> list[Effect]:
        # our own vote counts as received (ZooKeeper delivers the copy sent to itself)
        self.recvset[self.me] = self._proposal_vote()
        n = self._notification()
        return [Send(s, n) for s in self.servers if s != self.me]

    def _resend_timer(self, now: int) -> SetTimer:
        # a little seeded jitter so that servers that started together do not re-send in
        # lockstep forever (ZooKeeper has none; it changes liveness only, not safety)
        extra = int(self.not_timeout * self.jitter * self.rng.random()) if self.jitter else 0
        return SetTimer(RESEND_TIMER, now + self.not_timeout + extra)
