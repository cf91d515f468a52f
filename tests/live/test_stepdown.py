"""Step-down windows from the role monitor's record, and the reads served inside them."""

from __future__ import annotations

from harness.live.zookeeper.stepdown import stepdown_reads, stepdown_windows

S = 1_000_000_000


def _roles():
    return [
        {"time": 0, "node": "n1", "mode": "leader", "epoch": 1},
        {"time": 0, "node": "n2", "mode": "follower", "epoch": 1},
        {"time": 8 * S, "node": "n2", "mode": "leader", "epoch": 2},  # n1 paused: n2 takes over
        {"time": 12 * S, "node": "n1", "mode": "follower", "epoch": 2},  # n1 steps down at 12 s
    ]


def test_window_runs_from_the_newer_leader_to_the_old_one_stepping_down():
    w = stepdown_windows(_roles(), end=20 * S)
    assert w == [{"node": "n1", "epoch": 1, "deposed_at": 8 * S, "stepped_down_at": 12 * S}]


def test_no_window_without_a_newer_epoch():
    roles = [{"time": 0, "node": "n1", "mode": "leader", "epoch": 1},
             {"time": 5 * S, "node": "n1", "mode": None, "epoch": None}]
    assert stepdown_windows(roles, end=10 * S) == []


def test_counts_only_reads_of_the_deposed_server_inside_its_window():
    h = [
        {"process": 0, "type": "invoke", "f": "read", "time": 10 * S},
        {"process": 0, "type": "ok", "f": "read", "time": 10 * S + 5, "node": "n1", "value": 0},  # inside
        {"process": 1, "type": "invoke", "f": "read", "time": 10 * S},
        {"process": 1, "type": "ok", "f": "read", "time": 10 * S + 5, "node": "n2", "value": 1},  # other server
        {"process": 0, "type": "invoke", "f": "read", "time": 7 * S},
        {"process": 0, "type": "ok", "f": "read", "time": 11 * S, "node": "n1", "value": 0},  # invoked before
        {"process": 2, "type": "invoke", "f": "read", "time": 11 * S},
        {"process": 2, "type": "fail", "f": "read", "time": 11 * S + 1, "node": "n1"},  # not served
        {"process": 3, "type": "invoke", "f": "write", "time": 11 * S, "value": 3},
        {"process": 3, "type": "ok", "f": "write", "time": 11 * S + 1, "node": "n1", "value": 3},
    ]
    r = stepdown_reads(h, _roles(), end=20 * S)
    assert r["reads_in_windows"] == 1
    assert r["windows"][0]["reads_served"] == 1
