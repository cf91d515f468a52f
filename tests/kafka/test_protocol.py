"""Direct protocol tests: brokers, controller and client on the tiny driver (tests/directsim.py),
with the fake ZooKeeper; no harness scheduler."""

from __future__ import annotations

from typing import Any

import pytest
from directsim import MS, SECOND, KafkaSim

from harness.node import Node, Send
from systems.kafka import messages as m
from systems.kafka.bugs import PRODUCER_STATE_LOST, WALLCLOCK_ISR_LAG


class Probe(Node):
    """Stands in for a client node: records every message it gets."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.got: list[Any] = []

    def on_message(self, src: str, msg: Any, now: int) -> list:
        self.got.append(msg)
        return []


def cluster(**kw: Any) -> KafkaSim:
    sim = KafkaSim(**kw).start()
    sim.settle()
    return sim


def followers(sim: KafkaSim, p: int = 0) -> list[str]:
    lead = sim.leader_of(p)
    return [r for r in sim.replica(lead, p).replicas if r != lead]


def test_acks_all_send_is_replicated_and_committed():
    sim = cluster()
    r = sim.do("c1", "send", "k0", 41)
    assert r.type == "ok" and dict(r.extra)["offset"] == 0
    sim.run_for(200 * MS)
    lead = sim.leader_of()
    for b in sim.replica(lead).replicas:
        assert sim.replica(b).log.records[0][3] == 41
    assert sim.replica(lead).hw == 1
    assert [e.fields["value"] for e in sim.events("commit")] == ["0:k0:41"]


def test_isr_shrinks_for_a_cut_off_follower_and_expands_after_healing():
    sim = cluster()
    lead = sim.leader_of()
    f = followers(sim)[0]
    sim.cut_link(lead, f)
    r = sim.do("c1", "send", "k0", 1)  # waits for the shrink, then commits on two
    assert r.type == "ok"
    shrink = sim.events("isr", node=lead)[-1].fields
    assert f not in shrink["isr"] and shrink["lag_ns"][f] > shrink["lag_max_ns"]
    sim.heal()
    sim.run_until(lambda: f in sim.replica(lead).isr, 5 * SECOND, "the ISR expansion")
    assert sim.replica(f).log.end == 1


def test_min_insync_replicas_refuses_acks_all_with_the_leader_alone():
    sim = cluster()
    lead = sim.leader_of()
    for f in followers(sim):
        sim.cut_link(lead, f)
    sim.run_until(lambda: sim.replica(lead).isr == (lead,), 5 * SECOND, "the ISR shrink to the leader")
    r = sim.do("c1", "send", "k0", 7)
    assert r.type == "fail" and r.error == "delivery timeout"
    assert sim.replica(lead).hw == 0  # KIP-966: no progress while under-replicated


def test_committed_records_survive_leader_failover():
    sim = cluster(n_clients=2)
    for v in range(1, 6):
        assert sim.do("c1", "send", "k0", v).type == "ok"
    old = sim.leader_of()
    old_epoch = sim.replica(old).leader_epoch
    sim.crash(old)
    sim.run_until(lambda: sim.leader_of() not in (None, old), 10 * SECOND, "a new leader")
    new = sim.leader_of()
    assert sim.replica(new).leader_epoch > old_epoch
    assert sim.do("c1", "send", "k0", 6).type == "ok"
    assert sim.do("c2", "assign", None, ["k0"]).type == "ok"
    drained = sim.do("c2", "poll", None, "drain")
    assert drained.type == "ok"
    assert [v for _, v in drained.value["k0"]] == [1, 2, 3, 4, 5, 6]


def test_a_returning_leader_truncates_its_uncommitted_suffix_by_leader_epoch():
    sim = cluster(n_clients=2)
    old = sim.leader_of()
    for f in followers(sim):
        sim.cut_link(old, f)
    op = sim.op("c1", "send", "k0", 99)  # appended on the old leader alone
    sim.run_until(lambda: sim.replica(old).log.durable_end == 1, SECOND, "the append, durable")
    assert op not in sim.replies
    sim.crash(old)
    sim.heal()
    sim.run_until(lambda: sim.leader_of() not in (None, old), 10 * SECOND, "a new leader")
    assert sim.do("c2", "send", "k0", 100).type == "ok"
    sim.restart(old)
    sim.run_until(lambda: sim.nodes[old].partitions[0].role == "follower"
                  and sim.replica(old).log.end == sim.replica(sim.leader_of()).log.end
                  and sim.replica(old).log.prefix_hash(sim.replica(old).log.end)
                  == sim.replica(sim.leader_of()).log.prefix_hash(sim.replica(old).log.end),
                  10 * SECOND, "the old leader to converge")
    cut = [e for e in sim.events("truncate", node=old)]
    assert cut and cut[0].fields["to"] == 0


def test_epoch_truncation_asks_again_for_an_epoch_the_leader_never_had():
    """KIP-279: the follower truncates to the end of its largest epoch below the leader's
    answer, then asks again, ending at the leader's end of the common epoch."""
    sim = cluster()
    f = followers(sim)[0]
    part = sim.replica(f)
    part.log.truncate(0)
    part.log.append([(o, 1, "k0", o, -1, 0) for o in range(5)] + [(o, 3, "k0", 100 + o, -1, 0) for o in range(5, 8)])
    part.role, part.fstate, part.leader, part.leader_epoch = "follower", "truncating", "bX", 9
    effects = part.on_epoch_end_response("bX", m.EpochEndResponse(0, 9, 3, None, 2, 9), sim.clock(f))
    assert part.log.end == 5 and part.fstate == "truncating"  # cut to the end of epoch 1, ask again
    asked = [e.msg for e in effects if isinstance(e, Send)]
    assert asked == [m.EpochEndRequest(0, 9, 1)]
    part.on_epoch_end_response("bX", m.EpochEndResponse(0, 9, 1, None, 1, 4), sim.clock(f))
    assert part.log.end == 4 and part.fstate == "fetching"


def test_the_leader_deduplicates_a_retried_idempotent_send():
    sim = cluster()
    lead = sim.leader_of()
    probe = sim.nodes["c1"] = Probe("c1")
    req = m.ProduceRequest(1, 0, "k0", 5, producer_id=42, sequence=0, acks="all", timeout=SECOND)
    sim._apply("c1", [Send(lead, req), Send(lead, m.ProduceRequest(2, 0, "k0", 5, 42, 0, "all", SECOND))])
    sim.run_for(300 * MS)
    answers = sorted((r.req_id, r.error, r.offset) for r in probe.got if isinstance(r, m.ProduceResponse))
    assert answers == [(1, None, 0), (2, None, 0)]
    assert sim.replica(lead).log.end == 1
    gap = m.ProduceRequest(3, 0, "k0", 6, 42, 5, "all", SECOND)
    sim._apply("c1", [Send(lead, gap)])
    sim.run_for(50 * MS)
    assert probe.got[-1].error == m.OUT_OF_ORDER_SEQUENCE


@pytest.mark.parametrize("bugs,duplicated", [((), False), ((PRODUCER_STATE_LOST,), True)])
def test_a_new_leader_rebuilds_producer_state_from_its_log(bugs, duplicated):
    sim = cluster(bugs=frozenset(bugs))
    old = sim.leader_of()
    probe = sim.nodes["c1"] = Probe("c1")
    sim._apply("c1", [Send(old, m.ProduceRequest(1, 0, "k0", 5, 42, 0, "all", SECOND))])
    sim.run_for(200 * MS)
    assert probe.got[-1].error is None
    sim.crash(old)
    sim.run_until(lambda: sim.leader_of() not in (None, old), 10 * SECOND, "a new leader")
    new = sim.leader_of()
    sim._apply("c1", [Send(new, m.ProduceRequest(2, 0, "k0", 5, 42, 0, "all", SECOND))])
    sim.run_until(lambda: probe.got[-1].req_id == 2, 5 * SECOND, "the retry's answer")
    assert (sim.replica(new).log.end == 2) == duplicated
    assert (probe.got[-1].offset == 0) != duplicated


def test_controller_failover_bumps_the_controller_epoch():
    sim = cluster()
    first = sim.controller()
    epoch = sim.nodes[first].controller.epoch
    sim.crash(first)
    sim.run_until(lambda: sim.controller() not in (None, first) and sim.nodes[sim.controller()].controller.epoch,
                  10 * SECOND, "a new controller")
    second = sim.controller()
    assert sim.nodes[second].controller.epoch == epoch + 1
    # brokers now ignore the deposed controller's requests
    b = next(x for x in sim.live_brokers() if x != second)
    sim.run_until(lambda: sim.nodes[b].max_controller_epoch == epoch + 1, SECOND, "the new controller's request")
    stale = m.LeaderAndIsr(epoch, sim.nodes[b].broker_epoch, ())
    assert sim.nodes[b].on_leader_and_isr(first, stale, sim.clock(b)) == []


@pytest.mark.parametrize("bugs,shrinks", [((), False), ((WALLCLOCK_ISR_LAG,), True)])
def test_a_wall_clock_jump_on_the_leader_shrinks_the_isr_only_with_the_wall_clock_bug(bugs, shrinks):
    sim = cluster(bugs=frozenset(bugs))
    lead = sim.leader_of()
    before = len(sim.events("isr"))
    sim.bump_wall_clock(lead, 20 * SECOND)
    # the next ISR check, before the followers fetch again (they would refresh their
    # caught-up time on the jumped clock)
    sim._apply(lead, sim.nodes[lead].on_timer("isr-check", sim.clock(lead)))
    sim.run_for(SECOND)
    shrunk = [e for e in sim.events("isr")[before:] if len(e.fields["isr"]) < len(e.fields["old_isr"])]
    assert bool(shrunk) == shrinks
    if shrunk:  # the trace shows the follower had been caught up, by the monotonic clock
        lag = next(iter(shrunk[0].fields["lag_ns"].values()))
        assert lag <= shrunk[0].fields["lag_max_ns"]


def test_group_members_get_disjoint_partitions_and_commits_are_fenced_by_generation():
    sim = cluster(n_clients=2, partitions=2)
    assert sim.do("c1", "subscribe", None, ["k0", "k1"]).type == "ok"
    assert sim.do("c2", "subscribe", None, ["k0", "k1"]).type == "ok"
    c1, c2 = sim.nodes["c1"], sim.nodes["c2"]
    sim.run_until(lambda: c1.generation == c2.generation and len(c1.assigned) == 1 == len(c2.assigned),
                  5 * SECOND, "a settled group")
    assert set(c1.assigned) | set(c2.assigned) == {0, 1}
    assert sim.do("c1", "send", "k0", 3).type == "ok"
    owner = "c1" if 0 in c1.assigned else "c2"
    polled = sim.do(owner, "poll")
    assert polled.value["k0"] == [[0, 3]]
    ok = sim.do(owner, "commit")
    assert ok.type == "ok" and ok.value == {"k0": 1}
    node = sim.nodes[owner]
    node.generation -= 1  # a zombie member of an older generation
    stale = sim.do(owner, "commit")
    assert stale.type == "fail" and stale.error == m.ILLEGAL_GENERATION
