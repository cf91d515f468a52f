"""Whole harness runs of the queue workload on Kafka: on ZooKeeper (ZAB) and on the fake,
with faults; a few planted bugs caught by the checker they name; determinism."""

from __future__ import annotations

import pytest

from harness.config import RunConfig
from harness.runner import run_test, simulate
from workloads.queue import QueueWorkload


def cfg(**kw) -> RunConfig:
    base = dict(system="kafka", workload="queue", time_limit=20, recovery_time=10, seed=3)
    base.update(kw)
    return RunConfig(**base)


@pytest.mark.parametrize("zookeeper", ["zab", "mini"])
def test_a_faulty_run_passes_every_checker(zookeeper):
    res = run_test(cfg(settings={"zookeeper": zookeeper}, nemesis=("partition", "kill", "clock")))
    checks = res.checkers
    assert res.valid is True, {k: v.explanation for k, v in checks.items()}
    assert checks["replicas"].details["stats"]["commits"] > 50
    assert res.results["stats"]["operations"] > 200


def test_runs_are_deterministic():
    a = simulate(cfg(settings={"zookeeper": "mini"}, time_limit=8))
    b = simulate(cfg(settings={"zookeeper": "mini"}, time_limit=8))
    assert a.history == b.history and a.trace == b.trace


@pytest.mark.parametrize("bug,nemesis,seed,checker", [
    ("kafka-acks-all-as-one", ("partition", "kill"), 1, "replicas"),
    ("kafka-ignore-min-isr", ("partition", "kill"), 1, "replicas"),
    ("kafka-non-idempotent-retry", ("partition", "kill"), 1, "durability"),
])
def test_planted_bugs_are_caught(bug, nemesis, seed, checker):
    res = run_test(cfg(settings={"zookeeper": "mini"}, nemesis=nemesis, bugs=(bug,), seed=seed, time_limit=30))
    assert res.checkers[checker].valid is False


def test_workload_shape():
    import random

    w = QueueWorkload(cfg(keys=3), random.Random(1))
    first = w.next_op(0)
    assert first[0] in ("assign", "subscribe")
    ops = [w.next_op(0) for _ in range(300)]
    sends = [o for o in ops if o[0] == "send"]
    assert len({o[2] for o in sends}) == len(sends)  # unique values
    assert {o[1] for o in sends} <= {"k0", "k1", "k2"}
    assert {o[0] for o in ops} == {"send", "poll", "commit", "assign", "subscribe"}
    assert w.final_ops() == [("assign", None, ["k0", "k1", "k2"]), ("poll", None, "drain")]


def test_settle_ends_when_zookeeper_and_every_partition_agree():
    from systems.kafka.spec import KafkaSpec

    spec = KafkaSpec()
    part = {"role": "leader", "leader_epoch": 2, "hw": 7, "end": 7, "epochs": [[0, 0]], "below_hw": "h", "log": "h"}
    follower = {**part, "role": "follower"}
    zk = {"zxid": 5, "tree": "t"}
    agreed = {"z1": zk, "z2": zk, "b1": {"0": part}, "b2": {"0": follower}, "b3": {"1": part}}
    assert spec.converged(agreed)
    assert not spec.converged({**agreed, "z2": {"zxid": 4, "tree": "u"}})
    assert not spec.converged({**agreed, "b2": {"0": {**follower, "hw": 6}}})
    assert not spec.converged({**agreed, "b2": {"0": {**follower, "end": 8, "log": "i"}}})
    # a real run: settling stops as soon as the replicas agree, well before its bound
    res = run_test(cfg(settings={"zookeeper": "zab"}, nemesis=("partition", "kill")))
    bound = (20 + 10 + 1) * 1e9
    assert res.results["stats"]["simulated_ns"] < bound
