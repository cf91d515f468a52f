"""A tiny Maelstrom node library for the test programs here (stdlib only).

``Node.run()`` reads one JSON message per line from stdin; handlers registered with
``on(type)`` get (node, msg); ``reply`` answers a request; ``rpc`` sends a request and
calls back on the reply (or on ``timeout`` seconds without one); ``every`` runs a
periodic task. One thread: stdin is polled with a timeout so timers fire.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from collections.abc import Callable
from typing import Any


class Node:
    def __init__(self) -> None:
        self.id = ""
        self.ids: list[str] = []
        self.handlers: dict[str, Callable[[Node, dict], None]] = {}
        self.next_id = 0
        self.callbacks: dict[int, tuple[float, Callable[[dict | None], None]]] = {}
        self.periodic: list[list[Any]] = []
        self.on_init: Callable[[Node], None] | None = None

    def on(self, type_: str) -> Callable:
        def deco(fn: Callable[[Node, dict], None]) -> Callable[[Node, dict], None]:
            self.handlers[type_] = fn
            return fn
        return deco

    def every(self, seconds: float, fn: Callable[[Node], None]) -> None:
        self.periodic.append([seconds, time.monotonic() + seconds, fn])

    def log(self, *args: Any) -> None:
        print(*args, file=sys.stderr, flush=True)

    def send(self, dest: str, body: dict) -> None:
        sys.stdout.write(json.dumps({"src": self.id, "dest": dest, "body": body}) + "\n")
        sys.stdout.flush()

    def reply(self, req: dict, body: dict) -> None:
        body = dict(body, in_reply_to=req["body"]["msg_id"])
        self.send(req["src"], body)

    def rpc(self, dest: str, body: dict, cb: Callable[[dict | None], None], timeout: float = 1.0) -> None:
        self.next_id += 1
        self.callbacks[self.next_id] = (time.monotonic() + timeout, cb)
        self.send(dest, dict(body, msg_id=self.next_id))

    def _handle(self, msg: dict) -> None:
        body = msg["body"]
        irt = body.get("in_reply_to")
        if irt is not None:
            entry = self.callbacks.pop(irt, None)
            if entry is not None:
                entry[1](msg)
            return
        if body["type"] == "init":
            self.id = body["node_id"]
            self.ids = body["node_ids"]
            if self.on_init is not None:
                self.on_init(self)
            self.reply(msg, {"type": "init_ok"})
            return
        h = self.handlers.get(body["type"])
        if h is None:
            if "msg_id" in body:
                self.reply(msg, {"type": "error", "code": 10, "text": f"no handler for {body['type']}"})
            return
        h(self, msg)

    def _timers(self) -> float:
        now = time.monotonic()
        for k, (deadline, cb) in list(self.callbacks.items()):
            if deadline <= now:
                del self.callbacks[k]
                cb(None)
        wait = 0.05
        for p in self.periodic:
            if p[1] <= now:
                p[1] = now + p[0]
                p[2](self)
            wait = min(wait, max(0.0, p[1] - now))
        return wait

    def run(self) -> None:
        fd = sys.stdin.fileno()
        buf = b""
        while True:
            wait = self._timers()
            r, _, _ = select.select([fd], [], [], wait)
            if not r:
                continue
            data = os.read(fd, 1 << 16)
            if not data:
                return
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.strip():
                    self._handle(json.loads(line))
