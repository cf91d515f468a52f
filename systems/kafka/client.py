"""The Kafka client library as a node: one producer and one consumer per workload client.

Operations (``ClientRequest.f``; keys ``k<i>`` go to partition ``i mod partitions``):

- ``send`` (key, value): produce one record with the configured ``acks``; ``ok`` carries
  ``("offset", o)``. Retries within ``delivery_timeout`` on retriable errors (not leader,
  not enough replicas, timeouts), refreshing metadata as needed. Idempotent by default
  (KIP-98): a producer id drawn at start (standing for InitProducerId) and a sequence per
  partition, the same on every retry, so the leader drops duplicates. Outcome: ``fail``
  when no attempt can have been appended (every answer was a definite refusal), else
  ``info`` -- after which the producer starts over with a new producer id.
- ``poll``: fetch from every assigned partition's leader in parallel, from the consumer's
  position, for at most ``poll_timeout``; ``ok`` with ``{key: [[offset, value], ...]}``
  (records below the high watermark), and the position moves past what was returned.
  A partition with no position yet starts at the group's committed offset (or 0).
- ``commit``: commit the positions of the assigned partitions to the group coordinator;
  ``ok`` with ``{key: offset}``; ``info`` if the coordinator may have written it.
- ``assign`` (keys): consume exactly those partitions (no group membership).
- ``subscribe`` (keys): join the consumer group; the coordinator assigns partitions, and
  heartbeats bring each new generation's assignment.
- ``poll`` with value ``"drain"`` (the final drain): assign every partition, start from
  the group's committed offsets and read until caught up with each leader's log end
  (and the high watermark with it); ``ok`` with everything read, ``fail`` if not caught up
  within ``delivery_timeout`` (the harness retries until the recovery period ends).

A consumer keeps its own position for a partition it held before: re-acquired after a
rebalance, it goes on from there rather than jumping to the committed offset, so its polls
of a key never skip or go back without an ``assign``/``subscribe`` in the history. A
subscribed consumer's next ok poll after the coordinator gave or took partitions names
their keys in ``"rebalanced"`` (absent when none), as Jepsen's client logs the rebalance
callbacks that run inside ``poll()``.

A fetch answered OffsetOutOfRange (the position is past the leader's log end: the log was
cut below it, which only unclean election or a lost unflushed tail does) moves the position
to the leader's high watermark, Kafka's ``auto.offset.reset=latest``. Not so when the fetch
went to a leader of an older epoch than the newest any metadata answer gave (the client
keeps that per partition, as Kafka's ``lastSeenLeaderEpochs``): stale metadata sent it back
to a deposed leader whose shorter log says nothing about the partition's; the position
stays, and the client asks who leads.

Like Jepsen's client, after an ``info`` the node starts afresh (a crashed client is
reopened): new producer id, consumer without assignment, positions or membership.
"""

from __future__ import annotations

from typing import Any

from harness.node import CancelTimer, ClientRequest, ClientResponse, Effect, Node, OpType, Reply, Send, SetTimer
from harness.system import NodeContext
from systems.kafka import bugs as B, messages as m
from systems.kafka.log import NO_PRODUCER
from systems.kafka.settings import merged

GROUP = "g"
OP_TIMER = "op"
ATTEMPT_TIMER = "attempt"
META_TIMER = "meta"
HB_TIMER = "hb"
POLL_TIMER = "poll"

#: produce errors after which a retry cannot help
FATAL_PRODUCE = frozenset({m.OUT_OF_ORDER_SEQUENCE, m.UNKNOWN_PARTITION})


def partition_of(key: Any, partitions: int) -> int:
    k = str(key)
    digits = "".join(ch for ch in k if ch.isdigit())
    return int(digits) % partitions if digits else 0


class KafkaClient(Node):
    def __init__(self, ctx: NodeContext, brokers: tuple[str, ...]) -> None:
        self.node_id = ctx.node_id
        self.s = s = merged(ctx.settings)
        self.bugs = frozenset(ctx.bugs)
        self.rng = ctx.rng
        self.brokers = tuple(brokers)
        self.partitions = int(s["partitions"])
        self.acks = s["acks"]
        self.idempotent = bool(s["enable_idempotence"]) and B.NON_IDEMPOTENT_RETRY not in self.bugs
        self.req_id = 0
        self.now = 0
        # metadata
        self.leaders: dict[int, tuple[str | None, int]] = {}
        # the highest leader epoch any metadata answer gave per partition, kept when a leader
        # is forgotten after an error (Kafka's Metadata.lastSeenLeaderEpochs)
        self.leader_epochs: dict[int, int] = {}
        self.controller: str | None = None
        self.meta_req = 0  # the metadata request in flight (0: none, -1: waiting to ask)
        self.last_metadata = -(10**18)  # when the last metadata answer came
        # the operation in progress
        self.op: ClientRequest | None = None
        self.stage = ""
        self.waiting_meta = False
        # producer
        self.producer_id = NO_PRODUCER
        self.sequences: dict[int, int] = {}
        self.maybe_appended = False
        self.in_flight = False
        self.produce_req = 0
        # consumer
        self.mode: str | None = None  # None | "assign" | "subscribe"
        self.assigned: tuple[int, ...] = ()
        self.positions: dict[int, int] = {}
        self.member = ""
        self.generation = -1
        self.hb_req_out = False
        self.fetches: dict[int, tuple[int, int]] = {}  # req_id -> (partition, leader epoch), in flight
        self.polled: dict[int, list] = {}
        self.offset_req = 0
        self.commit_req = 0
        self.drain_caught_up: dict[int, bool] = {}
        self.drain_progress = False
        self.pending_assignment: tuple[int, ...] | None = None
        self.commit_value: dict = {}
        # partitions the group coordinator gave or took since the last ok poll: the next
        # ok poll reports their keys as "rebalanced" (Kafka applies a new assignment inside
        # poll(), where Jepsen's client logs it)
        self.rebalanced: set[int] = set()

    # ================================================================== helpers
    def _next_req(self) -> int:
        self.req_id += 1
        return self.req_id

    def _key(self, p: int) -> str:
        return f"k{p}"

    def _reset(self) -> list[Effect]:
        """A fresh client after an indeterminate outcome (Jepsen reopens its client)."""
        effects: list[Effect] = []
        if self.mode == "subscribe" and self.member and self.controller:
            effects.append(Send(self.controller, m.LeaveGroup(GROUP, self.member)))
        self._new_producer()
        self.mode, self.assigned, self.positions = None, (), {}
        self.member, self.generation = "", -1
        self.rebalanced = set()
        return effects + [CancelTimer(HB_TIMER)]

    def _new_producer(self) -> None:
        self.producer_id = self.rng.getrandbits(48) if self.idempotent else NO_PRODUCER
        self.sequences = {}

    # =================================================================== inputs
    def on_start(self, stored: dict[str, tuple], now: int) -> list[Effect]:
        self.now = now
        self._new_producer()
        return self._refresh_metadata(now)

    def on_client(self, request: ClientRequest, now: int) -> list[Effect]:
        self.now = now
        if self.op is not None:
            return [Reply(ClientResponse(request.op_id, "fail", None, "client busy"))]
        self.op = request
        f = request.f
        if f == "assign":
            return self._assign(request, now)
        if f == "subscribe":
            return self._subscribe(request, now)
        deadline = now + (self.s["commit_timeout"] if f == "commit" else self.s["delivery_timeout"])
        effects: list[Effect] = [SetTimer(OP_TIMER, deadline)]
        if f == "send":
            self.maybe_appended = self.in_flight = False
            self.stage = "send"
            return effects + self._produce(now)
        if f == "poll":
            if request.value == "drain":
                self.stage = "drain"
                self.mode, self.assigned = "assign", tuple(range(self.partitions))
                self.positions = {}
                self.drain_caught_up = {}
                self.polled = {}
                return effects + self._offsets(now, drain=True)
            self.stage = "poll"
            return effects + self._poll(now)
        if f == "commit":
            self.stage = "commit"
            return effects + self._commit(now)
        return self._finish("fail", error=f"unknown operation {f!r}")

    def on_timer(self, name: str, now: int) -> list[Effect]:
        self.now = now
        if name == META_TIMER:
            self.meta_req = 0
            return self._refresh_metadata(now)
        if name == HB_TIMER:
            return self._heartbeat(now)
        if self.op is None:
            return []
        if name == OP_TIMER:
            return self._give_up(now)
        if name == ATTEMPT_TIMER and self.stage == "send":
            self.maybe_appended |= self.in_flight  # the request went out; we cannot know
            self.in_flight = False
            # the leader said nothing: it may be gone, so ask who leads before retrying
            self.leaders.pop(partition_of(self.op.key, self.partitions), None)
            return self._need_metadata(now)
        if name == POLL_TIMER and self.stage in ("poll", "drain"):
            return self._poll_done(now)
        if name == ATTEMPT_TIMER and self.stage in ("offsets", "drain-offsets"):
            self.controller = None  # silent coordinator: ask who it is now
            return self._offsets(now, drain=self.stage == "drain-offsets")
        return []

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        self.now = now
        t = type(msg)
        if t is m.MetadataResponse:
            return self._on_metadata(msg, now)
        if t is m.GroupHeartbeatResponse:
            return self._on_heartbeat(msg, now)
        if self.op is None:
            return []
        if t is m.ProduceResponse:
            return self._on_produce(msg, now)
        if t is m.FetchResponse:
            return self._on_fetch(msg, now)
        if t is m.OffsetFetchResponse:
            return self._on_offsets(msg, now)
        if t is m.OffsetCommitResponse:
            return self._on_commit(msg, now)
        return []

    # ================================================================= metadata
    def _refresh_metadata(self, now: int) -> list[Effect]:
        if self.meta_req:
            return []
        wait = self.last_metadata + self.s["retry_backoff"]
        if now < wait:  # metadata.max.age / retry.backoff: not more often than this
            self.meta_req = -1
            return [SetTimer(META_TIMER, wait)]
        self.meta_req = self._next_req()
        broker = self.rng.choice(self.brokers)
        return [Send(broker, m.MetadataRequest(self.meta_req)),
                SetTimer(META_TIMER, now + self.s["retry_backoff"] * 4)]

    def _on_metadata(self, r: m.MetadataResponse, now: int) -> list[Effect]:
        if r.req_id != self.meta_req:
            return []
        self.meta_req = 0
        self.last_metadata = now
        if not r.leaders:
            return [SetTimer(META_TIMER, now + self.s["retry_backoff"])]  # that broker knows nothing yet
        for p, leader, epoch in r.leaders:
            self.leader_epochs[p] = max(epoch, self.leader_epochs.get(p, -1))
            known = self.leaders.get(p)
            if known is None or epoch >= known[1]:
                self.leaders[p] = (leader, epoch)
        if r.controller is not None:
            self.controller = r.controller
        effects: list[Effect] = [CancelTimer(META_TIMER)]
        if self.waiting_meta and self.op is not None:
            self.waiting_meta = False
            if self.stage == "send":
                effects += self._produce(now)
            elif self.stage in ("offsets", "drain-offsets"):
                effects += self._offsets(now, drain=self.stage == "drain-offsets")
            elif self.stage == "commit":
                effects += self._commit(now)
        return effects

    def _need_metadata(self, now: int) -> list[Effect]:
        self.waiting_meta = True
        return self._refresh_metadata(now)

    # =================================================================== produce
    def _produce(self, now: int) -> list[Effect]:
        op = self.op
        assert op is not None
        p = partition_of(op.key, self.partitions)
        leader = self.leaders.get(p, (None, -1))[0]
        if leader is None:
            return [CancelTimer(ATTEMPT_TIMER)] + self._need_metadata(now)
        self.produce_req = self._next_req()
        seq = self.sequences.get(p, 0)
        req = m.ProduceRequest(self.produce_req, p, str(op.key), op.value, self.producer_id, seq, self.acks,
                               self.s["request_timeout"] * 9 // 10)
        effects: list[Effect] = [Send(leader, req)]
        self.in_flight = True  # until a definite refusal comes back, it may be appended
        if self.acks == 0:
            self.sequences[p] = seq + 1
            return effects + self._finish("ok")
        return effects + [SetTimer(ATTEMPT_TIMER, now + self.s["request_timeout"])]

    def _on_produce(self, r: m.ProduceResponse, now: int) -> list[Effect]:
        if self.stage != "send" or r.req_id != self.produce_req or self.produce_req == 0:
            return []
        effects: list[Effect] = [CancelTimer(ATTEMPT_TIMER)]
        self.in_flight = False
        if r.error is None or r.error == m.DUPLICATE_SEQUENCE:
            self.sequences[r.partition] = self.sequences.get(r.partition, 0) + 1
            extra = (("offset", r.offset),) if r.error is None and r.offset >= 0 else ()
            return effects + self._finish("ok", extra=extra)
        if r.offset >= 0 or r.error not in m.DEFINITE_PRODUCE_ERRORS | {m.NOT_LEADER, m.FENCED_LEADER_EPOCH,
                                                                          m.UNKNOWN_LEADER_EPOCH}:
            self.maybe_appended = True  # appended, then timed out, or too few replicas, or deposed
        if r.error in FATAL_PRODUCE:
            return effects + self._finish("info" if self.maybe_appended else "fail", error=r.error)
        if r.error in (m.NOT_LEADER, m.FENCED_LEADER_EPOCH, m.UNKNOWN_LEADER_EPOCH):
            self.leaders.pop(r.partition, None)
            return effects + self._need_metadata(now)
        self.produce_req = 0
        return effects + [SetTimer(ATTEMPT_TIMER, now + self.s["retry_backoff"])]

    # ===================================================================== poll
    def _poll(self, now: int) -> list[Effect]:
        if self.mode is None or not self.assigned:
            return self._finish("ok", value={})
        missing = [p for p in self.assigned if p not in self.positions]
        if missing:
            return self._offsets(now, drain=False)
        return self._fetch_all(now)

    def _fetch_all(self, now: int) -> list[Effect]:
        self.fetches = {}
        self.drain_progress = False
        if self.stage != "drain":
            self.polled = {}
        effects: list[Effect] = []
        for p in self.assigned:
            if self.stage == "drain" and self.drain_caught_up.get(p):
                continue
            leader, epoch = self.leaders.get(p, (None, -1))
            if leader is None:
                continue
            rid = self._next_req()
            self.fetches[rid] = (p, epoch)
            effects.append(Send(leader, m.FetchRequest(rid, p, self.positions[p], epoch, self.s["max_poll_records"])))
        if not self.fetches and any(self.leaders.get(p, (None,))[0] is None for p in self.assigned):
            effects += self._refresh_metadata(now)
        return effects + [SetTimer(POLL_TIMER, now + self.s["poll_timeout"])]

    def _on_fetch(self, r: m.FetchResponse, now: int) -> list[Effect]:
        sent = self.fetches.pop(r.req_id, None)
        if sent is None or self.stage not in ("poll", "drain"):
            return []
        p, epoch = sent
        effects: list[Effect] = []
        if r.error is not None:
            if r.error in (m.NOT_LEADER, m.FENCED_LEADER_EPOCH, m.UNKNOWN_LEADER_EPOCH):
                self.leaders.pop(p, None)
                effects += self._refresh_metadata(now)
            elif r.error == m.OFFSET_OUT_OF_RANGE and epoch < self.leader_epochs.get(p, -1):
                # A deposed leader that does not know it yet (metadata from a broker that
                # had not heard of the election sent us back to it): its shorter log says
                # nothing about the partition's, so the position stays and we ask again.
                self.leaders.pop(p, None)
                effects += self._refresh_metadata(now)
            elif r.error == m.OFFSET_OUT_OF_RANGE:
                # The log was cut below our position: only a configuration with a weaker
                # promise does that (unclean election, a lost unflushed tail). Kafka's
                # auto.offset.reset=latest: go on from the leader's high watermark.
                self.positions[p] = r.high_watermark
                self.drain_progress = True
        else:
            recs = [rec for rec in r.records if rec[0] >= self.positions[p]]
            if recs and recs[0][0] == self.positions[p]:
                self.polled.setdefault(p, []).extend(recs)
                self.positions[p] = recs[-1][0] + 1
                self.drain_progress = True
            if self.stage == "drain" and self.positions[p] >= r.log_end and r.high_watermark >= r.log_end:
                self.drain_caught_up[p] = True
        if not self.fetches:
            if self.stage == "drain" and not all(self.drain_caught_up.get(q) for q in self.assigned):
                if self.drain_progress:  # more to read: go on at once
                    return effects + [CancelTimer(POLL_TIMER)] + self._fetch_all(now)
                return effects  # nothing came: the poll timer sends the next round
            return effects + self._poll_done(now)
        return effects

    def _poll_done(self, now: int) -> list[Effect]:
        if self.stage == "drain":
            if all(self.drain_caught_up.get(p) for p in self.assigned):
                return self._finish("ok", value=self._records(self.polled))
            return [CancelTimer(POLL_TIMER)] + self._fetch_all(now)
        value = self._records(self.polled)
        if B.COMMIT_BEFORE_PROCESS in self.bugs and self.polled:
            # bug: commit what was fetched before handing the records on (at-most-once)
            self.stage = "poll-commit"
            return [CancelTimer(POLL_TIMER)] + self._send_commit(now, value)
        return self._finish("ok", value=value)

    def _records(self, polled: dict[int, list]) -> dict:
        out: dict[str, list] = {self._key(p): [] for p in self.assigned}
        for p in sorted(polled):
            for rec in polled[p]:
                out.setdefault(str(rec[2]), []).append([rec[0], rec[3]])
        return out

    # ================================================================== offsets
    def _offsets(self, now: int, drain: bool) -> list[Effect]:
        self.stage = "drain-offsets" if drain else "offsets"
        if self.controller is None:
            return [CancelTimer(ATTEMPT_TIMER)] + self._need_metadata(now)
        self.offset_req = self._next_req()
        parts = tuple(p for p in self.assigned if drain or p not in self.positions)
        return [Send(self.controller, m.OffsetFetch(self.offset_req, GROUP, parts)),
                SetTimer(ATTEMPT_TIMER, now + self.s["request_timeout"])]

    def _on_offsets(self, r: m.OffsetFetchResponse, now: int) -> list[Effect]:
        if self.stage not in ("offsets", "drain-offsets") or r.req_id != self.offset_req or not r.req_id:
            return []
        drain = self.stage == "drain-offsets"
        effects: list[Effect] = [CancelTimer(ATTEMPT_TIMER)]
        if r.error is not None:
            self.controller = None
            return effects + self._need_metadata(now)
        for p, offset in r.offsets:
            if p not in self.positions:
                self.positions[p] = max(offset, 0)
        self.stage = "drain" if drain else "poll"
        return effects + self._fetch_all(now)

    # =================================================================== commit
    def _commit(self, now: int) -> list[Effect]:
        offsets = {self._key(p): self.positions[p] for p in self.assigned if p in self.positions}
        if self.mode is None or not offsets:
            return self._finish("ok", value={})
        return self._send_commit(now, offsets)

    def _send_commit(self, now: int, value: dict) -> list[Effect]:
        if self.controller is None:
            return self._need_metadata(now)
        self.commit_req = self._next_req()
        offs = tuple((p, self.positions[p]) for p in self.assigned if p in self.positions)
        self.commit_value = {self._key(p): o for p, o in offs} if self.stage == "commit" else value
        gen, member = (self.generation, self.member) if self.mode == "subscribe" else (-1, "")
        return [Send(self.controller, m.OffsetCommit(self.commit_req, GROUP, member, gen, offs))]

    def _on_commit(self, r: m.OffsetCommitResponse, now: int) -> list[Effect]:
        if self.stage not in ("commit", "poll-commit") or r.req_id != self.commit_req or not r.req_id:
            return []
        if r.error is None:
            return self._finish("ok", value=self.commit_value)
        if r.error == m.COORDINATOR_NOT_AVAILABLE:
            return self._finish("info", error=r.error)
        if r.error == m.NOT_COORDINATOR:
            self.controller = None
            effects = self._refresh_metadata(now)
        else:
            effects = []
            if r.error in (m.ILLEGAL_GENERATION, m.UNKNOWN_MEMBER) and self.mode == "subscribe":
                self.member, self.generation = "", -1
                effects += self._heartbeat(now)
        if self.stage == "poll-commit":
            return effects + self._finish("info", error=r.error)
        return effects + self._finish("fail", error=r.error)

    # ============================================================ assign, groups
    def _assign(self, req: ClientRequest, now: int) -> list[Effect]:
        effects: list[Effect] = []
        if self.mode == "subscribe" and self.member and self.controller:
            effects.append(Send(self.controller, m.LeaveGroup(GROUP, self.member)))
        self.mode = "assign"
        self.member, self.generation = "", -1
        self.rebalanced = set()  # the history's assign says what changed
        self.assigned = tuple(sorted({partition_of(k, self.partitions) for k in (req.value or ())}))
        return effects + [CancelTimer(HB_TIMER)] + self._finish("ok")

    def _subscribe(self, req: ClientRequest, now: int) -> list[Effect]:
        if self.mode != "subscribe":
            self.mode = "subscribe"
            self.assigned = ()
            self.member, self.generation = "", -1
            self.rebalanced = set()
        return self._heartbeat(now) + self._finish("ok")

    def _heartbeat(self, now: int) -> list[Effect]:
        if self.mode != "subscribe":
            return []
        effects: list[Effect] = [SetTimer(HB_TIMER, now + self.s["heartbeat_interval"])]
        if self.controller is None:
            return effects + self._refresh_metadata(now)
        return effects + [Send(self.controller, m.GroupHeartbeat(GROUP, self.member, self.generation))]

    def _on_heartbeat(self, r: m.GroupHeartbeatResponse, now: int) -> list[Effect]:
        if self.mode != "subscribe" or (self.member != "" and r.member != self.member):
            return []  # not in the group, or about an earlier membership
        if r.error == m.NOT_COORDINATOR:
            self.controller = None
            return self._refresh_metadata(now)
        if r.error == m.UNKNOWN_MEMBER:
            self.member, self.generation = "", -1
            return []
        if r.error is not None:
            return []
        self.member = r.member
        if r.generation != self.generation:
            self.generation = r.generation
            if self.op is None or self.stage not in ("poll", "offsets", "drain", "drain-offsets", "poll-commit"):
                self.rebalanced |= set(self.assigned) ^ set(r.assignment)
                self.assigned = tuple(sorted(r.assignment))
            else:
                self.pending_assignment = tuple(sorted(r.assignment))
        return []

    # ==================================================================== finish
    def _give_up(self, now: int) -> list[Effect]:
        if self.stage == "send":
            unknown = self.maybe_appended or self.in_flight
            return self._finish("info" if unknown else "fail", error="delivery timeout")
        if self.stage in ("drain", "drain-offsets"):
            return self._finish("fail", error="not caught up")
        if self.stage in ("poll", "offsets"):
            return self._finish("ok", value=self._records(self.polled)) if self.stage == "poll" else \
                self._finish("fail", error="no committed offsets")
        return self._finish("info", error="timeout")

    def _finish(self, type_: OpType, value: Any = None, error: str | None = None, extra: tuple = ()) -> list[Effect]:
        op = self.op
        assert op is not None
        self.op = None
        self.stage = ""
        self.waiting_meta = False
        self.fetches = {}
        # answers to this operation's requests that arrive later must match nothing
        self.produce_req = self.offset_req = self.commit_req = 0
        effects: list[Effect] = [CancelTimer(OP_TIMER), CancelTimer(ATTEMPT_TIMER), CancelTimer(POLL_TIMER)]
        if type_ == "ok" and op.f == "poll" and self.rebalanced:
            extra = extra + (("rebalanced", sorted(self._key(p) for p in self.rebalanced)),)
            self.rebalanced = set()
        pending = self.pending_assignment
        if pending is not None:
            if self.mode == "subscribe":
                self.rebalanced |= set(self.assigned) ^ set(pending)
            self.assigned = pending
            self.pending_assignment = None
        if type_ == "info":
            effects += self._reset()
        return effects + [Reply(ClientResponse(op.op_id, type_, value, error, None, extra))]
