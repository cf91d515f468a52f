"""A Kafka broker as a sans-IO node: replicas, a ZooKeeper session, maybe the controller.

Theory of operation
===================

A broker hosts one replica (``partition.Partition``) of each partition assigned to it
(round-robin, replication factor 3, see ``znodes.assignment``) and embeds a ZooKeeper
client (``zk.py``). Everything else is routing:

- ZooKeeper messages and ``zk.`` timers go to the embedded client; its answers resume the
  tasks (``task.`` timers are their sleeps); watch and session events come back here.
- Controller requests (``LeaderAndIsr``) are taken only from a controller epoch at least
  the highest seen, and only when they name this broker's current registration
  (``broker_epoch``); each partition state is kept as client metadata, and handed to the
  local replica, which acts on a newer leader epoch.
- Replication and client requests go to the replica of their partition; group requests to
  the coordinator, which serves only while this broker is the controller.

Life cycle. ``on_start`` reloads each replica's log and the high-watermark checkpoint
from disk, then registers ``/brokers/ids/<id>`` (ephemeral, with a fresh broker epoch;
while a previous incarnation's znode still exists the create fails and is retried until
ZooKeeper expires the old session) and competes for ``/controller``. A lost session
(``Expired``) ends any controller term at once and starts over with a new session:
re-register, compete again.

Periodic work: the ISR check every half ``replica_lag_time_max``; the high-watermark
checkpoint (file ``hw-checkpoint``, one record ``(partition, hw)`` each, replaced); with
a flush interval, the log flush.

Time: every duration is measured on ``now``, the monotonic clock. The one exception is the
planted ``kafka-wallclock-isr-lag`` bug, which reads the wall clock (``clock``).
"""

from __future__ import annotations

from typing import Any

from harness.node import Effect, Node, Persist, Send, SetTimer, trace
from harness.system import NodeContext
from systems.kafka import bugs as B, messages as m, znodes as z
from systems.kafka.controller import RESEND_TIMER, Controller
from systems.kafka.coordinator import EXPIRE_TIMER, Coordinator
from systems.kafka.log import log_file
from systems.kafka.partition import Partition
from systems.kafka.settings import merged
from systems.kafka.zk import TASK_TIMER_PREFIX, Call, Sleep, ZkTasks, make_zk_client

ISR_TIMER = "isr-check"
HW_TIMER = "hw-checkpoint"
FLUSH_TIMER = "flush"
HW_FILE = "hw-checkpoint"
ZK_TIMER_PREFIX = "zk."

#: how long to wait before creating the broker znode again while an old one is in the way
REGISTER_RETRY = 200_000_000


class Broker(Node):
    def __init__(self, ctx: NodeContext, zk_servers: tuple[str, ...], brokers: tuple[str, ...]) -> None:
        self.node_id = ctx.node_id
        self.s = s = merged(ctx.settings)
        self.bugs = frozenset(ctx.bugs)
        self.rng = ctx.rng
        self.brokers = tuple(brokers)
        self.flush_interval = int(s["flush_interval"])
        self.min_isr = int(s["min_insync_replicas"])
        self.partition_count = int(s["partitions"])
        self.assignment = z.assignment(self.partition_count, self.brokers, int(s["replication_factor"]))
        self.partitions = {p: Partition(self, p, reps) for p, reps in sorted(self.assignment.items())
                           if self.node_id in reps}
        self.metadata: dict[int, tuple[str | None, int]] = {}
        self.zk, self._is_zk_message = make_zk_client(ctx, zk_servers)
        self.tasks = ZkTasks(self.zk, self._on_zk_event)
        self.controller = Controller(self)
        self.coordinator = Coordinator(self)
        self.controller_id: str | None = None
        self.max_controller_epoch = 0
        self.broker_epoch: int | None = None
        self.registering = -1  # the session a registration task runs for (-1: none)
        self.electing = -1  # the session a controller-election task runs for
        self.session = 0  # bumped at every new ZooKeeper session
        self.now = 0
        self.wall_offset = 0
        self.last_checkpoint: tuple = ()

    # ================================================================= helpers
    def clock(self, now: int) -> int:
        """The clock ISR lag is judged by: monotonic, unless the wall-clock bug is on."""
        if B.WALLCLOCK_ISR_LAG in self.bugs:
            return now + self.wall_offset  # bug: Kafka's SystemTime.milliseconds
        return now

    def spawn(self, task) -> list[Effect]:
        return self.tasks.spawn(task, self.now)

    def is_controller(self) -> bool:
        return self.controller.active

    # ================================================================== inputs
    def on_start(self, stored: dict[str, tuple], now: int) -> list[Effect]:
        self.now = now
        hws = {int(p): int(hw) for p, hw in stored.get(HW_FILE, ())}
        effects: list[Effect] = []
        for p, part in self.partitions.items():
            effects += part.recover(stored.get(log_file(p), ()), hws.get(p, 0))
        effects += self.tasks.route(self.zk.on_start({}, now), now)
        effects += self.spawn(self._register())
        effects.append(SetTimer(ISR_TIMER, now + self.s["replica_lag_time_max"] // 2))
        effects.append(SetTimer(HW_TIMER, now + self.s["hw_checkpoint_interval"]))
        if self.flush_interval > 0:
            effects.append(SetTimer(FLUSH_TIMER, now + self.flush_interval))
        return effects

    def on_wallclock(self, wall_offset: int, now: int) -> list[Effect]:
        self.wall_offset = wall_offset
        return []

    def on_persisted(self, token: Any, now: int) -> list[Effect]:
        self.now = now
        if type(token) is tuple and token and token[0] == "log":
            part = self.partitions.get(token[1])
            if part is not None:
                return part.on_log_persisted(now)
        return []

    def on_timer(self, name: str, now: int) -> list[Effect]:
        self.now = now
        if name.startswith(ZK_TIMER_PREFIX):
            return self.tasks.route(self.zk.on_timer(name, now), now)
        if name.startswith(TASK_TIMER_PREFIX):
            return self.tasks.on_timer(name, now)
        kind, _, p = name.partition(".")
        if p:
            part = self.partitions.get(int(p))
            return part.on_timer(kind, now) if part is not None else []
        if name == ISR_TIMER:
            effects: list[Effect] = [SetTimer(ISR_TIMER, now + self.s["replica_lag_time_max"] // 2)]
            for part in self.partitions.values():
                effects += part.isr_check(now)
            # a safety net under the /controller watch (see Controller.on_resend_timer)
            return effects + self._watch_controller()
        if name == HW_TIMER:
            effects = [SetTimer(HW_TIMER, now + self.s["hw_checkpoint_interval"])]
            ckpt = tuple((p, part.hw) for p, part in self.partitions.items())
            if ckpt != self.last_checkpoint:
                self.last_checkpoint = ckpt
                effects.append(Persist(HW_FILE, ckpt, None, mode="replace"))
            return effects
        if name == FLUSH_TIMER:
            effects = [SetTimer(FLUSH_TIMER, now + self.flush_interval)]
            for part in self.partitions.values():
                effects += part.flush()
            return effects
        if name == RESEND_TIMER:
            return self.controller.on_resend_timer(now)
        if name == EXPIRE_TIMER:
            return self.coordinator.on_expire_timer(now)
        return []

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        self.now = now
        if self._is_zk_message(msg):
            return self.tasks.route(self.zk.on_message(src, msg, now), now)
        t = type(msg)
        if t is m.ReplicaFetch:
            part = self.partitions.get(msg.partition)
            if part is None:
                return [Send(src, m.ReplicaFetchResponse(msg.partition, msg.leader_epoch, msg.fetch_offset,
                                                         m.NOT_LEADER))]
            return part.replica_fetch(src, msg, now)
        if t is m.ReplicaFetchResponse:
            part = self.partitions.get(msg.partition)
            return part.on_fetch_response(src, msg, now) if part is not None else []
        if t is m.ProduceRequest:
            part = self.partitions.get(msg.partition)
            if part is None:
                err = m.NOT_LEADER if msg.partition in self.assignment else m.UNKNOWN_PARTITION
                return [Send(src, m.ProduceResponse(msg.req_id, msg.partition, err))]
            return part.produce(src, msg, now)
        if t is m.FetchRequest:
            part = self.partitions.get(msg.partition)
            if part is None:
                return [Send(src, m.FetchResponse(msg.req_id, msg.partition, m.NOT_LEADER))]
            return part.consumer_fetch(src, msg, now)
        if t is m.LeaderAndIsr:
            return self.on_leader_and_isr(src, msg, now)
        if t is m.EpochEndRequest:
            part = self.partitions.get(msg.partition)
            if part is None:
                return [Send(src, m.EpochEndResponse(msg.partition, msg.current_leader_epoch, msg.epoch, m.NOT_LEADER))]
            return part.epoch_end_request(src, msg, now)
        if t is m.EpochEndResponse:
            part = self.partitions.get(msg.partition)
            return part.on_epoch_end_response(src, msg, now) if part is not None else []
        if t is m.MetadataRequest:
            leaders = tuple((p, ld, e) for p, (ld, e) in sorted(self.metadata.items()))
            return [Send(src, m.MetadataResponse(msg.req_id, self.controller_id, leaders))]
        if t in (m.GroupHeartbeat, m.LeaveGroup, m.OffsetCommit, m.OffsetFetch):
            return self.coordinator.on_message(src, msg, now)
        return []

    # ================================================================ controller
    def on_leader_and_isr(self, src: str, req: m.LeaderAndIsr, now: int) -> list[Effect]:
        if req.controller_epoch < self.max_controller_epoch:
            return []  # from a deposed controller
        if self.broker_epoch is None or req.broker_epoch != self.broker_epoch:
            return []  # meant for an earlier registration of this broker (KIP-380)
        self.max_controller_epoch = req.controller_epoch
        self.controller_id = src
        effects: list[Effect] = []
        for st in req.states:
            known = self.metadata.get(st.partition)
            if known is None or st.leader_epoch >= known[1]:
                self.metadata[st.partition] = (st.leader, st.leader_epoch)
            part = self.partitions.get(st.partition)
            if part is None:
                continue
            if st.leader == self.node_id and st.leader_broker_epoch != self.broker_epoch:
                continue  # elected in an earlier registration of ours: never lead that epoch again
            effects += part.on_leader_and_isr(st, req.controller_epoch, now)
        return effects

    # ================================================================= ZooKeeper
    def _on_zk_event(self, ev: dict, now: int) -> list[Effect]:
        self.now = now
        kind, path = ev.get("type"), ev.get("path")
        if kind == "Expired":
            return self._session_expired(now)
        if path == z.CONTROLLER:
            return self._watch_controller()
        if path == z.BROKER_IDS and kind == "NodeChildrenChanged":
            return self.controller.on_broker_change(now)
        return []

    def _session_expired(self, now: int) -> list[Effect]:
        self.session += 1
        self.broker_epoch = None
        effects: list[Effect] = [trace("zk-session-expired")]
        if B.ZOMBIE_CONTROLLER in self.bugs and self.controller.active:
            # bug: keep acting as controller on the new session (KAFKA-6082): no resignation
            effects += self.spawn(self._reopen_and_register(zombie=True))
            return effects
        effects += self.controller.resign("ZooKeeper session expired") + self.coordinator.stop()
        return effects + self.spawn(self._reopen_and_register())

    def _reopen_and_register(self, zombie: bool = False):
        yield Call("reopen", "/", {})
        yield self.spawn(self._register())
        if zombie and self.controller.active:
            yield self.controller.on_broker_change(self.now)

    def _register(self):
        """Create the persistent parents, then this broker's ephemeral znode."""
        if self.registering == self.session:
            return
        self.registering = session = self.session
        for parent in z.PARENTS:
            while self.session == session:
                r = yield Call("create", parent, {"data": None, "ephemeral": False, "sequential": False})
                if r.type == "ok" or r.error == "NodeExists":
                    break
                if r.error == "SessionExpired":
                    return
                yield Sleep(self.s["zk_retry_delay"])
        epoch = self.rng.getrandbits(31)
        path = z.broker_path(self.node_id)
        while self.session == session:
            r = yield Call("create", path, {"data": z.encode({"broker_epoch": epoch}), "ephemeral": True,
                                            "sequential": False})
            if self.session != session:
                return
            if r.type == "ok":
                break
            if r.error == "SessionExpired":
                return
            if r.error == "NodeExists" or r.type == "info":
                g = yield Call("getData", path, {"watch": False})
                if g.type == "ok" and (z.decode(g.value["data"]) or {}).get("broker_epoch") == epoch:
                    break  # an earlier attempt of ours had landed
                yield Sleep(REGISTER_RETRY)  # an older incarnation's znode, until its session expires
                continue
            yield Sleep(self.s["zk_retry_delay"])
        if self.session != session:
            return
        self.broker_epoch = epoch
        self.registering = -1
        yield [trace("registered", broker_epoch=epoch)]
        yield self._watch_controller()

    def _watch_controller(self) -> list[Effect]:
        if self.electing == self.session or self.broker_epoch is None:
            return []
        return self.spawn(self._elect_controller())

    def _elect_controller(self):
        """Read ``/controller`` with a watch; if nobody holds it, try to take it."""
        self.electing = session = self.session
        while self.session == session:
            r = yield Call("getData", z.CONTROLLER, {"watch": True})
            if self.session != session:
                return
            if r.type == "ok":
                holder = (z.decode(r.value["data"]) or {}).get("broker")
                self.controller_id = holder
                self.electing = -1
                if holder == self.node_id and not self.controller.active:
                    # our create answered ConnectionLoss, yet it had landed
                    yield self.controller.start_term(self.now) + self.coordinator.start(self.now)
                elif holder != self.node_id and self.controller.active:
                    yield self.controller.resign(f"/controller is held by {holder}") + self.coordinator.stop()
                return
            if r.error != "NoNode":
                yield Sleep(self.s["zk_retry_delay"])
                continue
            c = yield Call("create", z.CONTROLLER, {"data": z.encode({"broker": self.node_id}), "ephemeral": True,
                                                   "sequential": False})
            if self.session != session:
                return
            if c.type == "ok":
                self.controller_id = self.node_id
                yield self.controller.start_term(self.now) + self.coordinator.start(self.now)
                continue  # read it back, with a watch
            if c.type == "info" or c.error == "NodeExists":
                continue  # the read tells who holds it
            yield Sleep(self.s["zk_retry_delay"])
        if self.electing == session:
            self.electing = -1

    # ================================================================== digest
    def state_digest(self) -> Any:
        return {str(p): part.digest() for p, part in self.partitions.items()}
