#!/usr/bin/env python3
"""BAD: answers init, then spins the CPU and ignores SIGTERM; only SIGKILL ends it."""
import json
import signal
import sys

signal.signal(signal.SIGTERM, signal.SIG_IGN)
msg = json.loads(sys.stdin.readline())
print(json.dumps({"src": msg["dest"], "dest": msg["src"],
                  "body": {"type": "init_ok", "in_reply_to": msg["body"]["msg_id"]}}), flush=True)
x = 0
while True:
    x += 1
