"""Every message a Kafka broker or client sends: frozen, slotted dataclasses.

Named after Kafka's requests. Groups:

- **Controller to broker**: ``LeaderAndIsr`` (every partition's state, which also serves
  as UpdateMetadata: brokers that host a partition act on it, all keep it for clients).
- **Replication**: ``ReplicaFetch``/``ReplicaFetchResponse`` (followers pull from the
  leader), ``EpochEndRequest``/``EpochEndResponse`` (OffsetsForLeaderEpoch, KIP-101/279).
- **Clients**: ``MetadataRequest``, ``ProduceRequest``, ``FetchRequest`` (consumers),
  group membership (``GroupHeartbeat`` joins and keeps a member, ``LeaveGroup``),
  ``OffsetCommit`` and ``OffsetFetch``, each with its response.

Sender ids are not in the messages: the network hands ``src`` to ``on_message``. Records
travel as the tuples of ``log.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

# ----------------------------------------------------------------------- error codes
NONE = None
NOT_LEADER = "NotLeaderOrFollower"
FENCED_LEADER_EPOCH = "FencedLeaderEpoch"
UNKNOWN_LEADER_EPOCH = "UnknownLeaderEpoch"
NOT_ENOUGH_REPLICAS = "NotEnoughReplicas"
NOT_ENOUGH_REPLICAS_AFTER_APPEND = "NotEnoughReplicasAfterAppend"
REQUEST_TIMED_OUT = "RequestTimedOut"
OUT_OF_ORDER_SEQUENCE = "OutOfOrderSequenceNumber"
DUPLICATE_SEQUENCE = "DuplicateSequenceNumber"
OFFSET_OUT_OF_RANGE = "OffsetOutOfRange"
UNKNOWN_PARTITION = "UnknownTopicOrPartition"
NOT_COORDINATOR = "NotCoordinator"
COORDINATOR_NOT_AVAILABLE = "CoordinatorNotAvailable"
ILLEGAL_GENERATION = "IllegalGeneration"
UNKNOWN_MEMBER = "UnknownMemberId"

#: produce errors after which the record is certainly not in the log
DEFINITE_PRODUCE_ERRORS = frozenset({NOT_ENOUGH_REPLICAS, OUT_OF_ORDER_SEQUENCE, UNKNOWN_PARTITION})

# --------------------------------------------------------------- controller -> broker


@dataclass(frozen=True, slots=True)
class PartitionState:
    """A partition's state as the controller wrote it to ZooKeeper (``zk_version`` is the
    znode version after that write). ``leader`` None: offline (no eligible replica)."""

    partition: int
    leader: str | None
    leader_epoch: int
    isr: tuple[str, ...]
    zk_version: int
    replicas: tuple[str, ...]
    #: the registration (broker epoch) of the leader when it was elected: a new controller
    #: tells a leader that restarted since (and must not lead this epoch again) by it
    leader_broker_epoch: int = -1
    #: (broker, broker epoch) of each ISR member when it joined (KIP-903): a member that
    #: restarted since is no longer in sync
    isr_epochs: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class LeaderAndIsr:
    """From the controller of ``controller_epoch``. ``broker_epoch`` is the receiver's
    registration as the controller knows it (KIP-380): a broker that registered again
    since (it restarted, or its session expired) ignores the request."""

    controller_epoch: int
    broker_epoch: int
    states: tuple[PartitionState, ...]


# --------------------------------------------------------------------- replication


@dataclass(frozen=True, slots=True)
class ReplicaFetch:
    """A follower asks for records from ``fetch_offset`` (its log end) in its
    ``leader_epoch`` (KIP-320: the leader fences a stale or unknown epoch)."""

    partition: int
    leader_epoch: int
    fetch_offset: int
    broker_epoch: int = -1  # the follower's registration (KIP-903)


@dataclass(frozen=True, slots=True)
class ReplicaFetchResponse:
    partition: int
    leader_epoch: int
    fetch_offset: int
    error: str | None = None
    records: tuple = ()
    high_watermark: int = 0


@dataclass(frozen=True, slots=True)
class EpochEndRequest:
    """OffsetsForLeaderEpoch: where does ``epoch`` end in your log? Sent in
    ``current_leader_epoch`` (fenced like a fetch)."""

    partition: int
    current_leader_epoch: int
    epoch: int


@dataclass(frozen=True, slots=True)
class EpochEndResponse:
    """``epoch`` is the largest epoch the leader knows that is <= the one asked (KIP-279),
    ``end_offset`` where it ends in the leader's log."""

    partition: int
    current_leader_epoch: int
    asked: int
    error: str | None = None
    epoch: int = -1
    end_offset: int = -1


# -------------------------------------------------------------------------- clients


@dataclass(frozen=True, slots=True)
class MetadataRequest:
    req_id: int


@dataclass(frozen=True, slots=True)
class MetadataResponse:
    """``leaders``: (partition, leader or None, leader_epoch) per partition this broker
    knows; ``controller`` doubles as the group coordinator."""

    req_id: int
    controller: str | None
    leaders: tuple[tuple[int, str | None, int], ...]


@dataclass(frozen=True, slots=True)
class ProduceRequest:
    """One record. ``producer_id`` -1: no idempotence. ``acks``: 0, 1 or "all"."""

    req_id: int
    partition: int
    key: str
    value: object
    producer_id: int
    sequence: int
    acks: object
    timeout: int


@dataclass(frozen=True, slots=True)
class ProduceResponse:
    """``offset`` >= 0 with an error: the record was appended there, but the leader can
    no longer tell whether it will be committed (e.g. it stopped leading)."""

    req_id: int
    partition: int
    error: str | None = None
    offset: int = -1


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """A consumer reads from ``offset``; ``leader_epoch`` is the epoch its metadata gave
    (-1: unknown), fenced as a follower's is (KIP-320)."""

    req_id: int
    partition: int
    offset: int
    leader_epoch: int
    max_records: int


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """Records ``(offset, leader_epoch, key, value, pid, seq)`` below the high watermark;
    ``log_end`` lets a final drain know when it has caught up."""

    req_id: int
    partition: int
    error: str | None = None
    records: tuple = ()
    high_watermark: int = 0
    log_end: int = 0


@dataclass(frozen=True, slots=True)
class GroupHeartbeat:
    """Join (``member`` "") or keep membership of ``group``; the answer carries the
    current generation and this member's partitions."""

    group: str
    member: str
    generation: int


@dataclass(frozen=True, slots=True)
class GroupHeartbeatResponse:
    group: str
    member: str
    error: str | None = None
    generation: int = -1
    assignment: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class LeaveGroup:
    group: str
    member: str


@dataclass(frozen=True, slots=True)
class OffsetCommit:
    """``generation`` -1 and ``member`` "": a manually assigned consumer (no fencing)."""

    req_id: int
    group: str
    member: str
    generation: int
    offsets: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class OffsetCommitResponse:
    req_id: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class OffsetFetch:
    req_id: int
    group: str
    partitions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OffsetFetchResponse:
    """``offsets``: (partition, committed offset, -1 for none)."""

    req_id: int
    error: str | None = None
    offsets: tuple[tuple[int, int], ...] = ()
