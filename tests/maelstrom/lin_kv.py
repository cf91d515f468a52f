#!/usr/bin/env python3
"""A correct lin-kv node: every request is served by the harness's ``lin-kv`` service.

The node keeps no state, so kills and pauses lose nothing, and the service is
linearizable, so the whole is. A request the service does not answer in time is
answered with error 0 (timeout: indefinite), since it may have happened.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()


def proxy(n: Node, msg: dict) -> None:
    body = {k: v for k, v in msg["body"].items() if k != "msg_id"}

    def done(resp: dict | None) -> None:
        if resp is None:
            n.reply(msg, {"type": "error", "code": 0, "text": "lin-kv did not answer"})
            return
        out = {k: v for k, v in resp["body"].items() if k not in ("msg_id", "in_reply_to")}
        n.reply(msg, out)

    n.rpc("lin-kv", body, done, timeout=0.8)


for t in ("read", "write", "cas"):
    node.on(t)(proxy)

node.run()
