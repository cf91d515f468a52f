#!/usr/bin/env python3
"""A Maelstrom node that forwards every message it gets to the next node of the ring
(``bench/maelstrom_speed.py``'s load); answers init. As lean as a Python node gets."""

import json
import sys


def main() -> None:
    out = sys.stdout
    me, ring = "", []
    for line in sys.stdin:
        msg = json.loads(line)
        body = msg["body"]
        if body["type"] == "init":
            me, ring = body["node_id"], body["node_ids"]
            out.write(json.dumps({"src": me, "dest": msg["src"],
                                  "body": {"type": "init_ok", "in_reply_to": body["msg_id"]}}) + "\n")
        else:
            nxt = ring[(ring.index(me) + 1) % len(ring)]
            out.write(f'{{"src":"{me}","dest":"{nxt}","body":{json.dumps(body)}}}\n')
        out.flush()


main()
