"""A simplified group coordinator, hosted by the controller, with offsets kept in ZooKeeper.

Where it lives, and why. Kafka's coordinator for a group is the leader of the
``__consumer_offsets`` partition the group hashes to, and commits are records in that
compacted topic. Here the controller broker is every group's coordinator, and a committed
offset is the znode ``/consumer_offsets/<group>-<p>`` (as Kafka's consumers kept them in
ZooKeeper before 0.9): durable and replicated by ZooKeeper, so a coordinator failover
loses no commit. Clients find the coordinator in the metadata (the controller's id).

Membership (a condensed join/sync protocol): a consumer that subscribes sends
``GroupHeartbeat`` with no member id and gets one; every membership change (a join, a
``LeaveGroup``, a member silent past ``group_session_timeout``) starts a new generation
and a new assignment (range assignor over the members in id order). Members learn the
current generation and their partitions from each heartbeat answer. A new coordinator
starts with no members: heartbeats from the old generation get ``UnknownMemberId`` and
the consumers join again.

Commits carry the member's generation: one from an older generation (a zombie member) is
refused with ``IllegalGeneration`` (fencing). A manually assigned consumer commits with
generation -1 and no member id, unfenced, as Kafka's "simple" consumers may. A commit is
answered once every offset of it is written to ZooKeeper.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.node import CancelTimer, Effect, Send, SetTimer
from systems.kafka import messages as m, znodes as z
from systems.kafka.zk import Call, Sleep

EXPIRE_TIMER = "group-expire"


@dataclass
class Group:
    generation: int = 0
    members: dict[str, int] = field(default_factory=dict)  # member id -> last heard
    assignment: dict[str, tuple[int, ...]] = field(default_factory=dict)


def range_assign(members: list[str], partitions: int) -> dict[str, tuple[int, ...]]:
    """Kafka's range assignor for one topic: contiguous runs, the first members one more."""
    out: dict[str, tuple[int, ...]] = {}
    n = len(members)
    if n == 0:
        return out
    per, extra = divmod(partitions, n)
    start = 0
    for i, mem in enumerate(sorted(members)):
        k = per + (1 if i < extra else 0)
        out[mem] = tuple(range(start, start + k))
        start += k
    return out


class Coordinator:
    def __init__(self, broker: Any) -> None:
        self.b = broker
        self.groups: dict[str, Group] = {}
        self.next_member = 0

    @property
    def active(self) -> bool:
        return self.b.controller.active

    def start(self, now: int) -> list[Effect]:
        self.groups = {}
        return [SetTimer(EXPIRE_TIMER, now + self.b.s["group_session_timeout"] // 4)]

    def stop(self) -> list[Effect]:
        self.groups = {}
        return [CancelTimer(EXPIRE_TIMER)]

    def _rebalance(self, g: Group) -> None:
        g.generation += 1
        g.assignment = range_assign(list(g.members), self.b.partition_count)

    # -------------------------------------------------------------- messages
    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        if isinstance(msg, m.GroupHeartbeat):
            return self._heartbeat(src, msg, now)
        if isinstance(msg, m.LeaveGroup):
            g = self.groups.get(msg.group)
            if self.active and g is not None and msg.member in g.members:
                del g.members[msg.member]
                self._rebalance(g)
            return []
        if isinstance(msg, m.OffsetCommit):
            if not self.active:
                return [Send(src, m.OffsetCommitResponse(msg.req_id, m.NOT_COORDINATOR))]
            if msg.generation >= 0:
                g = self.groups.get(msg.group)
                if g is None or msg.member not in g.members:
                    return [Send(src, m.OffsetCommitResponse(msg.req_id, m.UNKNOWN_MEMBER))]
                if msg.generation != g.generation:
                    return [Send(src, m.OffsetCommitResponse(msg.req_id, m.ILLEGAL_GENERATION))]
            return self.b.spawn(self._commit(src, msg))
        if isinstance(msg, m.OffsetFetch):
            if not self.active:
                return [Send(src, m.OffsetFetchResponse(msg.req_id, m.NOT_COORDINATOR))]
            return self.b.spawn(self._fetch(src, msg))
        return []

    def _heartbeat(self, src: str, hb: m.GroupHeartbeat, now: int) -> list[Effect]:
        if not self.active:
            return [Send(src, m.GroupHeartbeatResponse(hb.group, hb.member, m.NOT_COORDINATOR))]
        g = self.groups.setdefault(hb.group, Group())
        member = hb.member
        if member == "":
            self.next_member += 1
            member = f"{src}-{self.b.controller.epoch}-{self.next_member}"
            g.members[member] = now
            self._rebalance(g)
        elif member not in g.members:
            return [Send(src, m.GroupHeartbeatResponse(hb.group, member, m.UNKNOWN_MEMBER))]
        g.members[member] = now
        return [Send(src, m.GroupHeartbeatResponse(hb.group, member, None, g.generation,
                                                   g.assignment.get(member, ())))]

    def on_expire_timer(self, now: int) -> list[Effect]:
        if not self.active:
            return []
        limit = self.b.s["group_session_timeout"]
        for g in self.groups.values():
            gone = [mem for mem, t in g.members.items() if now - t > limit]
            for mem in gone:
                del g.members[mem]
            if gone:
                self._rebalance(g)
        return [SetTimer(EXPIRE_TIMER, now + limit // 4)]

    # ------------------------------------------------------------------ tasks
    def _commit(self, src: str, req: m.OffsetCommit):
        for p, offset in req.offsets:
            path = z.offset_path(req.group, p)
            data = z.encode(offset)
            while True:
                r = yield Call("setData", path, {"data": data, "version": -1})
                if r.type == "ok":
                    break
                if r.error == "NoNode":
                    c = yield Call("create", path, {"data": data, "ephemeral": False, "sequential": False})
                    if c.type == "ok":
                        break
                    if c.error == "NodeExists":
                        continue
                    r = c
                if r.type == "fail" and r.error == "ConnectionLoss":
                    yield Sleep(self.b.s["zk_retry_delay"])
                    continue
                yield [Send(src, m.OffsetCommitResponse(req.req_id, m.COORDINATOR_NOT_AVAILABLE))]
                return
        yield [Send(src, m.OffsetCommitResponse(req.req_id, None))]

    def _fetch(self, src: str, req: m.OffsetFetch):
        out = []
        for p in req.partitions:
            r = yield Call("getData", z.offset_path(req.group, p), {"watch": False})
            if r.type == "ok":
                out.append((p, int(z.decode(r.value["data"]))))
            elif r.error == "NoNode":
                out.append((p, -1))
            else:
                yield [Send(src, m.OffsetFetchResponse(req.req_id, m.COORDINATOR_NOT_AVAILABLE))]
                return
        yield [Send(src, m.OffsetFetchResponse(req.req_id, None, tuple(out)))]
