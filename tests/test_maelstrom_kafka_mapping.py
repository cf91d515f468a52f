"""The Maelstrom kafka client's consumer positions across ``assign`` (no processes).

Maelstrom's own client keeps the position of a key it is assigned again and starts a
newly taken key from its committed offset; Kafka's consumer does the same, and the
durability checker's reassignment rule (a kept key is still checked) assumes it. Before,
every assign restarted every key from its committed offset, so a correct program showed
nonmonotonic polls and poll skips after any reassignment.
"""

from __future__ import annotations

from typing import Any

from harness.live.maelstrom.clients import Op
from harness.live.maelstrom.mappings import KafkaMapping
from harness.node import ClientRequest


def _do(mapping: KafkaMapping, state: dict[str, Any], f: str, value: Any, reply: dict[str, Any]) -> Op:
    op = Op(ClientRequest(1, f, None, value), "n1")
    mapping.first(op, state)
    assert mapping.reply(op, state, reply) is None
    return op


def test_a_kept_key_keeps_its_position_and_a_new_key_starts_past_its_commit() -> None:
    mapping, state = KafkaMapping(), {}
    _do(mapping, state, "assign", ["k0", "k2"], {"offsets": {}})
    assert state["pos"] == {"k0": 0, "k2": 0}
    polled = _do(mapping, state, "poll", None, {"msgs": {"k2": [[0, 1], [1, 3]]}})
    assert polled.acc == {"k0": [], "k2": [[0, 1], [1, 3]]}
    assert state["pos"] == {"k0": 0, "k2": 2}
    # kept keys stay where this consumer was; k1 is new: just past its committed offset
    _do(mapping, state, "assign", ["k0", "k1", "k2"], {"offsets": {"k1": 3}})
    assert state["pos"] == {"k0": 0, "k1": 4, "k2": 2}
    # a key dropped and taken back starts afresh from its committed offset
    _do(mapping, state, "assign", ["k1"], {"offsets": {"k1": 3}})
    _do(mapping, state, "assign", ["k1", "k2"], {"offsets": {"k2": 0}})
    assert state["pos"] == {"k1": 4, "k2": 1}
