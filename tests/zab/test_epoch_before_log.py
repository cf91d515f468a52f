"""zab-epoch-before-log (ZOOKEEPER-4643) from three fault episodes, built by hand.

A follower that writes currentEpoch before flushing the txns of its sync, and crashes in
between, comes back with the new epoch and a short log; its vote then beats the servers
that hold the committed txns but not yet that epoch, and as leader it truncates them.
The schedule gives it each thing it needs, one episode each (3 servers):

1. a partition cuts n3 off while n1 and n2 commit txns (n3 lacks them);
2. the leader is killed, so the next epoch is formed by n3 and the other server, and
   n3 syncs those txns from it;
3. a power cut armed at n3's ``current_epoch`` crash point takes n3 and that epoch's
   leader down between n3's two writes; the killed server is back before the power
   comes on, n3 first: n3 (new epoch, short log) and it (old epoch, long log) elect n3.

The hunts find the bug with power cuts alone, where it takes at least 4 schedule entries
and the shrinker stops far above that (see harness/shrink/__init__.py, "A known limit").
This pins the mechanism: the same schedule must fail with the bug and pass without.
"""

from __future__ import annotations

from typing import Any

from harness.config import RunConfig
from harness.runner import run_test
from harness.units import SECOND

BUG = "zab-epoch-before-log"


def _schedule() -> list[dict[str, Any]]:
    s = SECOND
    return sorted([
        {"at": 2 * s, "kind": "partition", "args": ["isolate-one", [["n3", "n1"], ["n3", "n2"]]], "episode": 1},
        {"at": 7 * s, "kind": "heal", "args": [], "episode": 1},
        {"at": 4 * s, "kind": "kill", "args": ["leader"], "episode": 2},
        {"at": 13 * s, "kind": "restart", "args": ["leader"], "episode": 2},
        {"at": 2 * s + s // 2, "kind": "power-off", "args": [2, ["n1", "n2", "n3"], ["n3", "current_epoch"]],
         "episode": 3},
        {"at": 15 * s, "kind": "power-on", "args": [[0, 1], [s]], "episode": 3},
    ], key=lambda f: f["at"])


def _config(bugs: tuple[str, ...]) -> RunConfig:
    return RunConfig(system="zab", workload="register", nodes=3, clients=5, time_limit=40, seed=1, bugs=bugs,
                     nemesis=("partition", "kill", "power"), schedule=_schedule())


def test_three_episodes_expose_the_epoch_written_before_the_log() -> None:
    r = run_test(_config((BUG,)))
    quorum = r.checkers["quorum"]
    assert quorum.valid is False
    assert {"committed-log-durability", "I6-primary-integrity"} <= set(quorum.anomalies)
    # the chain the docstring describes, in the run's own records
    cut = [f for f in r.out.faults if f["kind"] == "power-cut"]
    assert [(f["node"], f["point"]) for f in cut] == [("n3", "current_epoch")]
    (victims,) = [f["nodes"] for f in cut]
    assert victims[0] == "n3" and len(victims) == 2
    truncated = {e["node"] for e in r.out.trace if e["kind"] == "truncate" and e["time"] > 15 * SECOND}
    assert truncated, "n3's epoch should have cut committed txns from the others"
    assert "n3" not in truncated


def test_the_same_schedule_passes_without_the_bug() -> None:
    r = run_test(_config(()))
    assert r.valid is True, {k: c.explanation for k, c in r.checkers.items() if c.valid is not True}
    assert any(f["kind"] == "power-cut" for f in r.out.faults)
