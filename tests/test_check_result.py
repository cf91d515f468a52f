"""CheckResult: one shape for every checker's result, read back from results.json, old
run directories included, and the failure signature read from it."""

from __future__ import annotations

import json

from checkers.result import CheckResult, anomaly_names, as_result, checker_results, failure_signature


def test_round_trip_through_json():
    r = CheckResult(False, "two leaders in epoch 3",
                    anomalies={"I7-one-leader-per-epoch": [{"epoch": 3, "nodes": ["n1", "n2"]}]},
                    anomaly_counts={"I7-one-leader-per-epoch": 4}, allowed={"poll-skip": [{"index": 7}]},
                    decides=True, note="n", scope="s", details={"stats": {"proposals": 9}})
    back = CheckResult.from_json(json.loads(json.dumps(r.to_json())))
    assert back == r
    assert back.count("I7-one-leader-per-epoch") == 4 and back.kinds == ["I7-one-leader-per-epoch"]
    assert back.failed
    assert CheckResult.from_json(CheckResult("unknown", decides=False).to_json()) == CheckResult("unknown",
                                                                                                   decides=False)


def test_counts_are_at_least_the_records_listed():
    r = CheckResult(False, anomalies={"lost-write": [{}, {}]})
    assert r.anomaly_counts == {"lost-write": 2}
    assert CheckResult(False, anomalies={"x": [{}]}, anomaly_counts={"x": 9}).count("x") == 9
    assert CheckResult(True).kinds == [] and not CheckResult(True).failed
    assert not CheckResult(False, decides=False).failed


def test_results_written_before_check_result_still_read():
    """results.json of older run directories: anomalies under six keys, ``counts: false``."""
    old = {"checkers": {
        "quorum": {"valid": False, "explanation": "q", "violations": {"I3-agreement": [{"zxid": 1}]},
                   "violation_counts": {"I3-agreement": 3}, "stats": {"proposals": 2}},
        "replicas": {"valid": False, "violations": [{"kind": "hw-moved-back", "partition": 0}],
                     "counts": {"hw-moved-back": 1}, "notes": []},
        "session": {"valid": True, "anomalies": {}, "anomaly_counts": {}, "reads": 4},
        "durability": {"valid": False, "anomalies": {"lost-write": [{"index": 2}], "unseen": [{"index": 3}]},
                       "counts": {"lost-write": 1, "unseen": 1}, "bad_kinds": ["lost-write"],
                       "allowed": {"poll-skip": [{"index": 5}]}},
        "liveness": {"valid": False, "explanation": "storm", "anomalies": {"message-storm": 1}},
        "linearizable": {"valid": False, "model": "cas-register", "prefix": [0, 1], "op": {"index": 4}},
        "availability": {"valid": True, "counts": False, "ok": 3, "fail": 0, "info": 1},
        "perf": {"valid": True, "counts": False, "by_period": []},
    }}
    r = checker_results(old)
    assert r["quorum"].anomalies == {"I3-agreement": [{"zxid": 1}]} and r["quorum"].count("I3-agreement") == 3
    assert r["quorum"].details == {"stats": {"proposals": 2}} and r["quorum"].explanation == "q"
    assert r["replicas"].kinds == ["hw-moved-back"] and r["replicas"].anomalies["hw-moved-back"][0]["partition"] == 0
    assert r["session"].valid is True and r["session"].details == {"reads": 4}
    assert r["durability"].kinds == ["lost-write"]
    assert set(r["durability"].allowed) == {"unseen", "poll-skip"}
    assert r["liveness"].kinds == ["message-storm"]
    assert r["linearizable"].kinds == [] and r["linearizable"].details["prefix"] == [0, 1]
    assert not r["availability"].decides and r["availability"].details["ok"] == 3
    assert not r["perf"].decides and r["perf"].decides is False
    assert anomaly_names(failure_signature(old)) == [
        "durability:lost-write", "linearizable", "liveness:message-storm", "quorum:I3-agreement",
        "replicas:hw-moved-back"]


def test_a_plain_dict_from_a_checker_outside_the_package_is_taken():
    r = as_result({"valid": False, "explanation": "x", "anomalies": {"lost": [{"index": 3}]}})
    assert r.failed and r.kinds == ["lost"] and as_result(r) is r


def test_damaged_entries_read_as_what_they_hold():
    r = CheckResult.from_json({"valid": False, "decides": True, "anomalies": {"a": "x", "b": [1, {"k": 2}]},
                               "anomaly_counts": {"b": "many"}, "details": []})
    assert r.anomalies == {"b": [{"k": 2}]} and r.count("b") == 1 and r.details == {}
    assert checker_results({"checkers": {"x": "not a result"}}) == {}
