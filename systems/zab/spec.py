"""The ZAB system as the harness sees it: files, settings, and how to build its nodes.

Importing this module registers ``"zab"`` with ``harness.system``.
"""

from __future__ import annotations

from harness.node import Node
from harness.system import NodeContext, register_system
from systems.zab.client import ZabClient
from systems.zab.messages import LEADING
from systems.zab.server import BROADCAST, FILES, ZabServer
from systems.zab.settings import DEFAULT_SETTINGS


class ZabSpec:
    """``harness.system.SystemSpec`` for ZooKeeper's ZAB and a small ZooKeeper on top."""

    name = "zab"
    #: the txn log, the two epoch files, the snapshot (see server.py, "What is persisted")
    files = FILES

    def default_settings(self) -> dict:
        return dict(DEFAULT_SETTINGS)

    def make_server(self, ctx: NodeContext) -> Node:
        return ZabServer(ctx)

    def make_client(self, ctx: NodeContext) -> Node:
        return ZabClient(ctx)

    def is_leader(self, server: Node) -> bool:
        """Only an *established* leader (a quorum ACKed its NEWLEADER) in BROADCAST."""
        return (
            isinstance(server, ZabServer)
            and server.state == LEADING
            and server.established
            and server.zab_state == BROADCAST
        )


register_system("zab", ZabSpec)
