"""The primary-backup register as the harness sees it (the ``harness.systems`` entry
point names ``PBRegisterSpec``, the ``harness.bugs`` one ``BUGS``)."""

from __future__ import annotations

from types import MappingProxyType

from harness.node import Node
from harness.schema import Int
from harness.system import BugInfo, NodeContext, SystemSpec
from pbregister.client import PBClient
from pbregister.server import STALE_PROMOTION, PBServer


class PBRegisterSpec(SystemSpec):
    name = "pbregister"
    files = ("pb",)
    #: a new primary about to send its first state; a primary about to answer commits
    crash_points = ("start_view", "commit")
    #: beside the register workload's linearizability: replicas agree after healing
    checkers = ("convergence",)
    WORKLOADS = ("register",)
    #: what `--set` may change, checked before a run: a heartbeat of 0 ms would spin, an
    #: election timeout of 0 ms has no jitter to draw from (both milliseconds)
    SETTINGS = MappingProxyType({"heartbeat_ms": Int(1, 10_000), "election_timeout_ms": Int(1, 600_000)})
    #: a heartbeat slower than the election timeout deposes every primary: not a bug found
    AT_MOST = (("heartbeat_ms", "election_timeout_ms"),)

    def default_settings(self) -> dict:
        return {"heartbeat_ms": 50, "election_timeout_ms": 400}

    def make_server(self, ctx: NodeContext) -> Node:
        return PBServer(ctx)

    def make_client(self, ctx: NodeContext) -> Node:
        return PBClient(ctx)

    def is_leader(self, server: Node) -> bool:
        return isinstance(server, PBServer) and server.active


BUGS = (
    BugInfo(STALE_PROMOTION, "pbregister",
            "a new primary starts its view from its own state, not the newest of a majority's: "
            "a backup that missed writes is promoted and acknowledged writes are lost",
            "linearizable: a read misses an acknowledged write",
            "partition a backup away during writes, then kill or isolate the primary"),
)
