"""Maelstrom's services, run by the harness as nodes of the network.

- ``lin-kv``: one linearizable map (every request applied in arrival order).
- ``seq-kv``: sequentially consistent. Every write and cas is applied at the head of one
  version log; a read from node X returns the state at a version chosen (from the run's
  seeded stream) between the last version X has seen and the head, and X has seen it from
  then on. So each caller observes a monotonic prefix that includes its own writes, and
  nothing more is promised: reads may be stale, as Maelstrom's seq-kv's may.
- ``lww-kv``: last write wins over ``REPLICAS`` replicas that merge (by timestamp)
  only now and then: a request goes to a random replica, so reads may go back in time
  and a cas may succeed on a stale value, losing a concurrent update.
- ``lin-tso``: ``ts`` -> ``ts_ok {ts}``, strictly increasing.

Errors are Maelstrom's: 20 key-does-not-exist, 22 precondition-failed, 10 not-supported.
Each service is a pure handler (request body in, reply bodies out); the network carries
both ways with latency, and cuts may separate a service from a node.
"""

from __future__ import annotations

from typing import Any

NOT_SUPPORTED = 10
KEY_DOES_NOT_EXIST = 20
PRECONDITION_FAILED = 22
REPLICAS = 3
#: chance, per request, that lww-kv's replicas merge
LWW_MERGE_P = 0.2

_MISSING = object()


def _key(body: dict[str, Any]) -> str:
    import json

    return json.dumps(body.get("key"), sort_keys=True)


def _error(code: int, text: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "text": text}


def kv_apply(store: dict[str, Any], body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Apply one kv request to ``store``; (reply body, whether it changed the store)."""
    t = body.get("type")
    k = _key(body)
    if t == "read":
        v = store.get(k, _MISSING)
        if v is _MISSING:
            return _error(KEY_DOES_NOT_EXIST, "key does not exist"), False
        return {"type": "read_ok", "value": v}, False
    if t == "write":
        store[k] = body.get("value")
        return {"type": "write_ok"}, True
    if t == "cas":
        v = store.get(k, _MISSING)
        if v is _MISSING:
            if body.get("create_if_not_exists"):
                store[k] = body.get("to")
                return {"type": "cas_ok"}, True
            return _error(KEY_DOES_NOT_EXIST, "key does not exist"), False
        if v != body.get("from"):
            return _error(PRECONDITION_FAILED, f"expected {body.get('from')!r}, had {v!r}"), False
        store[k] = body.get("to")
        return {"type": "cas_ok"}, True
    return _error(NOT_SUPPORTED, f"{t!r} is not supported by this service"), False


class LinKV:
    name = "lin-kv"

    def __init__(self, rng: Any) -> None:
        self.store: dict[str, Any] = {}

    def handle(self, src: str, body: dict[str, Any], now: int) -> dict[str, Any]:
        return kv_apply(self.store, body)[0]


class SeqKV:
    name = "seq-kv"

    def __init__(self, rng: Any) -> None:
        self.rng = rng
        self.versions: list[dict[str, Any]] = [{}]
        self.seen: dict[str, int] = {}

    def handle(self, src: str, body: dict[str, Any], now: int) -> dict[str, Any]:
        head = len(self.versions) - 1
        if body.get("type") == "read":
            lo = self.seen.get(src, 0)
            v = self.rng.randint(lo, head)
            self.seen[src] = v
            return kv_apply(dict(self.versions[v]), body)[0]
        state = dict(self.versions[head])
        reply, changed = kv_apply(state, body)
        if changed:
            self.versions.append(state)
            head += 1
        self.seen[src] = head
        return reply


class LwwKV:
    name = "lww-kv"

    def __init__(self, rng: Any) -> None:
        self.rng = rng
        self.replicas: list[dict[str, Any]] = [{} for _ in range(REPLICAS)]
        self.stamps: list[dict[str, Any]] = [{} for _ in range(REPLICAS)]

    def handle(self, src: str, body: dict[str, Any], now: int) -> dict[str, Any]:
        if self.rng.random() < LWW_MERGE_P:
            a, b = self.rng.sample(range(REPLICAS), 2)
            self._merge(a, b)
        i = self.rng.randrange(REPLICAS)
        reply, changed = kv_apply(self.replicas[i], body)
        if changed:
            self.stamps[i][_key(body)] = now
        return reply

    def _merge(self, a: int, b: int) -> None:
        for k in set(self.replicas[a]) | set(self.replicas[b]):
            ta, tb = self.stamps[a].get(k, -1), self.stamps[b].get(k, -1)
            src, dst = (a, b) if ta >= tb else (b, a)
            self.replicas[dst][k] = self.replicas[src][k]
            self.stamps[dst][k] = self.stamps[src][k]


class LinTSO:
    name = "lin-tso"

    def __init__(self, rng: Any) -> None:
        self.ts = 0

    def handle(self, src: str, body: dict[str, Any], now: int) -> dict[str, Any]:
        if body.get("type") != "ts":
            return _error(NOT_SUPPORTED, f"{body.get('type')!r} is not supported by lin-tso")
        self.ts += 1
        return {"type": "ts_ok", "ts": self.ts}


SERVICES = {c.name: c for c in (LinKV, SeqKV, LwwKV, LinTSO)}


class ServiceNode:
    """A service as an endpoint of the network."""

    incarnation = 0

    def __init__(self, service: Any, net: Any, loop: Any) -> None:
        self.name = service.name
        self.service = service
        self.net = net
        self.loop = loop
        self.requests = 0

    def deliver(self, msg: dict[str, Any], line: bytes | None) -> None:
        body = msg["body"]
        if "msg_id" not in body:
            return
        self.requests += 1
        reply = self.service.handle(str(msg.get("src")), body, self.loop.rel())
        reply["in_reply_to"] = body["msg_id"]
        src = msg.get("src")
        if isinstance(src, str):
            self.net.send(self.name, {"src": self.name, "dest": src, "body": reply})
