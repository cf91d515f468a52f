"""The per-session zxid-prefix checker for local reads: must-pass and must-fail histories."""

from __future__ import annotations

from checkers.session import check_sessions

TRACE = [
    {"kind": "deliver", "node": "n1", "zxid": 1, "path": "/x", "data": 1},
    {"kind": "deliver", "node": "n1", "zxid": 2, "path": "/x", "data": 2},
    {"kind": "deliver", "node": "n2", "zxid": 1, "path": "/x", "data": 1},
    {"kind": "deliver", "node": "n1", "zxid": 3, "path": "/y", "data": 7},
]


def ok(i, p, f, z, value=None, key="x"):
    return {"index": i, "process": p, "type": "ok", "f": f, "key": key, "value": value, "zxid": z}


def test_stale_but_sequentially_consistent_reads_pass():
    h = [ok(0, 1, "read", 0, None), ok(1, 2, "write", 2, 2), ok(2, 1, "read", 1, 1),  # stale, fine
         ok(3, 1, "read", 3, 2), ok(4, 2, "read", 2, 2), ok(5, 1, "read", 3, 7, key="y")]
    res = check_sessions(h, TRACE)
    assert res.valid is True, res
    assert res.details["reads"] == 5


def test_going_back_in_time_fails():
    h = [ok(0, 1, "read", 2, 2), ok(1, 1, "read", 1, 1)]
    res = check_sessions(h, TRACE)
    assert res.valid is False and set(res.anomaly_counts) == {"monotonic-reads"}
    a = res.anomalies["monotonic-reads"][0]
    assert (a["index"], a["previous_index"]) == (1, 0)


def test_not_reading_your_own_write_fails():
    h = [ok(0, 1, "write", 2, 2), ok(1, 1, "read", 1, 1)]
    res = check_sessions(h, TRACE)
    assert set(res.anomaly_counts) == {"read-your-writes"}


def test_value_that_was_never_the_state_fails():
    h = [ok(0, 1, "read", 1, 2)]  # at zxid 1 the value was 1
    res = check_sessions(h, TRACE)
    assert set(res.anomaly_counts) == {"read-matches-state"}
    assert res.anomalies["read-matches-state"][0]["expected"] == 1


def test_other_sessions_may_lag():
    h = [ok(0, 1, "write", 2, 2), ok(1, 2, "read", 1, 1)]
    assert check_sessions(h, TRACE).valid is True


def test_session_expired_while_its_client_was_in_touch():
    t = TRACE + [{"kind": "session_expired", "node": "n1", "session": 7, "idle": 300_000_000, "timeout": 2_000_000_000}]
    res = check_sessions([], t)
    assert set(res.anomaly_counts) == {"expired-while-live"}
    t = TRACE + [{"kind": "session_expired", "node": "n1", "session": 7, "idle": 2_100_000_000,
                  "timeout": 2_000_000_000}]
    assert check_sessions([], t).valid is True


def test_no_reads_says_so_rather_than_all_0_reads():
    """The election workload reads nothing: the checker said 'all 0 reads saw a growing
    prefix...'. It still checks session expiry there."""
    res = check_sessions([ok(0, 1, "write", 2, 2)], TRACE)
    assert res.valid is True and res.details["reads"] == 0
    assert res.explanation.startswith("no reads to check") and "0 reads" not in res.explanation
