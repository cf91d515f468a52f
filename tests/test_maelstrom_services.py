"""The services the harness runs for Maelstrom programs, and the error mapping."""

import random

from harness.live.maelstrom.clients import error_outcome
from harness.live.maelstrom.services import LinKV, LinTSO, LwwKV, SeqKV


def test_lin_kv_read_write_cas():
    s = LinKV(random.Random(1))
    assert s.handle("n1", {"type": "read", "key": 1}, 0)["code"] == 20
    assert s.handle("n1", {"type": "cas", "key": 1, "from": 0, "to": 1}, 0)["code"] == 20
    cas = {"type": "cas", "key": 1, "from": 0, "to": 1, "create_if_not_exists": True}
    assert s.handle("n1", cas, 0)["type"] == "cas_ok"
    assert s.handle("n2", {"type": "read", "key": 1}, 0) == {"type": "read_ok", "value": 1}
    assert s.handle("n2", {"type": "cas", "key": 1, "from": 5, "to": 6}, 0)["code"] == 22
    assert s.handle("n2", {"type": "write", "key": 1, "value": 9}, 0) == {"type": "write_ok"}
    assert s.handle("n1", {"type": "read", "key": 1}, 0)["value"] == 9
    assert s.handle("n1", {"type": "frob"}, 0)["code"] == 10


def test_seq_kv_reads_may_be_stale_but_never_go_back_and_see_own_writes():
    s = SeqKV(random.Random(3))
    for v in range(20):
        s.handle("n1", {"type": "write", "key": "k", "value": v}, 0)
    seen = []
    for _ in range(40):
        r = s.handle("n2", {"type": "read", "key": "k"}, 0)
        seen.append(r.get("value", -1))
    assert seen != [19] * 40, "seq-kv must be allowed to be stale"
    assert seen == sorted(seen), "a caller's reads never go back in time"
    assert s.handle("n1", {"type": "read", "key": "k"}, 0)["value"] == 19, "a caller sees its own writes"


def test_lww_kv_can_lose_a_write_or_read_back_in_time():
    s = LwwKV(random.Random(5))
    anomalies = 0
    last = None
    for v in range(200):
        s.handle("n1", {"type": "write", "key": "k", "value": v}, v)
        r = s.handle("n2", {"type": "read", "key": "k"}, v)
        got = r.get("value")
        if got != v:
            anomalies += 1
        if last is not None and got is not None and got < last:
            anomalies += 1
        last = got if got is not None else last
    assert anomalies > 0


def test_lin_tso_strictly_increases():
    s = LinTSO(random.Random(1))
    ts = [s.handle("n1", {"type": "ts"}, 0)["ts"] for _ in range(5)]
    assert ts == sorted(set(ts)) and len(ts) == 5


def test_error_codes_map_to_fail_or_info():
    assert error_outcome({"code": 11, "text": "no leader"})[0] == "fail"
    assert error_outcome({"code": 22})[0] == "fail"
    assert error_outcome({"code": 20})[0] == "fail"
    assert error_outcome({"code": 0})[0] == "info"
    assert error_outcome({"code": 13})[0] == "info"
    assert error_outcome({"code": 1000, "text": "custom"}) == ("info", "code 1000: custom")
    assert error_outcome({"code": "x"})[0] == "info"
