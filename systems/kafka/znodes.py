"""Where Kafka keeps its metadata in ZooKeeper, and how the znode data is written.

Layout (Kafka before KRaft, flattened where Kafka nests deeper):

- ``/brokers/ids/<id>``: ephemeral, one per live broker; data ``{"broker_epoch": n}``, a
  number drawn afresh at every registration, so a restarted broker is told apart from its
  previous incarnation (KIP-380 uses the znode's czxid).
- ``/controller``: ephemeral, held by the controller; data ``{"broker": id}``.
- ``/controller_epoch``: persistent; the controller epoch, bumped with a versioned setData
  by each new controller.
- ``/partitions/<p>``: persistent; ``{"leader", "leader_epoch", "isr", "controller_epoch",
  "leader_broker_epoch"}`` written by the controller (elections) and by the partition
  leader (ISR changes), always conditional on the znode version the writer last saw.
  ``leader_broker_epoch`` is the leader's registration when it was elected.
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


def encode_state(leader: str | None, leader_epoch: int, isr: tuple[str, ...] | list[str], controller_epoch: int,
                 leader_broker_epoch: int) -> str:
    return encode({"leader": leader, "leader_epoch": leader_epoch, "isr": sorted(isr),
                   "controller_epoch": controller_epoch, "leader_broker_epoch": leader_broker_epoch})


def assignment(partitions: int, brokers: tuple[str, ...], rf: int) -> dict[int, tuple[str, ...]]:
    """Replicas of each partition, round-robin over the brokers in order (Kafka's
    assignment without racks): partition p gets brokers p, p+1, ..., p+rf-1 (mod n). Every
    broker derives it from the settings, so it needs no znode."""
    n = len(brokers)
    rf = min(rf, n)
    return {p: tuple(brokers[(p + i) % n] for i in range(rf)) for p in range(partitions)}
