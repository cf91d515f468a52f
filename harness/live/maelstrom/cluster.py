"""The live nemesis's view of a Maelstrom run (``harness.live.nemesis.LiveCluster``).

The nemesis runs on its own thread; every action is handed to the loop's thread and
waited for, so the network and the nodes are only ever touched from one thread.
A Maelstrom program does not say who leads, so ``leader()`` is None and faults aimed
at "the leader" pick a seeded random server instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.live.maelstrom.loop import Loop
from harness.live.maelstrom.network import Network
from harness.live.maelstrom.nodes import ProcNode

#: seconds a nemesis action may take on the loop before it is called failed
ACTION_TIMEOUT = 10.0


class MaelstromCluster:
    def __init__(self, loop: Loop, net: Network, nodes: dict[str, ProcNode]):
        self.loop = loop
        self.net = net
        self.nodes = nodes
        self.servers = list(nodes)

    def _on_loop(self, fn: Any) -> Any:
        return self.loop.call_threadsafe(fn).result(ACTION_TIMEOUT)

    def leader(self) -> str | None:
        return None

    def set_cut(self, cut: Iterable[tuple[str, str]]) -> None:
        pairs = [tuple(p) for p in cut]
        self._on_loop(lambda: self.net.set_cut(pairs))

    def kill(self, node: str) -> bool:
        return bool(self._on_loop(self.nodes[node].kill))

    def restart(self, node: str) -> bool:
        return bool(self._on_loop(self.nodes[node].restart))

    def pause(self, node: str) -> bool:
        return bool(self._on_loop(self.nodes[node].pause))

    def resume(self, node: str) -> bool:
        return bool(self._on_loop(self.nodes[node].resume))

    def set_clock(self, node: str, offset_ns: int, ppm: int) -> bool:
        return bool(self._on_loop(lambda: self.nodes[node].set_clock(offset_ns, ppm)))
