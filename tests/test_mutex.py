"""The mutex checker (checkers/mutex.py) on hand-made traces: what must pass, what must fail."""

from __future__ import annotations

from types import SimpleNamespace

from checkers.mutex import check_mutex, check_mutex_trace, find_overlaps, master_intervals

S = 1_000_000_000
MS = 1_000_000


def begin(t, node, token, session=None):
    return {"time": t, "node": node, "kind": "master_begin", "token": token, "session": session or f"{node}/0",
            "lease_ns": 1333 * MS}


def end(t, node, token, reason="released"):
    return {"time": t, "node": node, "kind": "master_end", "token": token, "reason": reason}


def write(t, cand, token, value, accepted=True, wid=None):
    return {"time": t, "node": "storage", "kind": "storage_write", "candidate": cand, "token": token,
            "value": value, "accepted": accepted, "wid": wid or f"{cand}:{value}"}


def sent(t, node, token, value):
    return {"time": t, "node": node, "kind": "write_sent", "token": token, "wid": f"{node}:{value}", "value": value}


def expired(t, session, server="n2"):
    return {"time": t, "node": server, "kind": "session_expired", "session": session}


# A master c1 (token 5) paused from 2 s to 7 s; its session expires at 4.5 s; c2 wins at
# 4.6 s (token 9) and writes; c1 resumes at 7 s, sends the write it had prepared before
# the pause, and only then sees its lease is gone.
PAUSED_TRACE = [
    begin(1 * S, "c1", 5),
    write(int(1.5 * S), "c1", 5, 1),
    expired(int(4.5 * S), "c1/0"),
    begin(int(4.6 * S), "c2", 9),
    write(int(5 * S), "c2", 9, 2),
    sent(7 * S, "c1", 5, 3),
    end(7 * S, "c1", 5, "lease expired"),
    write(7 * S + 2 * MS, "c1", 5, 3),
    end(9 * S, "c2", 9),
]
PAUSED_FAULTS = [
    {"time": 2 * S, "kind": "pause", "node": "c1", "changed": True},
    {"time": 7 * S, "kind": "resume", "node": "c1", "changed": True},
]


def test_one_master_at_a_time_passes():
    trace = [begin(1 * S, "c1", 5), write(2 * S, "c1", 5, 1), end(3 * S, "c1", 5),
             begin(int(3.5 * S), "c2", 9), write(4 * S, "c2", 9, 2), end(5 * S, "c2", 9, "lease expired"),
             begin(6 * S, "c1", 12), write(7 * S, "c1", 12, 3)]
    for fencing in (False, True):
        res = check_mutex_trace(trace, [], fencing=fencing)
        assert res.valid is True, res
        assert res.details["overlaps"] == [] and res.details["stale_writes"] == []
        assert res.details["masters"] == 3
        assert res.details["writes"] == {"sent": 3, "accepted": 3, "rejected": 0}
        assert "one master at a time" in res.explanation


def test_touching_intervals_are_not_an_overlap():
    trace = [begin(1 * S, "c1", 5), end(3 * S, "c1", 5), begin(3 * S, "c2", 9)]
    assert find_overlaps(master_intervals(trace)) == []


def test_overlap_without_fencing_fails_and_says_why():
    res = check_mutex_trace(PAUSED_TRACE, PAUSED_FAULTS, fencing=False, session_timeout=2 * S)
    assert res.valid is False
    (o,) = res.details["overlaps"]
    assert (o["old_master"], o["new_master"]) == ("c1", "c2")
    assert (o["from"], o["to"]) == (int(4.6 * S), 7 * S)
    assert o["duration_ns"] == int(2.4 * S)
    assert "pause" in o["causes"]
    assert o["old_writes_sent_during"] == 1
    text = o["explanation"]
    assert "c1 was paused from 2.000 s to 7.000 s" in text
    assert "longer than the 2.000 s session timeout" in text
    assert "ended c1's session at 4.500 s (server n2)" in text
    assert "two masters for 2.400 s" in text
    assert "overlapping-masters" in res.anomalies
    # the write c1 prepared before its pause landed after c2's: a token regression
    (w,) = res.details["stale_writes"]
    assert w["kind"] == "token-regression" and w["candidate"] == "c1" and w["token"] == 5
    assert "after it had accepted token 0x9 from c2" in w["explanation"]


def test_with_fencing_the_overlap_is_reported_not_counted():
    trace = [ev for ev in PAUSED_TRACE if not (ev["kind"] == "storage_write" and ev["value"] == 3)]
    trace.append(write(7 * S + 2 * MS, "c1", 5, 3, accepted=False))  # the storage rejected it
    res = check_mutex_trace(trace, PAUSED_FAULTS, fencing=True, session_timeout=2 * S)
    assert res.valid is True
    assert res.anomalies == {}
    assert len(res.allowed["overlapping-masters"]) == 1
    assert res.details["stale_writes"] == []
    assert "not counted" in res.explanation
    assert res.details["writes"]["rejected"] == 1


def test_stale_write_fails_even_with_fencing():
    # (a storage that claims to fence but let the old token through)
    res = check_mutex_trace(PAUSED_TRACE, PAUSED_FAULTS, fencing=True)
    assert res.valid is False
    assert list(res.anomalies) == ["stale-write"]
    assert "overlapping-masters" in res.allowed


def test_deposed_writer_is_a_stale_write():
    # c2 began with token 9 before the storage accepted c1's token-5 write, though no
    # token-9 write had reached the storage yet.
    trace = [begin(1 * S, "c1", 5), end(2 * S, "c1", 5, "lease expired"), begin(3 * S, "c2", 9),
             write(int(3.1 * S), "c1", 5, 1)]
    res = check_mutex_trace(trace, [], fencing=True)
    assert res.valid is False
    (w,) = res.details["stale_writes"]
    assert w["kind"] == "deposed-writer"
    assert "c2 had become master with token 0x9 at 3.000 s" in w["explanation"]
    assert res.details["overlaps"] == []


def test_rejected_writes_are_not_stale():
    trace = [begin(1 * S, "c1", 5), end(2 * S, "c1", 5), begin(3 * S, "c2", 9), write(int(3.2 * S), "c2", 9, 1),
             write(int(3.5 * S), "c1", 5, 2, accepted=False)]
    assert check_mutex_trace(trace, [], fencing=True).valid is True


def test_slow_clock_and_fast_leader_clock_are_named():
    trace = [begin(1 * S, "c1", 5), expired(3 * S, "c1/0", server="n3"), begin(int(3.1 * S), "c2", 9),
             end(int(3.3 * S), "c1", 5, "lease expired")]
    faults = [{"time": int(0.5 * S), "kind": "clock-skew", "node": "c1", "ppm": -150_000},
              {"time": int(0.6 * S), "kind": "clock-skew", "node": "n3", "ppm": 120_000},
              {"time": 5 * S, "kind": "clock-reset", "node": "c1"}]
    (o,) = check_mutex_trace(trace, faults).details["overlaps"]
    assert set(o["causes"]) == {"slow-master-clock", "fast-leader-clock"}
    assert "c1's clock ran 15.0% slow from 0.500 s" in o["explanation"]
    assert "n3's clock ran 12.0% fast" in o["explanation"]


def test_a_skew_reset_before_the_mastership_is_not_a_cause():
    trace = [begin(10 * S, "c1", 5), begin(11 * S, "c2", 9), end(12 * S, "c1", 5)]
    faults = [{"time": 1 * S, "kind": "clock-skew", "node": "c1", "ppm": -150_000},
              {"time": 2 * S, "kind": "clock-reset", "node": "c1"}]
    (o,) = check_mutex_trace(trace, faults).details["overlaps"]
    assert o["causes"] == ["unexplained"]


def test_open_mastership_lasts_to_the_end_of_the_run():
    trace = [begin(1 * S, "c1", 5), begin(2 * S, "c2", 9), {"time": 4 * S, "node": "n1", "kind": "commit"}]
    ivs = master_intervals(trace)
    assert [(iv["node"], iv["end"]) for iv in ivs] == [("c1", 4 * S), ("c2", 4 * S)]
    (o,) = check_mutex_trace(trace, []).details["overlaps"]
    assert o["duration_ns"] == 2 * S
    assert "still master at the end of the run" in o["explanation"]


def test_check_mutex_reads_fencing_from_settings_and_links_operations():
    history = [
        {"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "acquire", "value": None},
        {"index": 1, "time": 1 * S, "process": 0, "type": "ok", "f": "acquire", "value": 5, "token": 5},
        {"index": 2, "time": int(4.5 * S), "process": 1, "type": "invoke", "f": "acquire", "value": None},
        {"index": 3, "time": int(4.6 * S), "process": 1, "type": "ok", "f": "acquire", "value": 9, "token": 9},
        {"index": 4, "time": int(1.9 * S), "process": 0, "type": "invoke", "f": "write", "value": 3},
        {"index": 5, "time": 7 * S + 3 * MS, "process": 0, "type": "ok", "f": "write", "value": 3,
         "token": 5, "wid": "c1:3"},
    ]
    for fencing, valid in ((False, False), (True, False)):
        out = SimpleNamespace(config=SimpleNamespace(system="zab", settings={"fencing": fencing}),
                              history=history, trace=PAUSED_TRACE, faults=PAUSED_FAULTS)
        # the run's settings over the system's defaults, as harness.checks passes them
        res = check_mutex(out, {"session_timeout": 2 * S, **out.config.settings})
        assert res.details["fencing"] is fencing and res.valid is valid
        assert res.details["overlaps"][0]["indices"] == [1, 3]
        assert res.details["stale_writes"][0]["indices"] == [5]
        assert "longer than the 2.000 s session timeout" in res.details["overlaps"][0]["explanation"]


def test_no_master_at_all_is_valid_and_says_so():
    res = check_mutex_trace([], [])
    assert res.valid is True and res.details["masters"] == 0
    assert "no candidate ever became master" in res.explanation


def test_stale_write_says_the_writer_was_paused_between_check_and_send():
    trace = [
        begin(1 * S, "c1", 5),
        {"time": 2 * S, "node": "c1", "kind": "write_checked", "token": 5, "wid": "c1:3", "mono": 0},
        expired(int(4.5 * S), "c1/0"),
        begin(int(4.6 * S), "c2", 9),
        write(5 * S, "c2", 9, 2),
        sent(7 * S, "c1", 5, 3),
        end(7 * S, "c1", 5, "lease expired"),
        write(7 * S + 2 * MS, "c1", 5, 3),
    ]
    faults = [{"time": int(2.01 * S), "kind": "pause", "node": "c1", "changed": True},
              {"time": 7 * S, "kind": "resume", "node": "c1", "changed": True}]
    (w,) = check_mutex_trace(trace, faults).details["stale_writes"]
    assert "pause" in w["causes"]
    assert "c1 checked its lease at 2.000 s and sent the write at 7.000 s" in w["explanation"]
    assert "c1 was paused from 2.010 s to 7.000 s, between its lease check and its send" in w["explanation"]


def test_premature_expiry_after_a_leader_wall_clock_jump_is_named():
    # zk-wallclock-session-expiry: the leader's wall clock jumps 6 s; it expires a session
    # it heard of 0.3 s before (on its monotonic clock).
    trace = [begin(1 * S, "c1", 5),
             {"time": 3 * S, "node": "n5", "kind": "session_expired", "session": "c1/0",
              "idle": 300 * MS, "timeout": 2 * S},
             {"time": 3 * S + 10 * MS, "node": "n1", "kind": "ephemeral_deleted", "session": "c1/0",
              "path": "/master", "zxid": 77},
             end(3 * S + 12 * MS, "c1", 5, "/master deleted"),
             begin(3 * S + 20 * MS, "c2", 9),
             write(3 * S + 30 * MS, "c1", 5, 1)]
    faults = [{"time": int(2.5 * S), "kind": "clock-bump", "node": "n5", "delta_ns": 6 * S}]
    res = check_mutex_trace(trace, faults)
    (w,) = res.details["stale_writes"]
    assert w["kind"] == "deposed-writer"
    assert {"premature-expiry", "leader-wall-clock-jump"} <= set(w["causes"])
    assert "n5 had heard of the session 0.300 s before" in w["explanation"]
    assert "n5's wall clock had jumped 6.000 s ahead at 2.500 s" in w["explanation"]
    assert "deleted its /master at 3.010 s" in w["explanation"]
    assert res.details["overlaps"] == []


def test_overlap_from_a_renewal_by_a_slow_server_after_the_deletion():
    trace = [begin(1 * S, "c1", 5),
             expired(3 * S, "c1/0", server="n5"),
             {"time": 3 * S + 10 * MS, "node": "n1", "kind": "ephemeral_deleted", "session": "c1/0",
              "path": "/master", "zxid": 0x500000010},
             begin(int(3.1 * S), "c2", 9),
             {"time": int(3.2 * S), "node": "c1", "kind": "lease_renewed", "token": 5, "server": "n3",
              "zxid": 0x500000002},
             end(int(4.5 * S), "c1", 5, "lease expired")]
    faults = [{"time": 2 * S, "kind": "clock-skew", "node": "n3", "ppm": -900_000},
              {"time": int(2.5 * S), "kind": "partition", "mode": "isolate-one",
               "cut": [["n3", "n5"], ["n1", "n3"]]}]
    (o,) = check_mutex_trace(trace, faults).details["overlaps"]
    assert {"stale-renewal", "partition", "slow-server-clock"} <= set(o["causes"])
    assert "n3 answered from its state as of zxid 0x500000002, older than the deletion (zxid 0x500000010)" \
        in o["explanation"]
    assert "n3's clock ran at 10% speed" in o["explanation"]
    assert "cut off from n5 (the leader that expired the session)" in o["explanation"]
