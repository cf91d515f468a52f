"""checkers/replicas.py on hand-made traces: each violation kind, and a clean trace."""

from __future__ import annotations

from checkers.replicas import check_trace


def ev(t, node, kind, **f):
    return {"time": t, "node": node, "kind": kind, **f}


CLEAN = [
    ev(1, "b1", "become-leader", partition=0, leader_epoch=0, isr=["b1", "b2"], log_end=0, hw=0),
    ev(2, "b1", "append", partition=0, offset=0, leader_epoch=0, value="0:k0:1", role="leader", replica_epoch=0),
    ev(3, "b2", "append", partition=0, offset=0, leader_epoch=0, value="0:k0:1", role="follower", replica_epoch=0),
    ev(4, "b1", "hw", partition=0, hw=1, leader_epoch=0),
    ev(4, "b1", "commit", partition=0, offset=0, value="0:k0:1", leader_epoch=0),
    ev(4, "b1", "ack", partition=0, offset=0, leader_epoch=0, hw=1, error=None, acks="all", isr_size=2, min_isr=2),
    ev(5, "z1", "commit", zxid=7),  # a ZooKeeper server's event: not the replica checker's
]


def kinds(res):
    return sorted({v["kind"] for vs in res.anomalies.values() for v in vs})


def test_a_clean_trace_is_valid():
    res = check_trace(CLEAN)
    assert res.valid is True and res.details["stats"]["committed_offsets"] == 1


def test_two_leaders_in_one_epoch():
    t = CLEAN + [ev(6, "b2", "become-leader", partition=0, leader_epoch=0, isr=["b2"], log_end=1, hw=1)]
    res = check_trace(t)
    assert kinds(res) == ["two-leaders-one-epoch"]
    explanation = next(iter(res.anomalies.values()))[0]["explanation"]
    assert "b1" in explanation and "b2" in explanation
    e = [ev(1, "b4", "elect", partition=0, leader="b1", leader_epoch=3, isr=["b1"], controller_epoch=2),
         ev(2, "b5", "elect", partition=0, leader="b2", leader_epoch=3, isr=["b2"], controller_epoch=1)]
    assert kinds(check_trace(e)) == ["two-leaders-one-epoch"]


def test_committed_value_changed_and_divergence_below_the_high_watermark():
    t = CLEAN + [
        ev(7, "b2", "become-leader", partition=0, leader_epoch=1, isr=["b2"], log_end=0, hw=0),
        ev(8, "b2", "append", partition=0, offset=0, leader_epoch=1, value="1:k0:9", role="leader", replica_epoch=1),
        ev(9, "b2", "hw", partition=0, hw=1, leader_epoch=1),
        ev(9, "b2", "commit", partition=0, offset=0, value="1:k0:9", leader_epoch=1),
    ]
    assert kinds(check_trace(t)) == ["committed-value-changed", "diverged-below-hw"]


def test_a_deposed_leader_may_append_in_its_old_epoch():
    t = CLEAN + [
        ev(7, "b2", "become-leader", partition=0, leader_epoch=1, isr=["b2"], log_end=1, hw=1),
        ev(8, "b2", "append", partition=0, offset=1, leader_epoch=1, value="1:k0:5", role="leader", replica_epoch=1),
        ev(9, "b2", "hw", partition=0, hw=2, leader_epoch=1),
        ev(9, "b2", "commit", partition=0, offset=1, value="1:k0:5", leader_epoch=1),
        # b1 has not heard yet: its append at offset 1 in epoch 0 will be truncated
        ev(10, "b1", "append", partition=0, offset=1, leader_epoch=0, value="0:k0:6", role="leader", replica_epoch=0),
    ]
    assert check_trace(t).valid is True


def test_a_follower_taking_a_deposed_leaders_record_past_its_epochs_start():
    new_leader = [ev(7, "b2", "become-leader", partition=0, leader_epoch=1, isr=["b2", "b3"], log_end=1, hw=1)]
    # b3, following b2 in epoch 1, copies records of epoch 0 below where epoch 1 starts:
    # they are the new leader's too (its log up to offset 1 is from epoch 0)
    old_records = [ev(8, "b3", "append", partition=0, offset=0, leader_epoch=0, value="0:k0:1", role="follower",
                      replica_epoch=1)]
    assert check_trace(CLEAN + new_leader + old_records).valid is True
    # ... and the new leader's own records past it
    own = [ev(9, "b3", "append", partition=0, offset=1, leader_epoch=1, value="1:k0:5", role="follower",
              replica_epoch=1)]
    assert check_trace(CLEAN + new_leader + old_records + own).valid is True
    # an epoch-0 record at offset 1 can only come from the deposed leader b1 (KIP-320)
    zombie = [ev(9, "b3", "append", partition=0, offset=1, leader_epoch=0, value="0:k0:6", role="follower",
                 replica_epoch=1)]
    res = check_trace(CLEAN + new_leader + old_records + zombie)
    assert kinds(res) == ["stale-epoch-append"]
    a = res.anomalies["stale-epoch-append"][0]
    assert (a["replicas"], a["offsets"], a["epochs"]) == (["b3"], [1, 1], [0, 1])
    # a follower still in epoch 0 may take it (it truncates once it hears of epoch 1)
    behind = [ev(9, "b3", "append", partition=0, offset=1, leader_epoch=0, value="0:k0:6", role="follower",
                 replica_epoch=0)]
    assert check_trace(CLEAN + new_leader + behind).valid is True


def test_acks_all_before_commit_or_below_min_insync():
    early = CLEAN + [ev(6, "b1", "ack", partition=0, offset=1, leader_epoch=0, hw=1, error=None, acks="all",
                        isr_size=2, min_isr=2)]
    assert kinds(check_trace(early)) == ["acked-uncommitted"]
    alone = CLEAN + [ev(6, "b1", "ack", partition=0, offset=0, leader_epoch=0, hw=1, error=None, acks="all",
                        isr_size=1, min_isr=2)]
    assert kinds(check_trace(alone)) == ["acked-below-min-isr"]
    acks1 = CLEAN + [ev(6, "b1", "ack", partition=0, offset=1, leader_epoch=0, hw=1, error=None, acks=1,
                        isr_size=1, min_isr=2)]
    assert check_trace(acks1).valid is True


def test_hw_moving_back_and_spurious_isr_shrink():
    back = CLEAN + [ev(6, "b1", "hw", partition=0, hw=0, leader_epoch=0)]
    assert kinds(check_trace(back)) == ["hw-moved-back"]
    shrink = CLEAN + [ev(6, "b1", "isr", partition=0, isr=["b1"], old_isr=["b1", "b2"], leader_epoch=0,
                         zk_version=2, lag_ns={"b2": 200_000_000}, lag_max_ns=1_500_000_000)]
    res = check_trace(shrink)
    assert kinds(res) == ["spurious-isr-shrink"] and "200 ms" in res.explanation
    fair = CLEAN + [ev(6, "b1", "isr", partition=0, isr=["b1"], old_isr=["b1", "b2"], leader_epoch=0,
                       zk_version=2, lag_ns={"b2": 1_600_000_000}, lag_max_ns=1_500_000_000)]
    assert check_trace(fair).valid is True


def test_final_state_disagreement_after_healing():
    def st(hw, below, epochs):
        return {"role": "follower", "leader_epoch": 2, "hw": hw, "end": hw, "epochs": epochs, "below_hw": below,
                "log": below}
    same = {"b1": {"0": st(5, "aa", [[0, 0]])}, "b2": {"0": st(5, "aa", [[0, 0]])}, "z1": {"zxid": 3}}
    assert check_trace(CLEAN, same).valid is True
    diff = {"b1": {"0": st(5, "aa", [[0, 0]])}, "b2": {"0": st(5, "bb", [[0, 0], [1, 3]])}}
    res = check_trace(CLEAN, diff)
    assert kinds(res) == ["replicas-disagree-after-healing"]
    lag = {"b1": {"0": st(5, "aa", [[0, 0]])}, "b2": {"0": st(3, "cc", [[0, 0]])}}
    res = check_trace(CLEAN, lag)
    assert res.valid is True and res.details["notes"]


def test_isr_join_without_committed_records():
    def join(leo):
        return [ev(6, "b1", "isr-expand", partition=0, follower="b3", leo=leo, hw=0, epoch_start=1, leader_epoch=0),
                ev(7, "b1", "isr", partition=0, isr=["b1", "b2", "b3"], old_isr=["b1", "b2"], leader_epoch=0,
                   zk_version=3, lag_ns={}, lag_max_ns=1)]
    res = check_trace(CLEAN + join(0))
    assert kinds(res) == ["isr-join-without-committed"] and "b3" in res.explanation
    assert check_trace(CLEAN + join(1)).valid is True
    # a proposal that never lands (a deposed leader's) is no violation
    assert check_trace(CLEAN + join(0)[:1]).valid is True
