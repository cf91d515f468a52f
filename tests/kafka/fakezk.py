"""The fake ZooKeeper of the Kafka tests: the one-server ``systems.kafka.minizk``.

It speaks the client API of ``systems/zab/api.py`` (ephemeral and sequential znodes,
versioned setData, one-shot watches, sessions that expire and must be reopened), so the
brokers and the controller are tested against the contract without a ZAB ensemble. It
lives under ``systems/kafka`` because ``--set zookeeper=mini`` also runs whole harness
runs on it; this module re-exports it for the tests and adds a direct handle on its tree.
"""

from __future__ import annotations

from typing import Any

from systems.kafka.minizk import (  # noqa: F401  (re-exported)
    MiniZkClient,
    MiniZkServer,
    ZkConnect,
    ZkConnected,
    ZkEvent,
    ZkPing,
    ZkPong,
    ZkRequest,
    ZkResponse,
    is_minizk_message,
)
from systems.kafka.znodes import decode


def tree(server: MiniZkServer) -> dict[str, Any]:
    """Path -> decoded data of every znode (the tests' view of ZooKeeper)."""
    return {p: decode(n.data) for p, n in sorted(server.nodes.items())}


def ephemeral_owner(server: MiniZkServer, path: str) -> int | None:
    n = server.nodes.get(path)
    return None if n is None else n.owner
