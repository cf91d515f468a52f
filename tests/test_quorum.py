"""The quorum-safety checker on hand-made traces: ones that must pass, ones that must fail."""

from __future__ import annotations

from checkers.quorum import check_quorum

S = ["n1", "n2", "n3"]


def z(e, c):
    return (e << 32) | c


def ev(node, kind, **f):
    return {"time": 0, "node": node, "kind": kind, **f}


def good_epoch(leader="n1", e=1, n=3, nodes=S, start=1):
    t = [ev(leader, "leader_established", epoch=e)]
    for c in range(start, start + n):
        zz = z(e, c)
        t.append(ev(leader, "propose", epoch=e, zxid=zz, digest=f"d{e}.{c}"))
        for s in nodes:
            t.append(ev(s, "logged", zxid=zz))
        t.append(ev(leader, "acks_quorum", zxid=zz, acks=list(nodes)))
        t.append(ev(leader, "commit", zxid=zz))
        for s in nodes:
            t.append(ev(s, "deliver", zxid=zz, digest=f"d{e}.{c}"))
    return t


def kinds(res):
    return set(res.anomaly_counts)


def test_clean_trace_passes():
    t = good_epoch() + good_epoch("n2", 2)
    res = check_quorum(t, S)
    assert res.valid is True, res
    assert res.details["stats"]["delivered"] == {"n1": 6, "n2": 6, "n3": 6}


def test_restart_replay_and_lagging_server_pass():
    t = good_epoch()
    t += [ev("n3", "crash"), ev("n3", "restart"), ev("n3", "recovered", applied_zxid=0)]
    t += [ev("n3", "deliver", zxid=z(1, 1), digest="d1.1")]  # replay from disk
    t += good_epoch("n1", 2, nodes=["n1", "n2"])  # n3 lags, still a prefix
    assert check_quorum(t, S).valid is True


def test_two_leaders_in_one_epoch():
    t = [ev("n1", "leader_established", epoch=3), ev("n2", "leader_established", epoch=3)]
    res = check_quorum(t, S)
    assert res.valid is False and kinds(res) == {"I7-one-leader-per-epoch"}
    assert res.anomalies["I7-one-leader-per-epoch"][0]["nodes"] == ["n1", "n2"]


def test_divergent_histories():
    t = good_epoch(n=1)
    t += [ev("n1", "propose", epoch=1, zxid=z(1, 2), digest="a"),
          ev("n2", "propose", epoch=2, zxid=z(2, 1), digest="b")]
    t += [ev("n1", "deliver", zxid=z(1, 2), digest="a"), ev("n2", "deliver", zxid=z(2, 1), digest="b")]
    res = check_quorum(t, S)
    assert "I3-agreement" in kinds(res)


def test_commit_without_quorum_and_ack_before_fsync():
    t = [ev("n1", "leader_established", epoch=1), ev("n1", "propose", epoch=1, zxid=z(1, 1), digest="a"),
         ev("n1", "logged", zxid=z(1, 1)), ev("n1", "acks_quorum", zxid=z(1, 1), acks=["n1"]),
         ev("n1", "commit", zxid=z(1, 1))]
    assert "quorum-commit" in kinds(check_quorum(t, S))
    t = [ev("n1", "leader_established", epoch=1), ev("n1", "propose", epoch=1, zxid=z(1, 1), digest="a"),
         ev("n1", "logged", zxid=z(1, 1)), ev("n2", "logged", zxid=z(1, 0)),
         ev("n1", "acks_quorum", zxid=z(1, 1), acks=["n1", "n2"]), ev("n1", "commit", zxid=z(1, 1))]
    res = check_quorum(t, S)
    assert "quorum-commit" in kinds(res) and "not_durable" in res.anomalies["quorum-commit"][0]


def test_phantom_delivery_and_zxid_reuse():
    t = [ev("n2", "deliver", zxid=z(1, 1), digest="ghost")]
    assert "I1-integrity" in kinds(check_quorum(t, S))
    t = [ev("n1", "propose", epoch=1, zxid=z(1, 1), digest="a"), ev("n2", "propose", epoch=1, zxid=z(1, 1), digest="b")]
    assert "I8-zxid-sanity" in kinds(check_quorum(t, S))
    t = [ev("n1", "propose", epoch=2, zxid=z(3, 1), digest="a")]
    assert "I8-zxid-sanity" in kinds(check_quorum(t, S))


def test_truncating_a_committed_txn():
    t = good_epoch(n=2)
    t += [ev("n3", "truncate", to_zxid=z(1, 1), removed=[z(1, 2)])]
    assert "committed-log-durability" in kinds(check_quorum(t, S))


def test_replay_that_lost_a_committed_txn():
    t = good_epoch(n=2)
    t += [ev("n2", "crash"), ev("n2", "restart"), ev("n2", "recovered", applied_zxid=0),
          ev("n2", "deliver", zxid=z(1, 2), digest="d1.2")]
    assert "committed-log-durability" in kinds(check_quorum(t, S))


def test_new_leader_missing_committed_txn():
    t = good_epoch(n=2, nodes=["n1", "n2"])
    t += [ev("n3", "leader_established", epoch=2), ev("n3", "propose", epoch=2, zxid=z(2, 1), digest="x")]
    res = check_quorum(t, S)
    assert "I6-primary-integrity" in kinds(res)


def test_acknowledged_write_missing_at_the_end():
    t = good_epoch(n=1, nodes=["n1", "n2"])
    hist = [{"index": 5, "type": "ok", "f": "write", "zxid": z(1, 1)}]
    res = check_quorum(t, S, history=hist)
    assert "I9-acked-write-durability" in kinds(res)
    assert res.anomalies["I9-acked-write-durability"][0]["nodes"] == ["n3"]
    t2 = t + [ev("n3", "deliver", zxid=z(1, 1), digest="d1.1")]
    assert check_quorum(t2, S, history=hist).valid is True


def test_local_primary_order_gap():
    t = [ev("n1", "leader_established", epoch=1)]
    for c in (1, 2):
        t.append(ev("n1", "propose", epoch=1, zxid=z(1, c), digest=f"d{c}"))
    t.append(ev("n2", "deliver", zxid=z(1, 2), digest="d2"))
    assert "I4-local-primary-order" in kinds(check_quorum(t, S))


def test_snap_below_what_was_delivered_must_redeliver_the_same():
    t = good_epoch(n=2)
    t += [ev("n3", "snapshot_received", zxid=0), ev("n3", "deliver", zxid=z(1, 1), digest="d1.1"),
          ev("n3", "deliver", zxid=z(1, 2), digest="d1.2")]
    assert check_quorum(t, S).valid is True
    t2 = good_epoch(n=2) + [ev("n3", "snapshot_received", zxid=0), ev("n3", "deliver", zxid=z(1, 2), digest="d1.2")]
    assert "committed-log-durability" in kinds(check_quorum(t2, S))


def test_unpersisted_snapshot_truncated_after_a_crash_then_replayed_passes():
    # n3 receives a SNAP up to 2.3 and crashes before persisting it (crash point
    # snapshot_received); back from its disk (epoch 1 only), it is truncated below 2.1 and
    # then delivers 2.1..2.3 again, unchanged: nothing it had durably delivered is lost.
    t = good_epoch(n=2) + good_epoch("n1", 2, nodes=["n1", "n2"])
    t += [ev("n3", "snapshot_received", zxid=z(2, 3)), ev("n3", "crash"), ev("n3", "restart"),
          ev("n3", "recovered", applied_zxid=z(1, 2)), ev("n3", "truncate", to_zxid=z(1, 2), removed=[])]
    t += [ev("n3", "deliver", zxid=z(2, c), digest=f"d2.{c}") for c in (1, 2, 3)]
    assert check_quorum(t, S).valid is True


def test_truncated_after_a_crash_and_never_replayed_fails():
    # the same, but what comes back after the truncation is not what n3 had delivered
    t = good_epoch(n=2) + good_epoch("n1", 2, nodes=["n1", "n2"])
    t += [ev("n3", "snapshot_received", zxid=z(2, 3)), ev("n3", "crash"), ev("n3", "restart"),
          ev("n3", "recovered", applied_zxid=z(1, 2)), ev("n3", "truncate", to_zxid=z(1, 2), removed=[])]
    t += [ev("n2", "propose", epoch=3, zxid=z(3, 1), digest="x"), ev("n3", "deliver", zxid=z(3, 1), digest="x")]
    res = check_quorum(t, S)
    assert res.valid is False and "committed-log-durability" in kinds(res)


def test_truncating_below_txns_delivered_since_the_restart_fails():
    t = good_epoch(n=3)
    t += [ev("n3", "crash"), ev("n3", "restart"), ev("n3", "recovered", applied_zxid=0)]
    t += [ev("n3", "deliver", zxid=z(1, c), digest=f"d1.{c}") for c in (1, 2, 3)]  # replayed
    t += [ev("n3", "truncate", to_zxid=z(1, 1), removed=[])]
    res = check_quorum(t, S)
    assert res.valid is False and "committed-log-durability" in kinds(res)


def _paused_fsync_then_restart(durable_log, between=()):
    """The finding zab-open-quorum-commit: n2 gets z(1, 2), is stopped while its fsync runs,
    killed, restarted; the leader counts its NEWLEADER ACK (after the DIFF from z(1, 2))."""
    t = good_epoch(n=1)
    t += [ev("n1", "propose", epoch=1, zxid=z(1, 2), digest="d1.2"), ev("n1", "logged", zxid=z(1, 2)),
          ev("n2", "crash"), ev("n2", "restart")]
    rec = {"applied_zxid": 0, "last_zxid": z(1, 2)}
    if durable_log is not None:
        rec["durable_log"] = durable_log
    t += [ev("n2", "recovered", **rec), *between,
          ev("n1", "sync_mode", peer="n2", mode="DIFF", peer_zxid=z(1, 2), zxid=z(1, 2)),
          ev("n2", "ack_sent", zxid=z(1, 0)),
          ev("n1", "acks_quorum", zxid=z(1, 2), acks=["n1", "n2"]), ev("n1", "commit", zxid=z(1, 2))]
    return t


def test_a_record_read_back_at_restart_counts_as_durably_logged():
    """No ``logged`` of n2 for z(1, 2): its fsync completed while it was paused, and it was
    killed before it ran again. What it read back from disk is durable all the same."""
    t = _paused_fsync_then_restart([[z(1, 1), z(1, 2)]])
    res = check_quorum(t, S)
    assert res.valid is True, res
    # the read-back record spans runs: one per epoch, each [first, last]
    t = _paused_fsync_then_restart([[z(0, 5), z(0, 6)], [z(1, 1), z(1, 2)]])
    assert check_quorum(t, S).valid is True


def test_an_ack_for_a_record_not_read_back_is_still_not_durable():
    # the restart read back only z(1, 1): the record of z(1, 2) was lost in the crash, so
    # an ACK counting it for z(1, 2) is not durable (and an old trace without the field
    # stays judged as before)
    for durable_log in ([[z(1, 1), z(1, 1)]], [], None):
        res = check_quorum(_paused_fsync_then_restart(durable_log), S)
        assert kinds(res) == {"quorum-commit"}, durable_log
        assert res.anomalies["quorum-commit"][0]["not_durable"] == ["n2"]
    # read back, then truncated away before the commit: no longer logged
    cut = [ev("n2", "truncate", to_zxid=z(1, 1), removed=[z(1, 2)])]
    res = check_quorum(_paused_fsync_then_restart([[z(1, 1), z(1, 2)]], between=cut), S)
    assert kinds(res) == {"quorum-commit"} and res.anomalies["quorum-commit"][0]["not_durable"] == ["n2"]
