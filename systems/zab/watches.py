"""One server's one-shot watches (ZooKeeper's WatchManager), sans-IO.

A watch belongs to one client connection ``(client node, conn)`` on the server the client
is connected to; it dies with the connection (the client re-registers it on the next
server with SetWatches). Data watches are left by ``exists`` and ``getData``, child
watches by ``getChildren``. A watch fires once, when the server *applies* the txn that
changes what it watches; the event goes out on the client's FIFO link before any later
answer, so the client sees the event before it can read the data that triggered it.

Triggers (datatree.TxnResult.triggers) to ZooKeeper event types:

==============  =======================  ========================
trigger         data watches of path      child watches of path
==============  =======================  ========================
created         NodeCreated               -
changed         NodeDataChanged           -
deleted         NodeDeleted               NodeDeleted
children        -                         NodeChildrenChanged
==============  =======================  ========================
"""

from __future__ import annotations

from systems.zab.api import NODE_CHILDREN_CHANGED, NODE_CREATED, NODE_DATA_CHANGED, NODE_DELETED
from systems.zab.datatree import CHANGED, CHILDREN, CREATED, DELETED, DataTree

Watcher = tuple[str, int]  # (client node id, conn)


class WatchManager:
    def __init__(self) -> None:
        self.data: dict[str, set[Watcher]] = {}
        self.child: dict[str, set[Watcher]] = {}

    def add_data(self, path: str, w: Watcher) -> None:
        self.data.setdefault(path, set()).add(w)

    def add_child(self, path: str, w: Watcher) -> None:
        self.child.setdefault(path, set()).add(w)

    def remove_watcher(self, w: Watcher) -> None:
        for table in (self.data, self.child):
            for path in [p for p, ws in table.items() if w in ws]:
                table[path].discard(w)
                if not table[path]:
                    del table[path]

    def clear(self) -> None:
        self.data.clear()
        self.child.clear()

    def trigger(self, triggers: tuple) -> list[tuple[Watcher, str, str]]:
        """Fire (and forget) the watches ``triggers`` hit: ``[(watcher, event type,
        path)]``, in trigger order, watchers sorted within one trigger."""
        out: list[tuple[Watcher, str, str]] = []
        for kind, path in triggers:
            # most applies hit no watch: no empty sets made, nothing sorted
            if kind == CREATED:
                ws, type_ = self.data.pop(path, None), NODE_CREATED
            elif kind == CHANGED:
                ws, type_ = self.data.pop(path, None), NODE_DATA_CHANGED
            elif kind == DELETED:
                ws, wc, type_ = self.data.pop(path, None), self.child.pop(path, None), NODE_DELETED
                if wc:
                    ws = ws | wc if ws else wc
            elif kind == CHILDREN:
                ws, type_ = self.child.pop(path, None), NODE_CHILDREN_CHANGED
            else:
                continue
            if ws:
                out.extend((w, type_, path) for w in sorted(ws))
        return out

    def set_watches(
        self, tree: DataTree, w: Watcher, zxid: int, data: tuple, exist: tuple, child: tuple
    ) -> list[tuple[str, str]]:
        """Re-register a reconnected client's watches as of its last seen ``zxid``
        (DataTree.setWatches): fire those whose znode changed after it, keep the rest.
        Returns ``[(event type, path)]`` to send at once."""
        fire: list[tuple[str, str]] = []
        for path in exist:
            if tree.get(path) is not None:
                fire.append((NODE_CREATED, path))
            else:
                self.add_data(path, w)
        for path in data:
            node = tree.get(path)
            if node is None:
                fire.append((NODE_DELETED, path))
            elif node.mzxid > zxid:
                fire.append((NODE_DATA_CHANGED, path))
            else:
                self.add_data(path, w)
        for path in child:
            node = tree.get(path)
            if node is None:
                fire.append((NODE_DELETED, path))
            elif node.pzxid > zxid:
                fire.append((NODE_CHILDREN_CHANGED, path))
            else:
                self.add_child(path, w)
        return fire
