"""The controller: elected through ZooKeeper, it owns leader election for every partition.

Theory of operation
===================

Election of the controller (every broker, after registering ``/brokers/ids/<id>``):
create the ephemeral ``/controller``; whoever succeeds is controller, the others watch it
and try again when it is deleted (its holder's session ended). The new controller bumps
``/controller_epoch`` with a versioned setData; brokers ignore requests from a controller
with an epoch below the highest they have seen, so a deposed controller cannot steer them.

Work is a queue of jobs run one at a time (Kafka's ControllerEventManager), each a ZooKeeper
task (zk.py):

- ``startup``: bump the controller epoch; read the live brokers (with their broker
  epochs); read every partition's state (creating it with the first live replicas if
  absent); reconcile every partition; tell every broker.
- ``broker change`` (a watch on ``/brokers/ids``, and every few seconds as a safety net):
  re-read the live brokers, reconcile every partition, and send every partition's state to
  the brokers that are new or came back with a new broker epoch.

Reconciling a partition compares its state with the live registrations. Each state names
the broker epoch its leader was elected in and the broker epoch each ISR member joined in
(KIP-380, KIP-903): a broker that restarted, or whose session expired, comes back with a
new epoch and no longer counts as that leader or that ISR member -- it may have lost what
it had not flushed, and a new controller could not tell otherwise. So:

- leader live (same epoch) and every ISR member live: nothing to do;
- leader live, some ISR members not: drop them from the ISR (a new leader epoch);
- leader not live: elect the first replica in assignment order that is a live ISR member
  (Kafka's OfflinePartitionLeaderElectionStrategy); the new ISR is the live ISR members.
  None: if a broker of the last ISR is registered again (restarted), it leads alone, as
  Kafka keeps broker ids in the ISR ("last replica standing", KIP-966 territory: safe when
  every append is flushed before it counts); else, with unclean election enabled, the
  first live replica leads alone; else the partition goes offline (leader None, ISR kept).

Every change bumps the leader epoch, and every write of a partition's state is a setData
conditional on the znode version in the controller's cache; a BadVersion (the leader
changed the ISR meanwhile) makes the controller re-read the znode and decide again. After
a write the new state goes to every live broker (``LeaderAndIsr``, which also carries
client metadata), and the controller re-sends all states every
``controller_resend_interval``, as Kafka's controller channel retries; brokers act only on
a newer leader epoch.

Losing the ZooKeeper session ends the controller's term at once: it resigns (drops its
queue, stops re-sending) and competes again with a new session.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from harness.node import CancelTimer, Effect, Send, SetTimer, trace
from systems.kafka import bugs as B, messages as m, znodes as z
from systems.kafka.zk import Call, Sleep

RESEND_TIMER = "ctrl-resend"
#: re-read the live brokers every this many re-sends (2 s by default)
RECONCILE_EVERY = 4


def elect_leader(replicas: tuple[str, ...], isr: tuple[str, ...], live: set[str] | dict,
                 unclean: bool) -> tuple[str | None, tuple[str, ...], bool]:
    """(leader, new ISR, was it unclean) for an offline leader."""
    live_isr = [r for r in replicas if r in isr and r in live]
    if live_isr:
        return live_isr[0], tuple(sorted(r for r in isr if r in live)), False
    if unclean:
        live_replicas = [r for r in replicas if r in live]
        if live_replicas:
            return live_replicas[0], (live_replicas[0],), True
    return None, tuple(sorted(isr)), False


class Controller:
    def __init__(self, broker: Any) -> None:
        self.b = broker
        self.active = False
        self.gen = 0  # bumped on every change of term, so old jobs stop
        self.epoch = 0
        self.live: dict[str, int] = {}  # broker -> broker epoch
        self.states: dict[int, m.PartitionState] = {}
        self.jobs: deque[Callable[[], Any]] = deque()
        self.running = False
        self.resends = 0

    # --------------------------------------------------------------- term
    def start_term(self, now: int) -> list[Effect]:
        self.active = True
        self.gen += 1
        self.live = {}
        self.states = {}
        self.jobs.clear()
        self.running = False
        return self.enqueue(self._startup, now)

    def resign(self, why: str) -> list[Effect]:
        if not self.active:
            return []
        self.active = False
        self.gen += 1
        self.jobs.clear()
        self.running = False
        return [CancelTimer(RESEND_TIMER), trace("controller-resign", controller_epoch=self.epoch, why=why)]

    def _current(self, gen: int) -> bool:
        return self.active and self.gen == gen

    # ---------------------------------------------------------------- jobs
    def enqueue(self, job: Callable[[int], Any], now: int) -> list[Effect]:
        gen = self.gen
        self.jobs.append(lambda: job(gen))
        return self._run_next(now)

    def _run_next(self, now: int) -> list[Effect]:
        if self.running or not self.jobs or not self.active:
            return []
        self.running = True
        job = self.jobs.popleft()
        return self.b.spawn(self._wrap(job(), self.gen))

    def _wrap(self, task, gen: int):
        yield from task
        if self.gen == gen:
            self.running = False
            yield self._run_next(self.b.now)

    def on_broker_change(self, now: int) -> list[Effect]:
        if not self.active:
            return []
        return self.enqueue(self._broker_change, now)

    # ------------------------------------------------------------- startup
    def _startup(self, gen: int):
        b = self.b
        while self._current(gen):
            r = yield Call("getData", z.CONTROLLER_EPOCH, {"watch": False})
            if not self._current(gen):
                return
            if r.type == "ok":
                epoch = int(z.decode(r.value["data"]) or 0) + 1
                w = yield Call("setData", z.CONTROLLER_EPOCH,
                               {"data": z.encode(epoch), "version": r.value["stat"]["version"]})
            elif r.error == "NoNode":
                epoch = 1
                w = yield Call("create", z.CONTROLLER_EPOCH,
                               {"data": z.encode(epoch), "ephemeral": False, "sequential": False})
            else:
                yield Sleep(b.s["zk_retry_delay"])
                continue
            if w.type == "ok":
                self.epoch = epoch
                break
            if w.error in ("BadVersion", "NodeExists"):
                continue
            yield Sleep(b.s["zk_retry_delay"])
        if not self._current(gen):
            return
        b.max_controller_epoch = max(b.max_controller_epoch, self.epoch)
        yield [trace("controller", controller_epoch=self.epoch)]
        yield from self._read_brokers(gen)
        for p in sorted(b.assignment):
            yield from self._load_partition(p, gen)
        # Replicas on brokers that are not live now are offline (Kafka's
        # ReplicaStateMachine.startup): leaders among them are replaced, and they leave
        # the ISR, so a broker that died during the controller change and restarts with
        # a shorter log is not counted in sync.
        for p in sorted(b.assignment):
            yield from self._update(p, gen)
        if not self._current(gen):
            return
        yield self.send_all(self.b.now)

    def _read_brokers(self, gen: int):
        b = self.b
        while self._current(gen):
            r = yield Call("getChildren", z.BROKER_IDS, {"watch": True})
            if r.type != "ok":
                yield Sleep(b.s["zk_retry_delay"])
                continue
            live: dict[str, int] = {}
            for child in sorted(r.value):
                g = yield Call("getData", z.broker_path(child), {"watch": False})
                if g.type == "ok":
                    live[child] = int((z.decode(g.value["data"]) or {}).get("broker_epoch", -1))
            if self._current(gen):
                self.live = live
                yield [trace("live-brokers", brokers=sorted(live), controller_epoch=self.epoch)]
            return

    def _load_partition(self, p: int, gen: int):
        b = self.b
        replicas = b.assignment[p]
        path = z.partition_path(p)
        while self._current(gen):
            r = yield Call("getData", path, {"watch": False})
            if not self._current(gen):
                return
            if r.type == "ok":
                self.states[p] = z.decode_state(p, r.value["data"], r.value["stat"]["version"], replicas)
                return
            if r.error == "NoNode":
                live = [x for x in replicas if x in self.live]
                leader = live[0] if live else None
                isr = tuple(sorted(live)) if live else tuple(sorted(replicas))
                leader_broker_epoch = -1 if leader is None else self.live.get(leader, -1)
                st = m.PartitionState(p, leader, 0, isr, 0, replicas, leader_broker_epoch,
                                      tuple((x, self.live.get(x, -1)) for x in isr))
                c = yield Call("create", path, {"data": z.encode_state(st, self.epoch), "ephemeral": False,
                                                "sequential": False})
                if c.type == "ok":
                    self.states[p] = st
                    yield [trace("elect", partition=p, leader=leader, leader_epoch=0, isr=list(isr),
                                 unclean=False, controller_epoch=self.epoch, why="topic created")]
                    return
                if c.error == "NodeExists":
                    continue
            yield Sleep(b.s["zk_retry_delay"])

    # ------------------------------------------------------------ decisions
    def _leader_alive(self, st: m.PartitionState) -> bool:
        """The leader is registered, in the incarnation that was elected (a new controller
        cannot otherwise tell a leader that restarted, and lost its unflushed tail, from
        one that did not; leading the same epoch again would fork the log)."""
        return st.leader is not None and self.live.get(st.leader) == st.leader_broker_epoch

    def _member_alive(self, st: m.PartitionState, r: str) -> bool:
        """An ISR member is in sync only in the registration it joined with (KIP-903): one
        that restarted since may have lost what it had acknowledged."""
        e = dict(st.isr_epochs).get(r)
        return e is not None and self.live.get(r) == e

    def _unclean(self) -> bool:
        # bug: elect out-of-ISR replicas whatever the setting says
        return bool(self.b.s["unclean_leader_election_enable"]) or B.UNCLEAN_ELECTION in self.b.bugs

    def _reconcile(self, st: m.PartitionState) -> tuple[str | None, tuple[str, ...], bool, str] | None:
        """What the partition's state must become for the live brokers: ``(leader, ISR,
        unclean, why)``, or None if it is fine as it is."""
        alive_isr = tuple(r for r in st.isr if self._member_alive(st, r))
        if self._leader_alive(st):
            gone = [r for r in st.isr if r not in alive_isr]
            if not gone:
                return None
            return st.leader, alive_isr, False, f"replicas {gone} offline"
        why = f"leader {st.leader} offline" if st.leader is not None else "partition offline"
        leader, isr, unclean = elect_leader(st.replicas, alive_isr, self.live, self._unclean())
        if leader is None:
            # The last ISR members all restarted: Kafka keeps broker ids in the ISR, so one
            # of them may lead again, in a new epoch ("last replica standing", KIP-966).
            back = [r for r in st.replicas if r in st.isr and r in self.live]
            if back:
                leader, isr, why = back[0], (back[0],), f"{why}; {back[0]} of the last ISR is back"
        if leader is None and st.leader is None:
            return None  # still offline, nothing to write
        if leader is None:
            isr = st.isr  # kept, so that a returning member can lead again
        return leader, isr, unclean, why

    def _update(self, p: int, gen: int):
        """Reconcile the cached state, write it conditionally, re-read on conflict."""
        b = self.b
        path = z.partition_path(p)
        while self._current(gen):
            st = self.states.get(p)
            if st is None:
                yield from self._load_partition(p, gen)
                continue
            choice = self._reconcile(st)
            if choice is None:
                return
            leader, isr, unclean, why = choice
            old_epochs = dict(st.isr_epochs)
            isr_epochs = tuple((r, self.live[r] if r in self.live and leader is not None else old_epochs.get(r, -1))
                               for r in isr)
            new = m.PartitionState(p, leader, st.leader_epoch + 1, isr, st.zk_version, st.replicas,
                                   self.live.get(leader, -1) if leader is not None else -1, isr_epochs)
            version = st.zk_version
            if B.ZOMBIE_CONTROLLER in b.bugs:
                version = -1  # bug: write whatever the cache says, unconditionally
            w = yield Call("setData", path, {"data": z.encode_state(new, self.epoch), "version": version})
            if not self._current(gen):
                return
            if w.type == "ok":
                self.states[p] = replace(new, zk_version=w.value["version"])
                yield [trace("elect", partition=p, leader=leader, leader_epoch=new.leader_epoch, isr=list(isr),
                             unclean=unclean, controller_epoch=self.epoch, why=why)]
                yield self.send_partition(p, b.now)
                return
            if w.error == "BadVersion" or w.error == "NoNode":
                yield from self._load_partition(p, gen)
                continue
            yield Sleep(b.s["zk_retry_delay"])
            yield from self._load_partition(p, gen)

    # --------------------------------------------------------- broker change
    def _broker_change(self, gen: int):
        before = dict(self.live)
        yield from self._read_brokers(gen)
        if not self._current(gen):
            return
        # A broker that vanished or came back with a new broker epoch (a bounce, KIP-380)
        # no longer matches the registrations recorded in the partition states.
        born = sorted(x for x, e in self.live.items() if before.get(x) != e)
        for p in sorted(self.b.assignment):
            yield from self._update(p, gen)
        if born and self._current(gen):
            yield self.send_all(self.b.now, only=born)

    # ------------------------------------------------------------ messages
    def _request(self, broker: str) -> m.LeaderAndIsr | None:
        if broker not in self.live:
            return None
        states = tuple(self.states[p] for p in sorted(self.states))
        return m.LeaderAndIsr(self.epoch, self.live[broker], states)

    def send_all(self, now: int, only: list[str] | None = None) -> list[Effect]:
        if not self.active:
            return []
        effects: list[Effect] = []
        for broker in (only if only is not None else sorted(self.live)):
            req = self._request(broker)
            if req is not None:
                effects += self._deliver(broker, req, now)
        if only is None:
            effects.append(SetTimer(RESEND_TIMER, now + self.b.s["controller_resend_interval"]))
        return effects

    def send_partition(self, p: int, now: int) -> list[Effect]:
        effects: list[Effect] = []
        for broker in sorted(self.live):
            req = self._request(broker)
            if req is not None:
                effects += self._deliver(broker, m.LeaderAndIsr(req.controller_epoch, req.broker_epoch,
                                                                (self.states[p],)), now)
        return effects

    def _deliver(self, broker: str, req: m.LeaderAndIsr, now: int) -> list[Effect]:
        if broker == self.b.node_id:
            return self.b.on_leader_and_isr(broker, req, now)
        return [Send(broker, req)]

    def on_resend_timer(self, now: int) -> list[Effect]:
        if not self.active or not self.states:
            return []
        effects = self.send_all(now)
        # A safety net under the /brokers/ids watch: every few re-sends, re-read the live
        # brokers anyway, in case a watch was lost with a ZooKeeper server that restarted
        # (a client that re-registers its watches makes this a no-op).
        self.resends += 1
        if self.resends % RECONCILE_EVERY == 0 and not self.jobs and not self.running:
            effects += self.enqueue(self._broker_change, now)
        return effects
