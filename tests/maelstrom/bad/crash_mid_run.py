#!/usr/bin/env python3
"""BAD: serves reads as if every key were absent, and n2 exits (code 7) at its 10th request."""
import json
import sys

served = 0
for line in sys.stdin:
    msg = json.loads(line)
    body = msg["body"]
    me = msg["dest"]
    if body["type"] == "init":
        out = {"type": "init_ok", "in_reply_to": body["msg_id"]}
    else:
        served += 1
        if me == "n2" and served >= 10:
            print("n2: giving up", file=sys.stderr, flush=True)
            sys.exit(7)
        out = {"type": "error", "code": 20, "text": "no such key", "in_reply_to": body["msg_id"]}
    print(json.dumps({"src": me, "dest": msg["src"], "body": out}), flush=True)
