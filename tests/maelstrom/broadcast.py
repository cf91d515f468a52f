#!/usr/bin/env python3
"""A correct broadcast node: every value it learns is appended to a file in its working
directory (so a restart keeps it), and every 0.2 s it sends each neighbour the values
that neighbour has not acknowledged yet, until it does (partitions only delay).

Set BROADCAST_NO_RETRY=1 (``broadcast_no_retry.py``) to send each value once to each
neighbour, never again: a value sent across a partition is lost there.

An argument, if given, is the gossip interval in seconds instead of 0.2 (a slow but
correct program: it converges only that long after the last fault healed).

Set BROADCAST_TOPOLOGY=1 (``broadcast_topology.py``) to take the neighbours from the
``topology`` message, as most Maelstrom broadcast programs do, instead of ``init``'s
node ids: still correct, if the network sends a restarted node its topology again.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

NO_RETRY = os.environ.get("BROADCAST_NO_RETRY") == "1"
FROM_TOPOLOGY = os.environ.get("BROADCAST_TOPOLOGY") == "1"
FILE = "broadcast.log"
node = Node()
seen: set = set()
acked: dict[str, set] = {}
neighbours: list[str] = []


def load(n: Node) -> None:
    if not FROM_TOPOLOGY:
        neighbours[:] = [m for m in n.ids if m != n.id]
    if os.path.exists(FILE):
        with open(FILE) as f:
            for line in f:
                try:
                    seen.add(json.loads(line))
                except ValueError:
                    break


def learn(values: list) -> list:
    new = [v for v in values if v not in seen]
    if new:
        with open(FILE, "a") as f:
            f.writelines(json.dumps(v) + "\n" for v in new)
        seen.update(new)
    return new


def gossip(n: Node) -> None:
    for nb in neighbours:
        missing = sorted(seen - acked.setdefault(nb, set()))
        if missing:
            n.rpc(nb, {"type": "gossip", "messages": missing},
                  lambda resp, nb=nb, m=missing: resp and acked[nb].update(m), timeout=1.0)


node.on_init = load
if not NO_RETRY:
    node.every(float(sys.argv[1]) if len(sys.argv) > 1 else 0.2, gossip)


@node.on("topology")
def topology(n: Node, msg: dict) -> None:
    if FROM_TOPOLOGY:
        neighbours[:] = msg["body"]["topology"].get(n.id, [])
    n.reply(msg, {"type": "topology_ok"})


@node.on("broadcast")
def broadcast(n: Node, msg: dict) -> None:
    v = msg["body"]["message"]
    new = learn([v])
    n.reply(msg, {"type": "broadcast_ok"})
    if NO_RETRY and new:
        for nb in neighbours:
            n.send(nb, {"type": "gossip", "messages": new})


@node.on("gossip")
def on_gossip(n: Node, msg: dict) -> None:
    learn(msg["body"]["messages"])
    acked.setdefault(msg["src"], set()).update(msg["body"]["messages"])
    if "msg_id" in msg["body"]:
        n.reply(msg, {"type": "gossip_ok"})


@node.on("read")
def read(n: Node, msg: dict) -> None:
    n.reply(msg, {"type": "read_ok", "messages": sorted(seen)})


node.run()
