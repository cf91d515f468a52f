"""The ZAB system as the harness sees it: files, settings, and how to build its nodes.

``harness.system`` finds ``SYSTEM`` here.
"""

from __future__ import annotations

from types import MappingProxyType

from harness.node import Node
from harness.system import NodeContext, SystemSpec
from systems.zab.client import ZabClient
from systems.zab.messages import LEADING
from systems.zab.server import BROADCAST, FILES, ZabServer
from systems.zab.settings import DEFAULT_SETTINGS, MS, SETTINGS


class ZabSpec(SystemSpec):
    """``harness.system.SystemSpec`` for ZooKeeper's ZAB and a small ZooKeeper on top."""

    name = "zab"
    #: type and range of each setting (``harness.schema``)
    SETTINGS = SETTINGS
    #: the workloads this system serves (Kafka's queue needs Kafka)
    WORKLOADS = ("register", "election")
    #: (a, b): a may not exceed b (zoo.cfg's session bounds, in ticks)
    AT_MOST = (("min_session_ticks", "max_session_ticks"),)
    #: the txn log, the two epoch files, the snapshot (see server.py, "What is persisted")
    files = FILES
    #: trace kinds the nemesis may crash a server at (the effects after it are lost):
    #: each marks a step between two writes or between a write and a message
    crash_points = (
        "propose",  # the leader crashes before logging and sending a proposal
        "logged",  # a txn is durable, its ACK not yet sent
        "acks_quorum",  # a quorum ACKed, the commit not yet sent
        "commit",  # committed at the leader, COMMIT not sent, not applied
        "epoch_accepted",  # acceptedEpoch durable, LEADERINFO/ACKEPOCH not sent
        "current_epoch",  # currentEpoch durable, NEWLEADER's ACK (or the sync) not sent
        "newleader_received",  # a follower got NEWLEADER, nothing persisted for it yet
        "sync_mode",  # the leader chose how to sync a follower, sent nothing yet
        "truncate",  # a follower truncates its log: before the write
        "snapshot_received",  # a follower got a SNAP: before any write
        "snapshot_persisted",  # the snapshot is durable, the old log not yet cut
        "leader_established",  # a NEWLEADER quorum, UPTODATE not yet sent
        "following",  # a follower synced and serving (crash right after UPTODATE)
    )

    #: ZAB's safety invariants on the trace, replicas converged after healing, and
    #: ZooKeeper's session guarantees, beside the workload's own checkers
    checkers = ("quorum", "convergence", "session")
    #: settings an explorative campaign may vary (``harness.swarm``): each changes how soon
    #: a run reaches a corner, not what ZooKeeper promises. Short zxid counters make
    #: rollover (a forced new epoch) reachable in a run; short sessions make expiry and
    #: ephemeral cleanup frequent; a small snapCount makes SNAP syncs common.
    testing_aids = MappingProxyType({
        "short-counters": ({"counter_bits": 6}, {"counter_bits": 8}),
        "short-sessions": ({"session_timeout": 600 * MS, "client_timeout": 400 * MS, "connect_timeout": 200 * MS},),
        "frequent-snapshots": ({"snap_count": 20},),
    })

    def default_settings(self) -> dict:
        return dict(DEFAULT_SETTINGS)

    def known_settings(self) -> set[str]:
        """What ``--set`` may name: ZAB's settings and the election recipe's (a typo is an
        error, not a setting silently ignored)."""
        from systems.zab.recipes import ELECTION_DEFAULTS

        return set(DEFAULT_SETTINGS) | set(ELECTION_DEFAULTS)

    def reachable_behaviours(self) -> list[str]:
        # every crash point, and each way a leader brings a follower up to date
        return super().reachable_behaviours() + [f"event:n:sync_mode={m}" for m in ("DIFF", "TRUNC", "SNAP")]

    def make_server(self, ctx: NodeContext) -> Node:
        return ZabServer(ctx)

    def make_client(self, ctx: NodeContext) -> Node:
        if ctx.settings.get("workload") == "election":  # candidates embedding a ZabClient
            from systems.zab.recipes import make_election_candidate

            return make_election_candidate(ctx)
        return ZabClient(ctx)

    def is_leader(self, server: Node) -> bool:
        """Only an *established* leader (a quorum ACKed its NEWLEADER) in BROADCAST."""
        return (
            isinstance(server, ZabServer)
            and server.state == LEADING
            and server.established
            and server.zab_state == BROADCAST
        )


#: what harness.system looks for in systems/<name>/spec.py
SYSTEM = ZabSpec
