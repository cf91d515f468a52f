"""Each Maelstrom workload's requests and replies, as our history's operations.

A mapping turns an operation (``f``, ``key``, ``value``) into the body of its first
request (``first``), reads each ``*_ok`` reply into the operation's result and says
whether another request follows (``reply``), and may read an error its own way
(``on_error``). ``op.acc`` is the completion's value (None: the invoke's value);
``op.extra`` the completion's extra fields (a send's ``offset``).
"""

from __future__ import annotations

from typing import Any

from harness.node import OpType

#: polls a final drain makes at most before it gives up (info)
DRAIN_POLLS = 200


class LinKVMapping:
    """``lin-kv``: read / write / cas of a key, checked as a cas-register per key."""

    def first(self, op: Any, state: dict[str, Any]) -> dict[str, Any] | None:
        r = op.req
        if r.f == "read":
            return {"type": "read", "key": r.key}
        if r.f == "write":
            return {"type": "write", "key": r.key, "value": r.value}
        if r.f == "cas":
            return {"type": "cas", "key": r.key, "from": r.value[0], "to": r.value[1]}
        raise ValueError(f"lin-kv has no operation {r.f!r}")

    def reply(self, op: Any, state: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
        if op.req.f == "read":
            op.acc = body["value"]
        return None

    def on_error(self, op: Any, body: dict[str, Any]) -> tuple[OpType, str | None] | None:
        # a read of a key never written: the register's initial value, not a failure
        if op.req.f == "read" and body.get("code") == 20:
            op.acc = None
            return ("ok", None)
        return None


class KafkaMapping:
    """``kafka``: send, poll from the consumer's positions, commit_offsets, and
    ``assign`` as Maelstrom's client does it: list the committed offsets of the keys; a
    key it newly takes is polled from just past its committed offset, a key it keeps
    stays where this consumer was (as Kafka's consumer keeps the position of a partition
    it is assigned again, and as the durability checker's reassignment rule expects). A
    committed offset is the last offset processed."""

    def first(self, op: Any, state: dict[str, Any]) -> dict[str, Any] | None:
        r = op.req
        if r.f == "send":
            return {"type": "send", "key": r.key, "msg": r.value}
        if r.f == "assign":
            return {"type": "list_committed_offsets", "keys": list(r.value)}
        pos = state.get("pos", {})
        if r.f == "poll":
            op.acc = {}
            if not pos:
                return None
            return {"type": "poll", "offsets": dict(pos)}
        if r.f == "commit":
            offsets = {k: p - 1 for k, p in pos.items() if p > 0}
            op.acc = offsets
            if not offsets:
                return None
            return {"type": "commit_offsets", "offsets": offsets}
        raise ValueError(f"kafka has no operation {r.f!r}")

    def reply(self, op: Any, state: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
        r = op.req
        if r.f == "send":
            op.extra = (("offset", int(body["offset"])),)
            return None
        if r.f == "assign":
            offsets = body.get("offsets") or {}
            kept = state.get("pos", {})
            state["pos"] = {k: kept[k] if k in kept else int(offsets[k]) + 1 if offsets.get(k) is not None else 0
                            for k in r.value}
            return None
        if r.f == "poll":
            pos = state["pos"]
            msgs = body.get("msgs") or {}
            got = 0
            for k in pos:
                recs = [[int(o), v] for o, v in msgs.get(k) or []]
                op.acc.setdefault(k, []).extend(recs)
                if recs:
                    pos[k] = recs[-1][0] + 1
                    got += len(recs)
            if r.value == "drain" and got and op.steps < DRAIN_POLLS:
                return {"type": "poll", "offsets": dict(pos)}
            return None
        return None  # commit

    def on_error(self, op: Any, body: dict[str, Any]) -> tuple[OpType, str | None] | None:
        return None


class BroadcastMapping:
    """``broadcast``: broadcast a unique value; read the set a node holds."""

    def first(self, op: Any, state: dict[str, Any]) -> dict[str, Any] | None:
        if op.req.f == "broadcast":
            return {"type": "broadcast", "message": op.req.value}
        return {"type": "read"}

    def reply(self, op: Any, state: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
        if op.req.f == "read":
            msgs = body["messages"]
            # the workload broadcasts integers: a list or object among them (unhashable,
            # and nothing anyone sent) is a reply the workload cannot read
            if not isinstance(msgs, list) or any(isinstance(m, (list, dict)) for m in msgs):
                raise TypeError("messages must be a list of the values broadcast")
            op.acc = sorted(msgs, key=repr)
        return None

    def on_error(self, op: Any, body: dict[str, Any]) -> tuple[OpType, str | None] | None:
        return None


class GCounterMapping:
    """``g-counter``: add a non-negative delta; read the counter."""

    def first(self, op: Any, state: dict[str, Any]) -> dict[str, Any] | None:
        if op.req.f == "add":
            return {"type": "add", "delta": op.req.value}
        return {"type": "read"}

    def reply(self, op: Any, state: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
        if op.req.f == "read":
            op.acc = body["value"]
        return None

    def on_error(self, op: Any, body: dict[str, Any]) -> tuple[OpType, str | None] | None:
        return None


MAPPINGS = {"lin-kv": LinKVMapping, "kafka": KafkaMapping, "broadcast": BroadcastMapping,
            "g-counter": GCounterMapping}
