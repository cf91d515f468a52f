#!/usr/bin/env python3
"""A correct kafka node: n1 keeps every log and the committed offsets, appending each
change to a file in its working directory before it answers (a killed process loses
nothing it wrote); the other nodes forward every request to n1. A forwarded request
n1 does not answer in time is answered with error 0 (indefinite: it may have happened).

Set KAFKA_LOSE_UNFLUSHED=1 (``kafka_lose_unflushed.py``) to buffer appends in memory and
write them only every second: acknowledged sends are then lost when n1 is killed.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

LEADER = "n1"
LOSE_UNFLUSHED = os.environ.get("KAFKA_LOSE_UNFLUSHED") == "1"
FILE = "kafka.log"
node = Node()
logs: dict[str, list] = {}
committed: dict[str, int] = {}
unflushed: list[str] = []


def load(n: Node) -> None:
    if n.id != LEADER or not os.path.exists(FILE):
        return
    with open(FILE) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                break  # a torn last line
            if rec[0] == "send":
                logs.setdefault(rec[1], []).append(rec[2])
            else:
                committed[rec[1]] = max(committed.get(rec[1], -1), rec[2])


def persist(rec: list) -> None:
    line = json.dumps(rec) + "\n"
    if LOSE_UNFLUSHED:
        unflushed.append(line)
        return
    with open(FILE, "a") as f:
        f.write(line)


def flush(n: Node) -> None:
    if unflushed:
        with open(FILE, "a") as f:
            f.writelines(unflushed)
        unflushed.clear()


node.on_init = load
if LOSE_UNFLUSHED:
    node.every(1.0, flush)


def serve(n: Node, msg: dict) -> None:
    b = msg["body"]
    t = b["type"]
    if t == "send":
        log = logs.setdefault(str(b["key"]), [])
        persist(["send", str(b["key"]), b["msg"]])
        log.append(b["msg"])
        n.reply(msg, {"type": "send_ok", "offset": len(log) - 1})
    elif t == "poll":
        out = {}
        for k, off in b["offsets"].items():
            log = logs.get(k, [])
            out[k] = [[o, log[o]] for o in range(max(0, off), min(len(log), max(0, off) + 20))]
        n.reply(msg, {"type": "poll_ok", "msgs": out})
    elif t == "commit_offsets":
        for k, off in b["offsets"].items():
            if off > committed.get(k, -1):
                persist(["commit", k, off])
                committed[k] = off
        n.reply(msg, {"type": "commit_offsets_ok"})
    elif t == "list_committed_offsets":
        n.reply(msg, {"type": "list_committed_offsets_ok",
                      "offsets": {k: committed[k] for k in b["keys"] if k in committed}})


def handle(n: Node, msg: dict) -> None:
    if n.id == LEADER:
        serve(n, msg)
        return
    body = {k: v for k, v in msg["body"].items() if k != "msg_id"}

    def done(resp: dict | None) -> None:
        if resp is None:
            n.reply(msg, {"type": "error", "code": 0, "text": f"{LEADER} did not answer"})
            return
        n.reply(msg, {k: v for k, v in resp["body"].items() if k not in ("msg_id", "in_reply_to")})

    n.rpc(LEADER, body, done, timeout=0.8)


for t in ("send", "poll", "commit_offsets", "list_committed_offsets"):
    node.on(t)(handle)
node.run()
