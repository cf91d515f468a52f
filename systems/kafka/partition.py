"""One replica of one partition on one broker: the replication state machine.

Theory of operation
===================

Roles. The controller (controller.py) decides who leads each partition and in which leader
epoch, writes it to ZooKeeper and tells the replicas with ``LeaderAndIsr``. A replica acts
on a ``LeaderAndIsr`` only if its leader epoch is newer than the one it has: it becomes
leader (``become_leader``) or follower (``become_follower``); ``None`` as leader means the
partition is offline.

Leader::

    producer --ProduceRequest--> append (offset = log end, stamped with the leader epoch)
                                  acks=0: no answer; acks=1: answer once counted locally;
                                  acks=all: refuse up front if |ISR| < min.insync.replicas,
                                  else wait in the purgatory until HW > offset
    follower --ReplicaFetch(fetch_offset, epoch)--> fence the epoch (KIP-320); note the
                                  follower's log end = fetch_offset and when it was last
                                  caught up; maybe add it to the ISR; maybe advance the HW;
                                  answer with records and the HW (or park the fetch until
                                  data arrives, at most replica.fetch.wait.max)

High watermark (HW): the minimum log end over the ISR (the committed ISR plus any member
being added), the leader's own counted only once durable when every append is flushed.
It never moves back, and does not move while the ISR is smaller than min.insync.replicas
(KIP-966 part 1). Everything below the HW is committed: consumers read only below it.

ISR changes are the leader's, written to the partition znode with a setData conditional on
the znode version it knows, as Kafka did before KIP-497; each member is written with the
broker epoch it fetched with (KIP-903), so the controller can tell a member that restarted.
Shrink: a follower not caught up to the leader's log end for replica.lag.time.max (on the leader's *monotonic* clock) is
dropped. Expand: a follower rejoins once its log end reaches the HW *and* the start of the
leader's current epoch (KAFKA-7128). A failed conditional write means someone else (the
controller) changed the partition: re-read it; if this replica no longer leads in this
epoch there, it is *fenced*: no more appends and no high-watermark progress until the
controller's LeaderAndIsr arrives (its in-memory ISR may be stale, and a write of its own
whose answer was lost may have landed). While an ISR write's fate is unknown its target
counts in the maximal ISR, so the high watermark never runs ahead of it.

Follower::

    become_follower --> truncating: EpochEndRequest(latest epoch in my log)
                        leader answers (largest epoch it knows <= mine, where it ends)
                        I know that epoch: truncate to min(its end here, its end there);
                        I do not (KIP-279): truncate to the end of my largest epoch below
                        it, and ask again with my new latest epoch
                    --> fetching: ReplicaFetch(my log end, my epoch) ... append the
                        records, HW = min(leader's HW, my log end), fetch again (after the
                        appended records are durable when every append is flushed)

Only the answer to the latest fetch or epoch request, from the current leader in the
current epoch, is taken. A follower never truncates below what the leader has in the same
epoch, so committed records (below the HW, held by every ISR member) survive every
election of an ISR member.

Invariants (checked by checkers/replicas.py from the trace): one leader per leader epoch;
a leader's HW never moves back; once an offset is committed, no replica holds another
value there.

Planted bugs change one branch each, marked ``# bug:``; see bugs.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.node import CancelTimer, Effect, Send, SetTimer, trace
from systems.kafka import bugs as B, messages as m
from systems.kafka.log import NO_PRODUCER, OFFSET, ReplicaLog, value_digest
from systems.kafka.zk import Call, Sleep
from systems.kafka.znodes import decode_state, encode_state, partition_path

LEADER, FOLLOWER, NONE = "leader", "follower", "none"

#: records in one replica fetch answer at most (replica.fetch.max.bytes, in records)
FETCH_MAX_RECORDS = 200


class FollowerState:
    """What the leader knows of one follower (Kafka's Replica on the leader)."""

    __slots__ = ("leo", "caught_up", "last_fetch_time", "last_fetch_leader_end", "broker_epoch",
                 "caught_up_mono", "last_fetch_mono")

    def __init__(self, clock: int, now: int) -> None:
        self.leo = -1  # unknown until its first fetch in this epoch
        self.broker_epoch = -1
        # on the clock ISR lag is judged by (broker.clock), and on the monotonic clock,
        # which the trace reports so that a checker can see a shrink of a follower that
        # was in fact caught up
        self.caught_up = self.last_fetch_time = clock
        self.caught_up_mono = self.last_fetch_mono = now
        self.last_fetch_leader_end = -1


@dataclass(slots=True)
class _Waiting:
    """A produce request waiting in the purgatory."""

    offset: int
    need: str  # "local": counted in the leader's log; "hw": below the high watermark
    src: str
    req: m.ProduceRequest
    deadline: int


class Partition:
    def __init__(self, broker: Any, p: int, replicas: tuple[str, ...]) -> None:
        self.b = broker
        self.p = p
        self.me = broker.node_id
        self.replicas = replicas
        self.log = ReplicaLog(p, broker.flush_interval)
        self.role = NONE
        self.leader: str | None = None
        self.leader_epoch = -1
        self.isr: tuple[str, ...] = ()
        self.zk_version = -1
        self.leader_broker_epoch = -1
        self.isr_epochs: dict[str, int] = {}
        self.controller_epoch = 0
        self.hw = 0
        # leader side
        self.followers: dict[str, FollowerState] = {}
        self.pending_isr: tuple[str, ...] | None = None
        # ZooKeeper showed that the controller moved this partition on: stop acting as
        # leader (no high watermark progress, no appends) until LeaderAndIsr arrives
        self.fenced = False
        self.epoch_start = 0
        self.purgatory: list[_Waiting] = []
        self.parked: dict[str, tuple[m.ReplicaFetch, int]] = {}
        # follower side: idle | truncating | fetching | backoff | flushing
        self.fstate = "idle"
        self.fetch_timer = f"fetch.{p}"
        self.park_timer = f"park.{p}"
        self.purg_timer = f"purg.{p}"

    # ================================================================ recovery
    def recover(self, records: tuple, hw: int) -> list[Effect]:
        self.log.load(records)
        self.hw = min(hw, self.log.end)
        return [trace("recovered", partition=self.p, log_end=self.log.end, hw=self.hw,
                      epochs=[list(e) for e in self.log.epoch_starts])]

    # ============================================================ role changes
    def on_leader_and_isr(self, st: m.PartitionState, controller_epoch: int, now: int) -> list[Effect]:
        if st.leader_epoch <= self.leader_epoch:
            return []  # stale or already known (Kafka: "ignored, stale leader epoch")
        self.controller_epoch = controller_epoch
        if st.leader == self.me:
            return self.become_leader(st, now)
        return self.become_follower(st, now)

    def _leave_role(self, stay_leader: bool = False) -> list[Effect]:
        effects: list[Effect] = [CancelTimer(self.fetch_timer), CancelTimer(self.park_timer)]
        if not stay_leader:
            # The records are in the log and may yet be committed: the answer carries the
            # offset, which tells the producer the outcome is unknown (not a refusal).
            for w in self.purgatory:
                effects.append(Send(w.src, m.ProduceResponse(w.req.req_id, self.p, m.NOT_LEADER, w.offset)))
            self.purgatory = []
            effects.append(CancelTimer(self.purg_timer))
        for src, (f, _) in sorted(self.parked.items()):
            effects.append(Send(src, m.ReplicaFetchResponse(self.p, f.leader_epoch, f.fetch_offset, m.NOT_LEADER)))
        self.parked = {}
        self.followers = {}
        self.pending_isr = None
        self.fenced = False
        self.fstate = "idle"
        return effects

    def become_leader(self, st: m.PartitionState, now: int) -> list[Effect]:
        # Still the leader in a newer epoch (the controller dropped a dead follower): the
        # waiting produce requests stay, to be answered by this epoch's high watermark.
        stay = self.role == LEADER
        effects = self._leave_role(stay_leader=stay)
        self.role = LEADER
        self.leader = self.me
        self.leader_epoch = st.leader_epoch
        self.isr = tuple(sorted(st.isr))
        self.zk_version = st.zk_version
        self.leader_broker_epoch = st.leader_broker_epoch
        self.isr_epochs = dict(st.isr_epochs)
        self.replicas = st.replicas
        self.log.assign_epoch(st.leader_epoch)
        self.epoch_start = self.log.end
        if B.PRODUCER_STATE_LOST in self.b.bugs and not stay:
            self.log.producers = {}  # bug: a new leader starts with no producer state
        clock = self.b.clock(now)
        self.followers = {r: FollowerState(clock, now) for r in self.replicas if r != self.me}
        effects.append(trace("become-leader", partition=self.p, leader_epoch=self.leader_epoch,
                             isr=list(self.isr), log_end=self.log.end, hw=self.hw))
        return effects + self._advance_hw(now)

    def become_follower(self, st: m.PartitionState, now: int) -> list[Effect]:
        effects = self._leave_role()
        self.role = FOLLOWER if st.leader is not None else NONE
        self.leader = st.leader
        self.leader_epoch = st.leader_epoch
        self.isr = tuple(sorted(st.isr))
        self.zk_version = st.zk_version
        self.replicas = st.replicas
        effects.append(trace("become-follower", partition=self.p, leader=self.leader,
                             leader_epoch=self.leader_epoch, log_end=self.log.end, hw=self.hw))
        if self.role != FOLLOWER:
            return effects
        if B.HW_TRUNCATION in self.b.bugs:
            # bug: pre-KIP-101, truncate to the (possibly lagging) local high watermark
            effects += self._truncate(self.hw, "high watermark")
            return effects + self._send_fetch(now)
        if self.log.end == 0:
            return effects + self._send_fetch(now)
        if B.HW_DIVERGENCE in self.b.bugs and self.log.end <= self.hw:
            # bug: "my log ends at my high watermark, so all of it is committed": skip the
            # epoch check (KIP-101 scenario 2: equal high watermarks, different records)
            return effects + self._send_fetch(now)
        return effects + self._send_epoch_request(now)

    # ================================================================= leader
    def produce(self, src: str, req: m.ProduceRequest, now: int) -> list[Effect]:
        if self.role != LEADER or self.fenced:
            return [Send(src, m.ProduceResponse(req.req_id, self.p, m.NOT_LEADER))]
        bugs = self.b.bugs
        if req.acks == "all" and len(self.isr) < self.b.min_isr and B.IGNORE_MIN_ISR not in bugs:
            return [Send(src, m.ProduceResponse(req.req_id, self.p, m.NOT_ENOUGH_REPLICAS))]
        offset = None
        if req.producer_id != NO_PRODUCER:
            entry = self.log.producers.get(req.producer_id)
            if entry is not None:
                if req.sequence <= entry.last_seq:
                    offset = entry.offset_of(req.sequence)  # a retry: answer with the original
                    if offset is None:
                        return [Send(src, m.ProduceResponse(req.req_id, self.p, m.DUPLICATE_SEQUENCE))]
                elif req.sequence != entry.last_seq + 1:
                    return [Send(src, m.ProduceResponse(req.req_id, self.p, m.OUT_OF_ORDER_SEQUENCE))]
            # an unknown producer id starts with any sequence (its state may have expired)
        effects: list[Effect] = []
        if offset is None:
            offset = self.log.end
            rec = (offset, self.leader_epoch, req.key, req.value, req.producer_id, req.sequence)
            effects += self.log.append([rec])
            effects.append(trace("append", partition=self.p, offset=offset, leader_epoch=self.leader_epoch,
                                 value=value_digest(rec), role="leader", replica_epoch=self.leader_epoch))
            effects += self._wake_parked(now)
        if req.acks == 0:
            return effects
        need = "hw" if req.acks == "all" else "local"
        if B.ACKS_ALL_AS_ONE in bugs:
            need = "local"  # bug: acks=all answered once the leader alone has the record
        self.purgatory.append(_Waiting(offset, need, src, req, now + req.timeout))
        effects += self._complete_purgatory(now)
        if self.purgatory:
            effects.append(SetTimer(self.purg_timer, min(w.deadline for w in self.purgatory)))
        return effects

    def _complete_purgatory(self, now: int) -> list[Effect]:
        if not self.purgatory:
            return []
        effects: list[Effect] = []
        keep: list[_Waiting] = []
        counted = self.log.counted_end()
        for w in self.purgatory:
            if w.need == "local" and counted > w.offset:
                effects += self._ack(w, None)
            elif w.need == "hw" and self.hw > w.offset:
                short = len(self.isr) < self.b.min_isr and B.IGNORE_MIN_ISR not in self.b.bugs
                effects += self._ack(w, m.NOT_ENOUGH_REPLICAS_AFTER_APPEND if short else None)
            elif w.deadline <= now:
                effects.append(Send(w.src, m.ProduceResponse(w.req.req_id, self.p, m.REQUEST_TIMED_OUT)))
            else:
                keep.append(w)
        self.purgatory = keep
        return effects

    def _ack(self, w: _Waiting, error: str | None) -> list[Effect]:
        resp = m.ProduceResponse(w.req.req_id, self.p, error, w.offset)
        return [Send(w.src, resp), trace("ack", partition=self.p, offset=w.offset, leader_epoch=self.leader_epoch,
                                         hw=self.hw, error=error, acks=w.req.acks, isr_size=len(self.isr),
                                         min_isr=self.b.min_isr)]

    def replica_fetch(self, src: str, f: m.ReplicaFetch, now: int) -> list[Effect]:
        def answer(error: str) -> list[Effect]:
            return [Send(src, m.ReplicaFetchResponse(self.p, f.leader_epoch, f.fetch_offset, error))]

        if self.role != LEADER or self.fenced:
            return answer(m.NOT_LEADER)
        if f.leader_epoch != self.leader_epoch and B.NO_EPOCH_FENCING not in self.b.bugs:
            return answer(m.FENCED_LEADER_EPOCH if f.leader_epoch < self.leader_epoch else m.UNKNOWN_LEADER_EPOCH)
        st = self.followers.get(src)
        if st is None:
            return []
        fo = f.fetch_offset
        if fo > self.log.end or fo < 0:
            return answer(m.OFFSET_OUT_OF_RANGE)
        clock = self.b.clock(now)
        st.leo = fo
        st.broker_epoch = f.broker_epoch
        if fo >= self.log.end:  # Kafka's Replica.updateFetchState
            st.caught_up, st.caught_up_mono = max(st.caught_up, clock), now
        elif fo >= st.last_fetch_leader_end:
            st.caught_up, st.caught_up_mono = max(st.caught_up, st.last_fetch_time), st.last_fetch_mono
        st.last_fetch_time, st.last_fetch_mono = clock, now
        st.last_fetch_leader_end = self.log.end
        effects = self._maybe_expand_isr(src, st)
        effects += self._advance_hw(now)
        if fo < self.log.end:
            return effects + [self._fetch_answer(src, f)]
        # nothing new: park it (replica.fetch.wait.max.ms); a newer fetch replaces it
        deadline = now + self.b.s["replica_fetch_wait_max"]
        self.parked[src] = (f, deadline)
        return effects + [SetTimer(self.park_timer, min(d for _, d in self.parked.values()))]

    def _fetch_answer(self, src: str, f: m.ReplicaFetch) -> Send:
        recs = self.log.records_from(f.fetch_offset, self.b.s.get("replica_fetch_max_records", FETCH_MAX_RECORDS))
        return Send(src, m.ReplicaFetchResponse(self.p, self.leader_epoch, f.fetch_offset, None, recs, self.hw))

    def _wake_parked(self, now: int) -> list[Effect]:
        if not self.parked:
            return []
        effects: list[Effect] = [self._fetch_answer(src, f) for src, (f, _) in sorted(self.parked.items())]
        self.parked = {}
        return effects + [CancelTimer(self.park_timer)]

    def epoch_end_request(self, src: str, r: m.EpochEndRequest, now: int) -> list[Effect]:
        def answer(error: str | None, epoch: int = -1, end: int = -1) -> list[Effect]:
            return [Send(src, m.EpochEndResponse(self.p, r.current_leader_epoch, r.epoch, error, epoch, end))]

        if self.role != LEADER:
            return answer(m.NOT_LEADER)
        if r.current_leader_epoch != self.leader_epoch and B.NO_EPOCH_FENCING not in self.b.bugs:
            return answer(m.FENCED_LEADER_EPOCH if r.current_leader_epoch < self.leader_epoch
                          else m.UNKNOWN_LEADER_EPOCH)
        epoch, end = self.log.end_offset_for_epoch(r.epoch)
        return answer(None, epoch, end)

    def consumer_fetch(self, src: str, f: m.FetchRequest, now: int) -> list[Effect]:
        def answer(error: str | None, recs: tuple = ()) -> list[Effect]:
            return [Send(src, m.FetchResponse(f.req_id, self.p, error, recs, self.hw, self.log.end))]

        if self.role != LEADER:
            return answer(m.NOT_LEADER)
        if f.leader_epoch >= 0 and f.leader_epoch != self.leader_epoch and B.NO_EPOCH_FENCING not in self.b.bugs:
            return answer(m.FENCED_LEADER_EPOCH if f.leader_epoch < self.leader_epoch else m.UNKNOWN_LEADER_EPOCH)
        if f.offset < 0 or f.offset > self.log.end:
            return answer(m.OFFSET_OUT_OF_RANGE)
        return answer(None, self.log.records_from(f.offset, f.max_records, upto=self.hw))

    def _advance_hw(self, now: int) -> list[Effect]:
        if self.role != LEADER or self.fenced:
            return []
        members = set(self.isr)
        if self.pending_isr is not None:
            members |= set(self.pending_isr)
        members.add(self.me)
        if len(members) < self.b.min_isr and B.IGNORE_MIN_ISR not in self.b.bugs:
            return []  # KIP-966: no progress while under-replicated
        new = self.log.counted_end()
        for r in members:
            if r != self.me:
                st = self.followers.get(r)
                if st is None or st.leo < 0:
                    return []
                new = min(new, st.leo)
        if new <= self.hw:
            return self._complete_purgatory(now)
        old, self.hw = self.hw, new
        effects: list[Effect] = [trace("hw", partition=self.p, hw=new, leader_epoch=self.leader_epoch)]
        for o in range(old, new):
            rec = self.log.records[o]
            effects.append(trace("commit", partition=self.p, offset=o, value=value_digest(rec),
                                 leader_epoch=self.leader_epoch))
        return effects + self._complete_purgatory(now)

    # ------------------------------------------------------------------- ISR
    def _maybe_expand_isr(self, src: str, st: FollowerState) -> list[Effect]:
        if src in self.isr or self.pending_isr is not None or st.leo < self.hw:
            return []
        if st.leo < self.epoch_start and B.PREMATURE_ISR_JOIN not in self.b.bugs:
            return []  # KAFKA-7128: it must hold everything the leader had when elected
        if st.broker_epoch < 0:
            return []
        # the trace says which log end the follower joins with (checked against what
        # was committed: KAFKA-7128)
        return [trace("isr-expand", partition=self.p, follower=src, leo=st.leo, hw=self.hw,
                      epoch_start=self.epoch_start, leader_epoch=self.leader_epoch)] + \
            self._change_isr(tuple(sorted(set(self.isr) | {src})))

    def isr_check(self, now: int) -> list[Effect]:
        """Drop followers not caught up within replica.lag.time.max (Kafka's
        maybeShrinkIsr, run every half of it)."""
        if self.role != LEADER or self.pending_isr is not None or self.fenced:
            return []
        clock = self.b.clock(now)
        lag_max = self.b.s["replica_lag_time_max"]
        out = [r for r in self.isr if r != self.me
               and (r not in self.followers or clock - self.followers[r].caught_up > lag_max)]
        if not out:
            return []
        lags = {r: now - self.followers[r].caught_up_mono for r in out if r in self.followers}
        return self._change_isr(tuple(r for r in self.isr if r not in out), lags)

    def _change_isr(self, target: tuple[str, ...], lags: dict | None = None) -> list[Effect]:
        self.pending_isr = target
        return self.b.spawn(self._isr_task(target, self.leader_epoch, lags or {}))

    def _isr_task(self, target: tuple[str, ...], epoch: int, lags: dict):
        path = partition_path(self.p)

        def leading() -> bool:
            return self.role == LEADER and self.leader_epoch == epoch

        while leading():
            epochs = tuple((r, self.isr_epochs[r] if r in self.isr_epochs else self.followers[r].broker_epoch)
                           for r in target)
            state = m.PartitionState(self.p, self.me, epoch, target, self.zk_version, self.replicas,
                                     self.leader_broker_epoch, epochs)
            r = yield Call("setData", path, {"data": encode_state(state, self.controller_epoch),
                                             "version": self.zk_version})
            if not leading():
                break
            if r.type == "ok":
                self.zk_version = r.value["version"]
                self.isr_epochs = dict(epochs)
                yield self._set_isr(target, epoch, lags)
                break
            if r.error == "BadVersion":
                g = yield Call("getData", path, {"watch": False})
                if not leading():
                    break
                if g.type != "ok":
                    yield Sleep(self.b.s["zk_retry_delay"])
                    continue
                now_st = decode_state(self.p, g.value["data"], g.value["stat"]["version"], self.replicas)
                if now_st.leader != self.me or now_st.leader_epoch != epoch:
                    # The controller moved on (its LeaderAndIsr will tell us). Our ISR
                    # may be stale either way, and a write of ours may have landed:
                    # acting on it could commit what the new leader does not have.
                    self.fenced = True
                    yield [trace("fenced", partition=self.p, leader_epoch=epoch, zk_leader=now_st.leader,
                                 zk_leader_epoch=now_st.leader_epoch)]
                    break
                self.zk_version = now_st.zk_version
                if now_st.isr == target:
                    self.isr_epochs = dict(now_st.isr_epochs)
                    yield self._set_isr(target, epoch, lags)  # our earlier write had landed
                    break
                continue
            yield Sleep(self.b.s["zk_retry_delay"])
        # pending_isr stays set unless the write is known to have landed (``_set_isr``):
        # while its fate is unknown, the maximal ISR keeps the high watermark honest

    def _set_isr(self, target: tuple[str, ...], epoch: int, lags: dict) -> list[Effect]:
        old, self.isr = self.isr, target
        self.pending_isr = None
        # a shrink says how long each dropped follower had not been caught up, measured
        # on the monotonic clock, and the limit
        effects: list[Effect] = [trace("isr", partition=self.p, isr=list(target), old_isr=list(old),
                                       leader_epoch=epoch, zk_version=self.zk_version,
                                       lag_ns={r: lags[r] for r in sorted(lags)},
                                       lag_max_ns=self.b.s["replica_lag_time_max"])]
        return effects + self._advance_hw(self.b.now)

    # =============================================================== follower
    def _send_epoch_request(self, now: int) -> list[Effect]:
        self.fstate = "truncating"
        req = m.EpochEndRequest(self.p, self.leader_epoch, self.log.latest_epoch)
        assert self.leader is not None  # a follower knows its leader
        return [Send(self.leader, req), SetTimer(self.fetch_timer, now + self.b.s["replica_fetch_timeout"])]

    def _send_fetch(self, now: int) -> list[Effect]:
        self.fstate = "fetching"
        be = self.b.broker_epoch
        f = m.ReplicaFetch(self.p, self.leader_epoch, self.log.end, -1 if be is None else be)
        assert self.leader is not None  # a follower knows its leader
        return [Send(self.leader, f), SetTimer(self.fetch_timer, now + self.b.s["replica_fetch_timeout"])]

    def _from_leader(self, src: str, epoch: int) -> bool:
        return src == self.leader and epoch == self.leader_epoch

    def on_epoch_end_response(self, src: str, r: m.EpochEndResponse, now: int) -> list[Effect]:
        if (self.role != FOLLOWER or self.fstate != "truncating" or not self._from_leader(src, r.current_leader_epoch)
                or r.asked != self.log.latest_epoch):
            return []
        if r.error is not None:
            self.fstate = "backoff-truncating"
            return [SetTimer(self.fetch_timer, now + self.b.s["retry_backoff"])]
        end = self.log.end
        if r.epoch < 0 or r.end_offset < 0:
            target, done = min(self.hw, end), True
        elif B.EPOCH_ANSWER_UNKNOWN in self.b.bugs:
            # bug: pre-KIP-279, take the end offset whatever epoch it belongs to
            target, done = min(r.end_offset, end), True
        else:
            my_epoch, my_end = self.log.end_offset_for_epoch(r.epoch)
            if my_epoch != r.epoch:
                # I never saw the leader's epoch: cut back to the end of my largest epoch
                # below it and ask again (KIP-279)
                target, done = min(my_end, end), False
            else:
                target, done = min(my_end, r.end_offset, end), True
        effects = self._truncate(target, f"epoch {r.asked}: leader has epoch {r.epoch} ending at {r.end_offset}")
        if done or self.log.end == 0:
            return effects + self._send_fetch(now)
        return effects + self._send_epoch_request(now)

    def on_fetch_response(self, src: str, r: m.ReplicaFetchResponse, now: int) -> list[Effect]:
        if self.role != FOLLOWER or self.fstate != "fetching":
            return []
        if not self._from_leader(src, r.leader_epoch) and B.NO_EPOCH_FENCING not in self.b.bugs:
            return []
        if r.fetch_offset != self.log.end:
            return []  # the answer to an earlier fetch
        if r.error == m.OFFSET_OUT_OF_RANGE:
            return self._send_epoch_request(now)
        if r.error is not None:
            self.fstate = "backoff"
            return [SetTimer(self.fetch_timer, now + self.b.s["retry_backoff"])]
        effects: list[Effect] = []
        if r.records:
            recs = [tuple(x) for x in r.records]
            effects += self.log.append(recs)
            for rec in recs:
                effects.append(trace("append", partition=self.p, offset=rec[OFFSET], leader_epoch=rec[1],
                                     value=value_digest(rec), role="follower", replica_epoch=self.leader_epoch))
        self.hw = max(self.hw, min(r.high_watermark, self.log.end))
        if self.log.flush_interval == 0 and self.log.durable_end < self.log.end:
            self.fstate = "flushing"  # fetch again once the appended records are durable
            return effects + [CancelTimer(self.fetch_timer)]
        return effects + self._send_fetch(now)

    def _truncate(self, offset: int, why: str) -> list[Effect]:
        if offset >= self.log.end:
            return []
        old = self.log.end
        effects: list[Effect] = list(self.log.truncate(offset))
        self.hw = min(self.hw, offset)
        effects.append(trace("truncate", partition=self.p, from_end=old, to=offset, leader_epoch=self.leader_epoch,
                             why=why))
        return effects

    # ================================================================ inputs
    def on_log_persisted(self, now: int) -> list[Effect]:
        self.log.on_persisted()
        if self.role == LEADER:
            return self._advance_hw(now)
        if self.role == FOLLOWER and self.fstate == "flushing" and self.log.durable_end >= self.log.end:
            return self._send_fetch(now)
        return []

    def on_timer(self, kind: str, now: int) -> list[Effect]:
        if kind == "fetch":
            if self.role != FOLLOWER:
                return []
            if self.fstate in ("truncating", "backoff-truncating"):
                return self._send_epoch_request(now)
            if self.fstate in ("fetching", "backoff"):
                return self._send_fetch(now)
            return []
        if kind == "park":
            expired = sorted(src for src, (_, d) in self.parked.items() if d <= now)
            effects: list[Effect] = []
            for src in expired:
                f, _ = self.parked.pop(src)
                effects.append(self._fetch_answer(src, f))
            if self.parked:
                effects.append(SetTimer(self.park_timer, min(d for _, d in self.parked.values())))
            return effects
        if kind == "purg":
            effects = self._complete_purgatory(now)
            if self.purgatory:
                effects.append(SetTimer(self.purg_timer, min(w.deadline for w in self.purgatory)))
            return effects
        return []

    def flush(self) -> list[Effect]:
        return list(self.log.flush())

    def digest(self) -> dict:
        return {"role": self.role, "leader_epoch": self.leader_epoch, "hw": self.hw, "end": self.log.end,
                "epochs": [list(e) for e in self.log.epoch_starts],
                "below_hw": self.log.prefix_hash(self.hw), "log": self.log.prefix_hash(self.log.end)}
