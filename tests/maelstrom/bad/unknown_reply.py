#!/usr/bin/env python3
"""BAD: answers every request with an in_reply_to nobody sent."""
import json
import sys

for line in sys.stdin:
    msg = json.loads(line)
    body = msg["body"]
    me = msg["dest"]
    if body["type"] == "init":
        out = {"type": "init_ok", "in_reply_to": body["msg_id"]}
    else:
        out = {"type": body["type"] + "_ok", "in_reply_to": 10_000_000 + body["msg_id"]}
    print(json.dumps({"src": me, "dest": msg["src"], "body": out}), flush=True)
