"""The small re-draws of a stuck shrink (schedules of at most the goal's faults from the
episodes last before the anomaly, their nodes renamed; and with an episode an earlier best
run held) and the pinning of ``"leader"`` targets: deterministic, always valid runs, and
the search finds what the neighbours cannot."""

from __future__ import annotations

import random

from harness.config import SECOND, RunConfig
from harness.shrink.redraw import (
    REDRAW_EPISODES,
    ancestor_faults,
    pinned,
    redrawn,
    rename,
    small_schedules,
    with_ancestors,
)
from harness.shrink.schedule import _starts

S = [{"at": 1 * SECOND, "kind": "kill", "args": ["n1"], "episode": 1},
     {"at": 3 * SECOND, "kind": "partition", "args": ["halves", [["n1", "n2"], ["n1", "n3"]]], "episode": 2},
     {"at": 4 * SECOND, "kind": "heal", "args": [], "episode": 2},
     {"at": 6 * SECOND, "kind": "restart", "args": ["n1"], "episode": 1},
     {"at": 7 * SECOND, "kind": "pause", "args": ["leader"], "episode": 3},
     {"at": 8 * SECOND, "kind": "resume", "args": ["leader"], "episode": 3},
     {"at": 9 * SECOND, "kind": "power-off", "args": [3, ["n3", "n1", "n2"], ["n2", "logged"]], "episode": 4}]
SERVERS = ["n1", "n2", "n3"]


def test_small_schedules_keep_at_most_the_goal_from_episodes_started_by_the_onset():
    got = small_schedules(S, 8 * SECOND, 3)  # the power cut (9 s) starts after the onset
    assert got and all(1 <= len(s) <= 3 for s in got)
    assert len({repr(s) for s in got}) == len(got)
    assert all(f["episode"] != 4 for s in got for f in s)
    assert [len(s) for s in got] == sorted((len(s) for s in got), reverse=True)  # most faults first
    for s in got:  # each episode whole, or its start alone
        assert [f["at"] for f in s] == sorted(f["at"] for f in s)
        starts = _starts(S)
        for e in {f["episode"] for f in s}:
            mine = [f for f in s if f["episode"] == e]
            assert mine == [f for f in S if f["episode"] == e] or mine == [starts[e]]
    assert [S[4]] in got and [S[0], S[1], S[4]] in got  # starts alone, the ends left to the final heal
    assert [S[0], S[3], S[4]] in got  # a whole episode and a start
    # the latest episodes first among those of a size: the pause whole, the partition's start
    assert got[0] == [S[1], S[4], S[5]]
    assert small_schedules(S, 8 * SECOND, 1) == [[S[4]], [S[1]], [S[0]]]
    assert small_schedules([S[0]], 8 * SECOND, 3) == []  # nothing smaller


def test_small_schedules_draw_on_the_last_episodes_only():
    many = [{"at": (i + 1) * SECOND, "kind": "kill", "args": ["n1"], "episode": i} for i in range(20)]
    got = small_schedules(many, 30 * SECOND, 2)
    assert {f["episode"] for s in got for f in s} == set(range(20 - REDRAW_EPISODES, 20))


def test_renaming_keeps_each_episode_s_shape_and_role():
    servers = ["z1", "z2", "z3", "b1", "b2", "b3", "b4", "b5"]
    sched = [{"at": 1, "kind": "kill", "args": ["b1"], "episode": 1},
             {"at": 2, "kind": "partition", "args": ["majority-ring", [["b1", "z1"], ["b2", "b3"], ["z2", "z3"]]],
              "episode": 2},
             {"at": 3, "kind": "restart", "args": ["b1"], "episode": 1},
             {"at": 4, "kind": "kill", "args": ["leader"], "episode": 3}]
    seen_leader, seen_moved = set(), 0
    for k in range(60):
        out = rename(sched, servers, random.Random(k))
        assert out == rename(sched, servers, random.Random(k))
        assert [(f["at"], f["kind"], f["episode"]) for f in out] == [(f["at"], f["kind"], f["episode"]) for f in sched]
        assert out[0]["args"] == out[2]["args"] and out[0]["args"][0].startswith("b")  # start and end alike
        cut = out[1]["args"][1]
        assert cut == sorted(sorted(p) for p in cut) and len(cut) == 3
        assert sorted(n[0] for p in cut for n in p) == sorted(n[0] for p in sched[1]["args"][1] for n in p)
        seen_leader.add(out[3]["args"][0])
        seen_moved += out[0]["args"] != ["b1"]
    assert "leader" in seen_leader and len(seen_leader) > 2  # the leader target sometimes pinned
    assert seen_moved > 30


def test_redrawn_variants_are_pure_and_valid():
    cfg = RunConfig(system="zab", nodes=3, time_limit=10, seed=7, schedule=S).validate()
    small = small_schedules(S, 10 * SECOND, 3)
    assert redrawn(cfg, small[0], SERVERS, 0) == cfg.replace(schedule=small[0])
    vs = [redrawn(cfg, s, SERVERS, k) for k in range(1, 8) for s in small]
    assert vs == [redrawn(cfg, s, SERVERS, k) for k in range(1, 8) for s in small]
    for v in vs:
        v.validate()
        assert len(v.schedule or []) <= 3 and v.seed != cfg.seed
    assert len({repr(v.schedule) for v in vs}) > len(small) * 4  # renamed and moved, not repeats


def test_pinned_puts_the_server_the_leader_target_hit_in_the_fault_log():
    log = [{"time": 1, "kind": "kill", "args": ["n1"], "episode": 1, "node": "n1", "changed": True},
           {"time": 7, "kind": "pause", "args": ["leader"], "episode": 3, "node": "n3", "changed": True},
           {"time": 8, "kind": "resume", "args": ["leader"], "episode": 3, "node": "n3", "changed": True},
           {"time": 9, "kind": "heal-all"}]
    got = pinned(S, log)
    assert got[4]["args"] == ["n3"] and got[5]["args"] == ["n3"]
    assert [f for i, f in enumerate(got) if i not in (4, 5)] == [f for i, f in enumerate(S) if i not in (4, 5)]
    assert pinned(S, log[:1]) == S  # the pause never fired: nothing to pin


def test_the_redraw_finds_two_faults_where_no_neighbour_fails():
    """zab-vote-order-not-total shrunk to 4 faults (a kill of n1 and a partition cost the
    leader n5 its quorum; a power cut armed at n5's newleader_received): none of its
    3-fault neighbours fails in 400 variants; renamed, 2 faults do."""
    from checkers.result import failure_signature
    from harness.runner import run_test
    from harness.shrink import Shrinker

    cfg = RunConfig(system="zab", workload="register", nemesis=("power", "partition", "kill"), nodes=5,
                    clients=1, rate=1.0, time_limit=9.0, seed=343007043982809383, keys=1,
                    bugs=("zab-vote-order-not-total",), schedule=[
                        {"at": 3044551412, "kind": "power-off", "episode": 19,
                         "args": [5, ["n1", "n4", "n5", "n2", "n3"], ["n5", "newleader_received"]]},
                        {"at": 5517433237, "kind": "kill", "args": ["n1"], "episode": 7},
                        {"at": 6640450981, "kind": "partition", "episode": 15, "args": ["halves", [
                            ["n1", "n2"], ["n1", "n4"], ["n2", "n3"], ["n2", "n5"], ["n3", "n4"], ["n4", "n5"]]]},
                        {"at": 7639153383, "kind": "heal", "args": [], "episode": 15}]).validate()
    target = frozenset({("liveness", "message-storm")})
    sh = Shrinker(cfg, target, 300, jobs=2)  # raises unless cfg fails with the target
    try:
        found = False
        for _ in range(4):  # a step at a time, as the passes call it
            if sh.shrink_redraw():
                found = True
                break
    finally:
        sh.close()
    assert found
    assert len(sh.config.schedule or []) <= 3
    assert target <= failure_signature(run_test(sh.config).results)


def _moved(schedule, by):
    return [{**f, "at": f["at"] - by} for f in schedule]


def test_ancestor_faults_bring_back_the_removed_episodes_moved_as_the_schedule_was():
    early = {"at": SECOND // 2, "kind": "kill", "args": ["n2"], "episode": 9}
    older = sorted(S + [early], key=lambda f: f["at"])
    # the parent: the pause (3) and the early kill (9) removed, the partition (2) renamed,
    # everything moved 0.5 s earlier; the best: the partition removed, 0.25 s earlier again
    renamed = {**S[1], "args": ["halves", [["n2", "n3"], ["n1", "n2"]]]}
    parent = _moved([S[0], renamed, S[2], S[3], S[6]], SECOND // 2)
    best = _moved([parent[0], parent[3], parent[4]], SECOND // 4)
    got = ancestor_faults(best, [older, parent])
    assert got == ancestor_faults(best, [older, parent])  # pure
    assert [f["at"] for f in got] == sorted(f["at"] for f in got)
    by = {e: [f for f in got if f["episode"] == e] for e in {f["episode"] for f in got}}
    assert set(by) == {2, 3}  # 9 would start before the run: left out
    assert by[2] == _moved([renamed, S[2]], 3 * SECOND // 4)  # as the parent had it, moved as the best was
    assert by[3] == _moved([S[4], S[5]], 3 * SECOND // 4)  # from the older one, moved by both shifts
    assert ancestor_faults(best, []) == [] and ancestor_faults(S, [S]) == []


def test_with_ancestors_adds_one_removed_episode_to_a_sub_schedule_fewest_faults_first():
    best = [S[0], S[3], S[4], S[5]]  # the kill whole and the pause whole: 4 faults
    extra = [S[1], S[2], S[6]]  # the partition (whole or its start) and the power cut (9 s)
    got = with_ancestors(best, extra, 8 * SECOND, 3)
    assert got == with_ancestors(best, extra, 8 * SECOND, 3)
    assert len({repr(s) for s in got}) == len(got)
    assert [len(s) for s in got] == sorted(len(s) for s in got)  # fewest faults first
    starts = _starts(best)
    for s in got:
        assert 1 <= len(s) <= 3 and [f["at"] for f in s] == sorted(f["at"] for f in s)
        mine = [f for f in s if f["episode"] == 2]
        assert mine in ([S[1]], [S[1], S[2]])  # the partition, whole or its start alone
        assert all(f["episode"] != 4 for f in s)  # the power cut starts after the onset
        for e in {f["episode"] for f in s} - {2}:  # the rest: the best's episodes, whole or started
            part = [f for f in s if f["episode"] == e]
            assert part == [f for f in best if f["episode"] == e] or part == [starts[e]]
    assert got[0] == [S[1]]
    assert [S[1], S[4]] in got and [S[0], S[1], S[4]] in got and [S[0], S[1], S[3]] in got
    assert with_ancestors(best, [], 8 * SECOND, 3) == []


def test_the_shrinker_offers_an_earlier_best_run_s_episode_again():
    """kafka-epoch-answer-unknown's search failure shrank to 4 faults, power cuts alone:
    the families pass had removed the partitions, and no neighbour or re-draw of the four
    fails. A partition an earlier best run held, with the last power cut, does."""
    from checkers.result import failure_signature
    from harness.runner import run_test
    from harness.shrink import Shrinker

    power = [{"at": 3000000000, "kind": "power-off", "episode": 63,
              "args": [5, ["b4", "b2", "b5", "b1", "z3", "z1", "b3", "z2"], []]},
             {"at": 4768243030, "kind": "power-on", "episode": 63,
              "args": [[1, 0, 4, 3, 2], [1268664099, 258955949, 1084168737, 856385877]]},
             {"at": 5357029869, "kind": "power-off", "episode": 64,
              "args": [5, ["b2", "b1", "b4", "b3", "z2", "b5", "z1", "z3"], []]},
             {"at": 11710123682, "kind": "power-off", "episode": 66,
              "args": [8, ["b2", "b3", "z2", "b1", "b5", "b4", "z3", "z1"], []]}]
    cut = [["b1", "b2"], ["b2", "b3"], ["b2", "b4"], ["b2", "b5"], ["b2", "z1"], ["b2", "z2"], ["b2", "z3"]]
    partition = [{"at": 3172841463, "kind": "partition", "episode": 40, "args": ["isolate-one", cut]},
                 {"at": 5781683302, "kind": "heal", "args": [], "episode": 40}]
    cfg = RunConfig.from_dict({
        "system": "kafka", "workload": "queue", "nodes": 5, "clients": 10, "rate": 3.0, "time_limit": 12.0,
        "seed": 11130291584889987807, "keys": 3, "bugs": ["kafka-epoch-answer-unknown"],
        "nemesis": ["clock", "crash", "kill", "partition", "pause", "power", "slow"], "nemesis_interval": 2.0,
        "settings": {"counter_bits": 8, "replica_lag_time_max": 500000000, "session_timeout": 600000000,
                     "client_timeout": 400000000, "connect_timeout": 200000000,
                     "unclean_leader_election_enable": True},
        "schedule": power}).validate()
    earlier = cfg.replace(schedule=sorted(power + partition, key=lambda f: f["at"]))
    target = frozenset({("replicas", "replicas-disagree-after-healing")})
    sh = Shrinker(cfg, target, 300, jobs=2)
    try:
        assert sh.history == [sh.config]
        assert not sh.shrink_ancestors()  # no earlier best run: nothing to offer
        sh.history.insert(0, earlier)  # as if a pass had removed the partition
        del sh._an  # (the history changed under the same best run: start over)
        assert any(sh.shrink_ancestors() for _ in range(3))
    finally:
        sh.close()
    got = sh.config.schedule or []
    assert len(got) <= 3 and 40 in {f["episode"] for f in got}
    assert sh.history[-1] is sh.config and sh.history[0] is earlier
    assert target <= failure_signature(run_test(sh.config).results)
