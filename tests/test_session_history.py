"""The history-only session check of a live ZooKeeper run: must-pass and must-fail histories."""

from __future__ import annotations

from typing import Any

from checkers.session import check_sessions_history


def inv(i: int, p: int, f: str, value: Any = None, key: str = "x") -> dict[str, Any]:
    return {"index": i, "process": p, "type": "invoke", "f": f, "key": key, "value": value}


def read(i: int, p: int, z: int, m: int, value: Any, key: str = "x") -> dict[str, Any]:
    return {"index": i, "process": p, "type": "ok", "f": "read", "key": key, "value": value, "zxid": z, "mzxid": m}


def write(i: int, p: int, z: int, value: Any, key: str = "x", f: str = "write") -> dict[str, Any]:
    return {"index": i, "process": p, "type": "ok", "f": f, "key": key, "value": value, "zxid": z}


def test_stale_but_sequentially_consistent_reads_pass_and_are_reported():
    h = [inv(0, 1, "read"), read(1, 1, 1, 0, None),
         inv(2, 2, "write", 5), write(3, 2, 2, 5),
         inv(4, 1, "read"), read(5, 1, 1, 0, None),  # stale: the write 0x2 was acknowledged, fine locally
         inv(6, 1, "read"), read(7, 1, 4, 2, 5),
         inv(8, 2, "cas", [5, 6]), write(9, 2, 5, [5, 6], f="cas"),
         inv(10, 2, "read"), read(11, 2, 6, 5, 6),
         inv(12, 1, "read", key="y"), read(13, 1, 6, 3, 9, key="y")]
    res = check_sessions_history(h)
    assert res.valid is True, res
    assert res.details["reads"] == 5 and res.details["stale_reads"] == 1
    assert [a["index"] for a in res.allowed["stale-read"]] == [5]
    assert "1 stale read" in res.explanation


def test_going_back_in_time_fails():
    h = [read(0, 1, 4, 2, 5), read(1, 1, 3, 2, 5)]
    res = check_sessions_history(h)
    assert res.valid is False and set(res.anomaly_counts) == {"monotonic-reads"}
    assert res.anomalies["monotonic-reads"][0]["previous_index"] == 0


def test_not_reading_your_own_write_fails():
    h = [write(0, 1, 4, 5), read(1, 1, 3, 0, None)]
    res = check_sessions_history(h)
    assert res.valid is False and set(res.anomaly_counts) == {"read-your-writes"}


def test_reading_your_own_write_passes():
    h = [write(0, 1, 4, 5), read(1, 1, 4, 4, 5), read(2, 1, 9, 4, 5)]
    assert check_sessions_history(h).valid is True


def test_missing_a_write_committed_in_the_reads_state_fails():
    # process 2 read state 0x6 but the value of 0x2, though 0x4 (acknowledged) wrote /x in between
    h = [write(0, 1, 2, 1), write(1, 1, 4, 2), read(2, 2, 6, 2, 1)]
    res = check_sessions_history(h)
    assert res.valid is False and set(res.anomaly_counts) == {"read-matches-state"}
    a = res.anomalies["read-matches-state"][0]
    assert (a["missed_zxid"], a["expected"]) == (4, 2)


def test_a_write_known_only_from_another_read_counts():
    # the write 0x4 was indeterminate (no ok), but a read saw it: it was committed
    h = [write(0, 1, 2, 1), read(1, 3, 5, 4, 2), read(2, 2, 6, 2, 1)]
    res = check_sessions_history(h)
    assert set(res.anomaly_counts) == {"read-matches-state"}


def test_a_write_of_another_key_in_between_passes():
    h = [write(0, 1, 2, 1), write(1, 1, 4, 2, key="y"), read(2, 2, 6, 2, 1)]
    assert check_sessions_history(h).valid is True


def test_reading_a_write_from_the_future_fails():
    h = [write(0, 1, 7, 1), read(1, 2, 6, 7, 1)]
    res = check_sessions_history(h)
    assert set(res.anomaly_counts) == {"read-matches-state"}


def test_a_value_that_differs_from_its_write_fails():
    h = [write(0, 1, 2, 1), read(1, 2, 3, 2, 99)]
    res = check_sessions_history(h)
    assert set(res.anomaly_counts) == {"read-matches-state"}


def test_a_value_from_a_never_written_znode_fails():
    res = check_sessions_history([read(0, 2, 3, 0, 4)])
    assert set(res.anomaly_counts) == {"read-matches-state"}


def test_a_history_without_zxids_is_not_applicable():
    h = [{"index": 0, "process": 1, "type": "ok", "f": "read", "key": "x", "value": 1}]
    res = check_sessions_history(h)
    assert res.valid == "unknown" and res.decides is False and res.details["not_applicable"]
