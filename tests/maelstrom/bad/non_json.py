#!/usr/bin/env python3
"""BAD: answers init, then prints a debugging line on stdout for every request."""
import json
import sys

for line in sys.stdin:
    msg = json.loads(line)
    body = msg["body"]
    print(f"got {body['type']}", flush=True)
    if body["type"] == "init":
        print(json.dumps({"src": body["node_id"], "dest": msg["src"],
                          "body": {"type": "init_ok", "in_reply_to": body["msg_id"]}}), flush=True)
