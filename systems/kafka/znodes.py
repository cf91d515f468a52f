"""Where Kafka keeps its metadata in ZooKeeper, and how the znode data is written.

Layout (Kafka before KRaft, flattened where Kafka nests deeper):

- ``/brokers/ids/<id>``: ephemeral, one per live broker; data ``{"broker_epoch": n}``, a
  number drawn afresh at every registration, so a restarted broker is told apart from its
  previous incarnation (KIP-380 uses the znode's czxid).
- ``/controller``: ephemeral, held by the controller; data ``{"broker": id}``.
- ``/controller_epoch``: persistent; the controller epoch, bumped with a versioned setData
  by each new controller.
- ``/partitions/<p>``: persistent; ``{"leader", "leader_epoch", "isr", "controller_epoch",
  "leader_broker_epoch", "isr_broker_epochs"}`` written by the controller (elections) and
  by the partition leader (ISR changes), always conditional on the znode version the
  writer last saw. The broker epochs say which registration of the leader was elected and
  in which registration each ISR member joined (KIP-380, KIP-903).
- ``/consumer_offsets/<group>-<p>``: persistent; the group's committed offset.

Data is JSON text, as Kafka writes it, so it is hashable and canonical in any ZooKeeper.
"""

from __future__ import annotations

import json
from typing import Any

BROKERS = "/brokers"
BROKER_IDS = "/brokers/ids"
CONTROLLER = "/controller"
CONTROLLER_EPOCH = "/controller_epoch"
PARTITIONS = "/partitions"
OFFSETS = "/consumer_offsets"

#: persistent parents every broker makes sure exist at startup (create; NodeExists is fine)
PARENTS = (BROKERS, BROKER_IDS, PARTITIONS, OFFSETS)


def broker_path(broker: str) -> str:
    return f"{BROKER_IDS}/{broker}"


def partition_path(p: int) -> str:
    return f"{PARTITIONS}/{p}"


def offset_path(group: str, p: int) -> str:
    return f"{OFFSETS}/{group}-{p}"


def encode(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def decode(data: Any) -> Any:
    if data is None:
        return None
    if isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError:
            return None
    return data


def encode_state(st: Any, controller_epoch: int) -> str:
    """A ``messages.PartitionState`` as the partition znode's data."""
    return encode({"leader": st.leader, "leader_epoch": st.leader_epoch, "isr": sorted(st.isr),
                   "controller_epoch": controller_epoch, "leader_broker_epoch": st.leader_broker_epoch,
                   "isr_broker_epochs": {b: e for b, e in sorted(st.isr_epochs)}})


def decode_state(p: int, data: Any, version: int, replicas: tuple[str, ...]) -> Any:
    from systems.kafka.messages import PartitionState

    d = decode(data) or {}
    isr = tuple(sorted(d.get("isr", ())))
    epochs = d.get("isr_broker_epochs") or {}
    return PartitionState(p, d.get("leader"), int(d.get("leader_epoch", 0)), isr, version, replicas,
                          int(d.get("leader_broker_epoch", -1)), tuple((b, int(epochs.get(b, -1))) for b in isr))


def assignment(partitions: int, brokers: tuple[str, ...], rf: int) -> dict[int, tuple[str, ...]]:
    """Replicas of each partition, round-robin over the brokers in order (Kafka's
    assignment without racks): partition p gets brokers p, p+1, ..., p+rf-1 (mod n). Every
    broker derives it from the settings, so it needs no znode."""
    n = len(brokers)
    rf = min(rf, n)
    return {p: tuple(brokers[(p + i) % n] for i in range(rf)) for p in range(partitions)}
