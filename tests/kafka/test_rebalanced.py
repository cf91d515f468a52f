"""The consumer tells its polls which keys the group coordinator moved (``rebalanced``),
and the durability checker, which follows Jepsen's reassignment rule, agrees with it."""

from __future__ import annotations

from harness.config import RunConfig
from harness.runner import run_test


def test_polls_name_the_keys_the_group_moved_and_the_run_is_valid():
    res = run_test(RunConfig(system="kafka", workload="queue", time_limit=20, recovery_time=10, seed=1,
                             nemesis=("partition", "kill", "clock")))
    keys = {f"k{i}" for i in range(res.config.keys)}
    marked = [e for e in res.out.history if "rebalanced" in e]
    assert marked, "no poll saw a rebalance: the test shows nothing"
    for e in marked:
        assert e["f"] == "poll" and e["type"] == "ok"
        assert e["rebalanced"] and set(e["rebalanced"]) <= keys and e["rebalanced"] == sorted(e["rebalanced"])
    assert res.checkers["durability"].valid is True, res.checkers["durability"]
    assert res.valid is True
