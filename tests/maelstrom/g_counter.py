#!/usr/bin/env python3
"""A correct g-counter node over the harness's ``seq-kv`` service.

``add``: read the counter, then cas it from what was read to that plus delta (created if
missing); retried on a precondition failure. ``read``: seq-kv may serve a stale version,
so the node first writes a key of its own, which moves its view to the newest version
(sequential consistency: a caller sees its own writes), then reads.

With G_COUNTER_STALE_READS=1 (``g_counter_stale_reads.py``) it skips that write and
trusts seq-kv's read to be current: a final read then misses other nodes' adds.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

STALE = os.environ.get("G_COUNTER_STALE_READS") == "1"
KEY = "counter"
node = Node()
sync_no = [0]


def fail(n: Node, msg: dict, why: str) -> None:
    n.reply(msg, {"type": "error", "code": 0, "text": why})


@node.on("add")
def add(n: Node, msg: dict, tries: int = 0) -> None:
    delta = msg["body"]["delta"]

    def got(resp: dict | None) -> None:
        if resp is None:
            fail(n, msg, "seq-kv did not answer")
            return
        b = resp["body"]
        cur = b.get("value", 0) if b["type"] == "read_ok" else 0
        n.rpc("seq-kv", {"type": "cas", "key": KEY, "from": cur, "to": cur + delta, "create_if_not_exists": True},
              lambda r: done(r, cur), timeout=0.5)

    def done(resp: dict | None, cur: int) -> None:
        if resp is None:
            fail(n, msg, "seq-kv did not answer")
        elif resp["body"]["type"] == "cas_ok":
            n.reply(msg, {"type": "add_ok"})
        elif tries < 50:
            add(n, msg, tries + 1)
        else:
            n.reply(msg, {"type": "error", "code": 11, "text": "too much contention"})

    n.rpc("seq-kv", {"type": "read", "key": KEY}, got, timeout=0.5)


@node.on("read")
def read(n: Node, msg: dict) -> None:
    def got(resp: dict | None) -> None:
        if resp is None:
            fail(n, msg, "seq-kv did not answer")
            return
        b = resp["body"]
        n.reply(msg, {"type": "read_ok", "value": b.get("value", 0) if b["type"] == "read_ok" else 0})

    def synced(resp: dict | None) -> None:
        if resp is None:
            fail(n, msg, "seq-kv did not answer")
            return
        n.rpc("seq-kv", {"type": "read", "key": KEY}, got, timeout=0.5)

    if STALE:
        synced({})
    else:
        sync_no[0] += 1
        n.rpc("seq-kv", {"type": "write", "key": f"sync-{n.id}", "value": sync_no[0]}, synced, timeout=0.5)


node.run()
