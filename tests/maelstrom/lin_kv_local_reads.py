#!/usr/bin/env python3
"""A WRONG lin-kv node: writes and cas go to the ``lin-kv`` service, but reads are
answered from what this node itself last wrote or saw, so a read misses every other
node's writes (a stale read: not linearizable)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
cache: dict = {}


@node.on("read")
def read(n: Node, msg: dict) -> None:
    key = str(msg["body"]["key"])
    if key not in cache:
        n.reply(msg, {"type": "error", "code": 20, "text": "not here"})
    else:
        n.reply(msg, {"type": "read_ok", "value": cache[key]})


def update(n: Node, msg: dict) -> None:
    body = {k: v for k, v in msg["body"].items() if k != "msg_id"}

    def done(resp: dict | None) -> None:
        if resp is None:
            n.reply(msg, {"type": "error", "code": 0, "text": "lin-kv did not answer"})
            return
        out = {k: v for k, v in resp["body"].items() if k not in ("msg_id", "in_reply_to")}
        if out["type"] in ("write_ok", "cas_ok"):
            cache[str(body["key"])] = body["value"] if body["type"] == "write" else body["to"]
        n.reply(msg, out)

    n.rpc("lin-kv", body, done, timeout=0.8)


node.on("write")(update)
node.on("cas")(update)
node.run()
