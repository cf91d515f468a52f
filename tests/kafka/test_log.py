"""ReplicaLog: epochs, the KIP-101/279 epoch-end answer, producer state, durability accounting."""

from __future__ import annotations

from systems.kafka.log import ReplicaLog


def rec(o: int, e: int, v: int = 0, pid: int = -1, seq: int = 0) -> tuple:
    return (o, e, "k0", v if v else o, pid, seq)


def test_epoch_cache_follows_records_and_truncation():
    log = ReplicaLog(0)
    log.append([rec(0, 0), rec(1, 0), rec(2, 2), rec(3, 2), rec(4, 5)])
    assert log.epoch_starts == [(0, 0), (2, 2), (5, 4)]
    log.truncate(3)
    assert log.epoch_starts == [(0, 0), (2, 2)] and log.end == 3
    log.truncate(2)
    assert log.epoch_starts == [(0, 0)]


def test_end_offset_for_epoch_is_kafkas_answer():
    log = ReplicaLog(0)
    log.append([rec(0, 1), rec(1, 1), rec(2, 3), rec(3, 3)])
    log.assign_epoch(6)  # a new leader's entry at its log end
    assert log.end_offset_for_epoch(1) == (1, 2)
    assert log.end_offset_for_epoch(2) == (1, 2)  # unknown epoch: the largest below it
    assert log.end_offset_for_epoch(3) == (3, 4)
    assert log.end_offset_for_epoch(6) == (6, 4)
    assert log.end_offset_for_epoch(0) == (0, 0)  # below every epoch: where the first starts
    assert ReplicaLog(0).end_offset_for_epoch(3) == (-1, -1)


def test_producer_state_is_rebuilt_from_the_log():
    log = ReplicaLog(0)
    log.append([rec(0, 0, 10, pid=7, seq=0), rec(1, 0, 11, pid=7, seq=1), rec(2, 0, 12, pid=8, seq=0)])
    assert log.producers[7].last_seq == 1 and log.producers[7].offset_of(1) == 1
    log.truncate(1)
    assert log.producers[7].last_seq == 0 and 8 not in log.producers
    other = ReplicaLog(0)
    other.load(tuple([list(r) for r in log.records]))  # as read back from disk
    assert other.producers[7].offset_of(0) == 0


def test_durable_end_accounts_for_pending_truncations():
    log = ReplicaLog(0)  # flush every append
    assert len(log.append([rec(0, 0), rec(1, 0), rec(2, 0)])) == 1
    log.truncate(1)  # pending: append(->3), truncate(->1)
    log.append([rec(1, 1, 99)])  # pending: ..., append(->2)
    log.on_persisted()  # the first append is on disk, but the truncation will cut it
    assert log.durable_end == 1
    log.on_persisted()
    assert log.durable_end == 1
    log.on_persisted()
    assert log.durable_end == 2 == log.end


def test_page_cache_policy_counts_unflushed_records():
    log = ReplicaLog(0, flush_interval=10)
    assert log.append([rec(0, 0), rec(1, 0)]) == []
    assert log.counted_end() == 2 and log.durable_end == 0
    writes = log.flush()
    assert len(writes) == 1 and writes[0].records[-1][0] == 1
    log.on_persisted()
    assert log.durable_end == 2


def test_prefix_hash_compares_any_prefix():
    a, b = ReplicaLog(0), ReplicaLog(0)
    a.append([rec(0, 0, 5), rec(1, 0, 6)])
    b.append([rec(0, 0, 5), rec(1, 1, 7)])
    assert a.prefix_hash(1) == b.prefix_hash(1)
    assert a.prefix_hash(2) != b.prefix_hash(2)
