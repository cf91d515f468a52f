"""The neighbour search of a stuck shrink: the schedules with one fault fewer, and their
variants (another seed, faults moved a little), deterministic and always valid runs."""

from __future__ import annotations

from harness.config import SECOND, RunConfig
from harness.shrink.neighbours import JITTER_S, one_fault_fewer, variant
from harness.shrink.schedule import _starts

S = [{"at": 1 * SECOND, "kind": "kill", "args": ["n1"], "episode": 1},
     {"at": 3 * SECOND, "kind": "partition", "args": ["halves", [["n1", "n2"]]], "episode": 2},
     {"at": 4 * SECOND, "kind": "heal", "args": [], "episode": 2},
     {"at": 6 * SECOND, "kind": "restart", "args": ["n1"], "episode": 1},
     {"at": 7 * SECOND, "kind": "pause", "args": ["n2"], "episode": 3}]


def test_one_fault_fewer_drops_an_end_or_an_episode_latest_first():
    got = one_fault_fewer(S)
    assert all(len(s) < len(S) for s in got)
    # the ends first (the restart at 6 s, then the heal at 4 s), then the episodes, latest first
    assert got[0] == [S[0], S[1], S[2], S[4]]
    assert got[1] == [S[0], S[1], S[3], S[4]]
    assert got[2] == [S[0], S[1], S[2], S[3]]  # the pause (episode 3) dropped
    assert got[3] == [S[0], S[3], S[4]]  # the partition with its heal
    assert got[4] == [S[1], S[2], S[4]]  # the kill with its restart
    assert len(got) == 5
    assert one_fault_fewer([]) == []


def test_variants_are_deterministic_valid_and_keep_each_episode_in_order():
    cfg = RunConfig(system="zab", time_limit=8, seed=7, schedule=S).validate()
    assert variant(cfg, 0) == cfg
    vs = [variant(cfg, k) for k in range(1, 21)]
    assert vs == [variant(cfg, k) for k in range(1, 21)]  # a pure function of (config, k)
    assert len({v.seed for v in vs}) == 20 and cfg.seed not in {v.seed for v in vs}
    moved = 0
    for k, v in enumerate(vs, 1):
        v.validate()
        sched = v.schedule or []
        assert sorted((f["kind"], f["episode"]) for f in sched) == sorted((f["kind"], f["episode"]) for f in S)
        assert [f["at"] for f in sched] == sorted(f["at"] for f in sched)
        assert all(0 < f["at"] < cfg.time_limit * SECOND for f in sched)
        starts = _starts(sched)
        assert {e: f["kind"] for e, f in starts.items()} == {1: "kill", 2: "partition", 3: "pause"}
        width = JITTER_S[k % len(JITTER_S)]
        orig = {(f["kind"], f["episode"]): f["at"] for f in S}
        for f in sched:  # moved by at most the width (a start keeps the earliest of its episode)
            assert abs(f["at"] - orig[(f["kind"], f["episode"])]) <= width * SECOND + 1
        if width == 0:
            assert sched == S
        moved += sched != S
        assert v.replace(seed=cfg.seed, schedule=S) == cfg  # nothing else changes
    assert moved >= 12


def test_the_neighbour_search_keeps_the_first_failing_variant_in_order_whatever_the_jobs(tmp_path):
    from checkers.result import failure_signature
    from harness.runner import run_test
    from harness.shrink import Shrinker
    from harness.shrink.neighbours import one_fault_fewer
    from harness.shrink.redraw import pinned

    cfg = RunConfig(system="toy", time_limit=5, seed=2, bugs=("toy-async-backup-reads",),
                    nemesis=("partition", "kill", "clock", "pause"), nemesis_interval=1.5)
    res = run_test(cfg)
    assert res.valid is False
    cfg = cfg.replace(schedule=[f.to_json() for f in res.out.schedule])
    target = failure_signature(res.results)
    kept = []
    for jobs in (1, 2):
        sh = Shrinker(cfg, target, 300, jobs=jobs)
        try:
            assert sh.shrink_neighbours()
        finally:
            sh.close()
        kept.append(sh.config)
    assert kept[0] == kept[1]
    # it is the first, in (variant, neighbour) order, that fails the same way; the
    # neighbours of the schedule with its "leader" targets pinned come after the others
    pin = pinned(cfg.schedule or [], res.out.faults)
    assert pin != cfg.schedule  # this run has kills and a pause of "leader"
    smaller = [cfg.replace(schedule=s) for s in one_fault_fewer(cfg.schedule or []) + one_fault_fewer(pin)]
    order = [variant(c, k) for k in range(1, 41) for c in smaller]
    i = order.index(kept[0])
    assert all(not target <= failure_signature(run_test(c).results) for c in order[:i])
    assert len(kept[0].schedule or []) < len(cfg.schedule or [])


def test_workload_ladders_skip_cuts_of_a_few_percent_and_the_early_one_costs_two_runs():
    from harness.shrink.passes import ladder

    assert ladder(50, 1) == [1, 2, 3, 6, 12, 24]  # 48 would be 4% less: not worth a run
    assert ladder(10, 1) == [1, 2, 3, 6]
    assert ladder(6, 1) == [1, 2, 3]
    assert ladder(2, 1) == [1] and ladder(1, 1) == []
    assert ladder(50, 1, early=True) == [6, 12]  # at most a quarter, the two largest
    assert ladder(10, 1, early=True) == [1, 2]
    assert ladder(3, 1, early=True) == []
