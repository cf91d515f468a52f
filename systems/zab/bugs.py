"""The planted bugs of the ZAB system (docs/zab.md and docs/zookeeper.md, "Planted bugs").

Each is a switch (``--bug NAME``) read through ``ctx.bugs`` at a ``# bug: NAME`` spot in
server.py, election.py, client.py or sync.py: a small deviation from the correct code path,
which stays the default. ``caught_by`` names the checker (and, after a colon, the kinds of
violation) that must flag a run; ``exposed_by`` the kind of fault schedule that shows it.
``bench/bugs.py`` hunts each with a randomized campaign.
"""

from __future__ import annotations

from harness.system import BugInfo

BUGS: tuple[BugInfo, ...] = (
    BugInfo(
        "zab-commit-without-quorum", "zab",
        "the leader commits a proposal on its own ACK, without a quorum",
        "quorum: quorum-commit (and I9 when the leader is then cut off)",
        "isolate the leader mid-write, elect another",
    ),
    BugInfo(
        "zab-ack-before-fsync", "zab",
        "a follower ACKs a PROPOSAL before its log record is durable",
        "quorum: I9-acked-write-durability, quorum-commit (ACK counted before the record was durable)",
        "crash a quorum with loss of unsynced writes right after a commit",
    ),
    BugInfo(
        "zab-newleader-ack-before-durable", "zab",
        "ZOOKEEPER-3911/3023/4646: a follower ACKs NEWLEADER while the synced txns are only in memory",
        "quorum: I9-acked-write-durability, committed-log-durability",
        "crash the synced quorum right after UPTODATE, restart without the old leader",
    ),
    BugInfo(
        "zab-epoch-before-log", "zab",
        "ZOOKEEPER-4643: a follower persists currentEpoch before flushing the synced txns; after a "
        "crash it wins election with a shorter log and truncates committed txns",
        "quorum: committed-log-durability, I6-primary-integrity, I9-acked-write-durability",
        "crash a follower between the two writes, then crash or cut off the others",
    ),
    BugInfo(
        "zab-no-trunc", "zab",
        "ZOOKEEPER-1154: DIFF without TRUNC to a returning server that logged a txn never committed; "
        "the phantom txn survives",
        "quorum: I3-agreement; linearizable",
        "old leader logs a txn while followers are paused; crash all; restart in a different order",
    ),
    BugInfo(
        "zab-volatile-accepted-epoch", "zab",
        "ZOOKEEPER-335: acceptedEpoch is not persisted; a restarted follower acknowledges two new "
        "epochs with the same number",
        "quorum: I7-one-leader-per-epoch, then I3-agreement / I8-zxid-sanity",
        "two candidates with overlapping quorums; restart the shared follower between their epoch proposals",
    ),
    BugInfo(
        "zab-vote-by-id-only", "zab",
        "election orders votes by server id alone, ignoring epoch and zxid, so a stale server "
        "can lead and roll back committed txns",
        "quorum: committed-log-durability / I6-primary-integrity (leader-log completeness), I9; "
        "or liveness (the leader's 'follower more recent' check makes a stale top-id server "
        "abandon, be elected again, forever)",
        "kill the up-to-date server, restart a lagging high-id one",
    ),
    BugInfo(
        "zab-vote-order-not-total", "zab",
        "ZOOKEEPER-1419: the vote comparison is not a total order; election never settles",
        "liveness: a message storm (when the votes cycle, each notification is answered by "
        "re-broadcasts to every peer, so the election's messages multiply without bound and it "
        "never settles; the simulator's storm budget stops the run and liveness reports it)",
        "five servers with mixed epochs and zxids after staggered restarts",
    ),
    BugInfo(
        "zab-propose-only-synced", "zab",
        "protocol spec (TLC): new proposals go only to fully synced followers; a follower between "
        "NEWLEADER and its ACK later gets a COMMIT for a zxid it never saw",
        "quorum: I3-agreement, I4-local-primary-order (the follower delivers a later txn without "
        "the one it never got). With the bug the follower trusts its link as ZooKeeper trusts TCP: "
        "a gap in proposals is only noted (proposal_gap) and a COMMIT of a txn it never got is "
        "ignored when nothing is pending (missing_proposal, ignored) or, as ZooKeeper's exit, "
        "makes it resync, keeping the hole in its log",
        "a follower joins while the leader is broadcasting (at start-up, after a restart)",
    ),
    BugInfo(
        "zab-zxid-overflow", "zab",
        "ZOOKEEPER-1277: the zxid counter wraps into the epoch bits (counter_bits=6 in tests)",
        "quorum: I8-zxid-sanity, I5-global-primary-order",
        "a long leader tenure with a small counter width (--set counter_bits=6)",
    ),
    BugInfo(
        "zk-sync-not-quorum", "zab",
        "ZOOKEEPER-1675: a deposed leader that does not know it yet answers sync, so sync+read is stale",
        "linearizable",
        "cut the old leader (and a follower) off; write on the majority; sync+read on the minority "
        "before the old leader steps down: a slow leader clock (nemesis 'slow') opens the window",
    ),
    BugInfo(
        "zk-wallclock-session-expiry", "zab",
        "ZOOKEEPER-1366: sessions expire by the leader's wall clock, so a forward jump expires every session",
        "mutex (election workload); the session checker's 'no expiry while pings arrive within the "
        "timeout' would see it on the trace (session_expired with idle <= timeout)",
        "jump the leader's wall clock forward by more than the session timeout",
    ),
    BugInfo(
        "zk-reconnect-ignores-lastzxid", "zab",
        "a server accepts a reconnecting session whose last seen zxid is ahead of its own, so reads "
        "go back in time",
        "session: monotonic-reads (--reads local)",
        "cut a lagging follower off; fail a client over to it",
    ),
    BugInfo(
        "zk-ephemeral-lingers", "zab",
        "ZOOKEEPER-2355: a follower skips a closeSession that reaches it in its sync; the expired "
        "session and its ephemeral znodes live on there",
        "convergence (all data trees equal after healing); mutex (election workload)",
        "cut a follower off while a session expires; heal (its DIFF carries the closeSession)",
    ),
)

NAMES = frozenset(b.name for b in BUGS)
