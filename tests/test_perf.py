"""The perf checker: availability and latency by what was going on at invoke."""

from __future__ import annotations

from checkers.perf import AFTER, NO_FAULT, check_perf, fault_intervals

S = 1_000_000_000


def op(p, t0, t1, typ="ok", f="write", error=None):
    done = {"process": p, "type": typ, "f": f, "time": t1}
    if error:
        done["error"] = error
    return [{"process": p, "type": "invoke", "f": f, "time": t0}, done]


FAULTS = [
    {"time": 2 * S, "kind": "partition", "episode": 1},
    {"time": 3 * S, "kind": "kill", "episode": 2, "node": "n1"},
    {"time": 4 * S, "kind": "heal", "episode": 1},
    {"time": 5 * S, "kind": "clock-skew", "episode": 3, "node": "n2", "ppm": -800_000},
    {"time": 6 * S, "kind": "power-off", "episode": 4, "nodes": []},
    {"time": 7 * S, "kind": "power-cut", "episode": 4, "nodes": ["n1"]},
    {"time": 8 * S, "kind": "power-on", "episode": 4, "nodes": ["n1"]},
    {"time": 8 * S + 5, "kind": "restart", "episode": 4, "node": "n1"},
    {"time": 10 * S, "kind": "heal-all"},
]


def test_fault_intervals_pair_episodes_and_heal_all_ends_the_rest():
    assert fault_intervals(FAULTS) == [
        ("partition", 2 * S, 4 * S),
        ("kill", 3 * S, 10 * S),      # never restarted: heal-all ends it
        ("slow", 5 * S, 10 * S),      # a skew to 20% speed is the slow family
        ("power", 7 * S, 8 * S + 5),  # from the cut to the last restart
    ]


def test_operations_are_counted_in_every_period_active_at_invoke():
    h = (op(1, 1 * S, 1 * S + 10_000_000)                          # no fault, ok, 10 ms
         + op(2, int(3.5 * S), int(3.5 * S) + 2_000_000_000, "info")  # partition + kill, not served
         + op(3, int(3.6 * S), int(3.6 * S) + 5_000_000, "fail", error="value mismatch")  # served
         + op(4, int(7.5 * S), int(7.5 * S) + 30_000_000)           # kill, slow, power
         + op(5, 11 * S, 11 * S + 1_000_000))                       # after healing
    res = check_perf(h, FAULTS, 10 * S, frozenset({"value mismatch"}))
    rows = {r["period"]: r for r in res.details["by_period"]}
    assert [r["period"] for r in res.details["by_period"]] == [NO_FAULT, "kill", "partition", "power", "slow", AFTER]
    assert rows[NO_FAULT] == {"period": NO_FAULT, "ops": 1, "served_fraction": 1.0,
                              "latency_p50_ms": 10.0, "latency_p99_ms": 10.0}
    assert rows["partition"]["ops"] == 2 and rows["partition"]["served_fraction"] == 0.5
    assert rows["partition"]["latency_p50_ms"] is None  # no ok operation there
    assert rows["kill"]["ops"] == 3 and rows["power"]["ops"] == 1 and rows["slow"]["ops"] == 1
    assert rows[AFTER]["ops"] == 1
    assert res.valid is True and res.decides is False
    assert "partition 50.0% of 2" in res.explanation


def test_a_zab_run_reports_perf_beside_availability():
    from checkers.result import checker_results
    from harness.config import RunConfig
    from harness.runner import run_test

    res = run_test(RunConfig(seed=2, time_limit=20, nemesis=("partition", "kill")))
    perf = checker_results(res.results)["perf"]
    periods = [r["period"] for r in perf.details["by_period"]]
    assert periods[0] == NO_FAULT and periods[-1] == AFTER and "partition" in periods
    total = checker_results(res.results)["availability"].details
    assert sum(r["ops"] for r in perf.details["by_period"] if r["period"] in (NO_FAULT, AFTER)) <= \
        total["ok"] + total["fail"] + total["info"]


def test_the_report_shows_one_row_per_period():
    from reports.explain import checker_view

    res = check_perf(op(1, 1 * S, 1 * S + 10_000_000) + op(2, 11 * S, 11 * S + 2_000_000), FAULTS, 10 * S)
    v = checker_view(None, "perf", res)  # type: ignore[arg-type]  # perf needs no run data
    assert v.status == "valid (not counted)"
    assert v.facts == [(NO_FAULT, "100.0% served of 1 operations; ok latency p50 10 ms, p99 10 ms"),
                       (AFTER, "100.0% served of 1 operations; ok latency p50 2 ms, p99 2 ms")]
