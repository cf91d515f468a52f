"""Shrinking: a failing toy run gets smaller and still fails the same way; bad input is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checkers.result import CheckResult, anomaly_names, failure_signature
from harness.cli import main
from harness.config import SECOND, ConfigError, RunConfig
from harness.runner import run_test
from harness.shrink import ddmin, episodes_of, inert_episodes, shrink_int, shrink_run, trim_schedule
from harness.store import load_config, load_results

BUG = "toy-async-backup-reads"


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory) -> Path:
    # Many short fault episodes, so there is a lot to remove.
    cfg = RunConfig(system="toy", time_limit=5, seed=2, bugs=(BUG,), nemesis=("partition", "kill", "clock", "pause"),
                    nemesis_interval=1.5)
    res = run_test(cfg, directory=tmp_path_factory.mktemp("store") / "failing")
    assert res.valid is False
    return res.directory


def test_shrink_reduces_the_schedule_and_still_fails(failing_run, capsys):
    assert main(["shrink", str(failing_run)]) == 0
    out = capsys.readouterr().out
    shrunk = failing_run.with_name(failing_run.name + ".shrunk")
    before = json.loads((failing_run / "schedule.json").read_text())
    after = json.loads((shrunk / "schedule.json").read_text())
    assert len(episodes_of(after)) < len(episodes_of(before)) >= 5
    assert len(after) < len(before)
    assert {f["episode"] for f in after} <= {f["episode"] for f in before}
    res = load_results(shrunk)
    assert res["valid"] is False and failure_signature(res) == failure_signature(load_results(failing_run))
    assert res["stats"]["operations"] < load_results(failing_run)["stats"]["operations"]
    cfg = load_config(shrunk)
    assert cfg.schedule == after and cfg.clients < 10
    info = json.loads((shrunk / "shrink.json").read_text())
    assert info["after"]["episodes"] == len(episodes_of(after)) and info["signature"] == ["linearizable"]
    for word in ("faults", "episodes", "clients", "operations", "time limit", f"harness repro {shrunk}"):
        assert word in out
    # its report says where it came from and what shrinking did
    page = (shrunk / "report.html").read_text()
    assert f"report:  {shrunk / 'report.html'}" in out
    assert 'id="shrunk"' in page and str(failing_run) in page and "faults" in page
    # the shrunk run is a normal run directory: repro re-runs it byte for byte from its config
    assert main(["repro", str(shrunk)]) == 1
    assert "identical" in capsys.readouterr().out


def test_shrink_to_the_store_and_within_a_spent_budget(failing_run, tmp_path, capsys):
    assert main(["shrink", str(failing_run), "--store", str(tmp_path), "--budget", "1e-9", "--no-report"]) == 0
    out = tmp_path / "runs" / (failing_run.name + ".shrunk")
    assert load_results(out)["valid"] is False  # at worst, the original run again
    assert json.loads((out / "shrink.json").read_text())["out_of_budget"] is True
    assert "budget spent" in capsys.readouterr().out
    assert not (out / "report.html").exists()


def test_bad_input_is_one_line_and_exit_254(failing_run, tmp_path, capsys):
    valid = run_test(RunConfig(system="toy", time_limit=2, seed=1), directory=tmp_path / "valid").directory
    cases = [
        ([str(tmp_path / "missing")], "no run directory"),
        ([str(valid)], "did not fail"),
        ([str(failing_run), "--budget", "0"], "--budget must be positive"),
    ]
    for argv, message in cases:
        assert main(["shrink", *argv]) == 254
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_ddmin_finds_a_one_minimal_subset():
    calls = []

    def needs_3_and_11(xs):
        calls.append(list(xs))
        return {3, 11} <= set(xs)

    assert ddmin(list(range(20)), needs_3_and_11) == [3, 11]
    assert ddmin(list(range(20)), lambda xs: True) == []
    assert ddmin([5], lambda xs: 5 in xs) == [5]


def test_shrink_int_bisects_to_the_threshold():
    assert shrink_int(50, 1, lambda v: v >= 17) == 17
    assert shrink_int(50, 1, lambda v: True) == 1
    assert shrink_int(1, 1, lambda v: True) == 1


def test_trim_schedule_drops_late_episodes_and_leaves_late_ends_to_the_final_heal():
    s = [{"at": 1 * SECOND, "kind": "kill", "args": ["n1"], "episode": 1},
         {"at": 4 * SECOND, "kind": "restart", "args": ["n1"], "episode": 1},
         {"at": 3 * SECOND, "kind": "partition", "args": [], "episode": 2},
         {"at": 5 * SECOND, "kind": "heal", "args": [], "episode": 2},
         {"at": SECOND // 2, "kind": "pause", "args": ["n2"], "episode": 3},
         {"at": SECOND, "kind": "resume", "args": ["n2"], "episode": 3}]
    t = trim_schedule(s, 2)
    assert [(f["kind"], f["at"]) for f in t] == [("kill", SECOND), ("pause", SECOND // 2), ("resume", SECOND)]


def test_batched_search_chooses_as_sequential_search_does():
    """With ``first`` judging a round's candidates together (as a process pool does), ddmin
    and the integer search keep exactly what one-by-one evaluation keeps."""
    def first_of(pred):
        return lambda cands: next((i for i, c in enumerate(cands) if pred(c)), None)

    for need in ({3, 11}, {0}, {19}, {2, 5, 17}, set()):
        def pred(xs, need=need):
            return need <= set(xs)

        assert ddmin(range(20), first=first_of(pred)) == ddmin(range(20), pred) == sorted(need)
    for threshold in (1, 2, 17, 49, 50):
        def pred(v, t=threshold):
            return v >= t

        for width in (1, 2, 3):
            for hints in ((), (18,), (3, 40)):
                assert shrink_int(50, 1, first=first_of(pred), width=width, hints=hints) == threshold


def test_inert_episodes_are_those_that_changed_nothing():
    log = [
        {"time": 1, "kind": "kill", "episode": 1, "node": "n1", "changed": True},
        {"time": 2, "kind": "kill", "episode": 2, "node": "n1", "changed": False},
        {"time": 3, "kind": "restart", "episode": 2, "node": "n1", "changed": False},
        {"time": 4, "kind": "restart", "episode": 1, "node": "n1", "changed": True},
        {"time": 5, "kind": "power-off", "episode": 3, "node": "n2", "point": "logged", "armed": True},
        {"time": 6, "kind": "power-on", "episode": 3, "nodes": [], "changed": False},
        {"time": 7, "kind": "power-off", "episode": 4, "node": "n2", "point": "logged", "armed": True},
        {"time": 8, "kind": "power-cut", "episode": 4, "node": "n2", "nodes": ["n2", "n3"]},
        {"time": 9, "kind": "crash-at", "episode": 5, "node": "n3", "point": "logged", "changed": True},
        {"time": 10, "kind": "restart", "episode": 5, "node": "n3", "changed": False},
        {"time": 11, "kind": "partition", "episode": 6, "mode": "halves", "cut": []},
        {"time": 12, "kind": "heal-all"},
    ]
    assert inert_episodes(log) == [2, 3, 5]


def test_shrink_in_parallel_keeps_what_sequential_shrinking_keeps(failing_run, tmp_path):
    one, sh1 = shrink_run(failing_run, 120, tmp_path / "one", jobs=1)
    two, sh2 = shrink_run(failing_run, 120, tmp_path / "two", jobs=2)
    assert not sh1.out_of_budget and not sh2.out_of_budget
    assert load_config(one) == load_config(two)
    assert (one / "history.jsonl").read_bytes() == (two / "history.jsonl").read_bytes()


def test_bisection_passes_probe_the_same_candidates_whatever_the_jobs(failing_run):
    from harness.shrink import Shrinker

    config = load_config(failing_run)
    target = failure_signature(load_results(failing_run))
    probed = {}
    for jobs in (1, 2, 3):
        sh = Shrinker(config, target, 120, jobs=jobs)
        seen: list[list[float]] = []
        real = sh.first_of

        def spy(cands, real=real, seen=seen):
            seen.append([c.time_limit for c in cands])
            return real(cands)

        sh.first_of = spy
        try:
            sh.shrink_time_limit(hint=True)
            sh.shrink_shift()
            sh.shrink_prefix()
        finally:
            sh.close()
        probed[jobs] = (seen, sh.config)
    assert probed[1] == probed[2] == probed[3]
    assert any(len(batch) > 1 for batch in probed[1][0])  # the passes did probe in batches


def test_keep_names_what_must_still_fail(failing_run, tmp_path):
    _out, sh = shrink_run(failing_run, 60, tmp_path / "kept", keep=[("linearizable", None)])
    assert sh.target == frozenset({("linearizable", None)})
    with pytest.raises(ConfigError, match="--keep quorum"):
        shrink_run(failing_run, 60, tmp_path / "bad", keep=[("quorum", None)])
    assert main(["shrink", str(failing_run), "--keep", "linearizable:lost", "--budget", "5"]) == 254


def test_failure_signature_ignores_what_does_not_count():
    checks = {
        "linearizable": CheckResult(False),
        "linearizable-local-reads": CheckResult(False, decides=False, anomalies={"stale": [{}]}),
        "durability": CheckResult(False, anomalies={"lost-write": [{}, {}], "duplicate": [{}]},
                                  allowed={"unseen": [{}]}),
        "mutex": CheckResult(False, anomalies={"overlap": [{"from": 1}]}),
        "liveness": CheckResult(True),
        "quorum": CheckResult("unknown", anomalies={"I3-agreement": []}),
    }
    results = {"checkers": {n: c.to_json() for n, c in checks.items()}}
    sig = failure_signature(results)
    assert anomaly_names(sig) == ["durability:duplicate", "durability:lost-write", "linearizable", "mutex:overlap"]
    assert failure_signature({"checkers": {"liveness": CheckResult(True).to_json()}}) == frozenset()


def test_anomaly_time_is_within_the_run(failing_run):
    from harness.shrink import anomaly_time

    res = run_test(load_config(failing_run))
    t = anomaly_time(res, failure_signature(res.results))
    assert t is not None and 0 < t <= res.config.time_limit + res.config.recovery_time


def test_stalled_shrinking_tries_other_seeds_in_a_fixed_order(failing_run, tmp_path):
    from harness import shrink as sm

    cfg = load_config(failing_run)
    sh = sm.Shrinker(cfg, failure_signature(load_results(failing_run)), 60)
    assert sh._variants(cfg) == [cfg]  # none until the passes stall
    sh.reseeds = 3
    seeds = [c.seed for c in sh._variants(cfg)]
    assert seeds[0] == cfg.seed and len(set(seeds)) == 4
    assert [c.seed for c in sh._variants(cfg)] == seeds  # deterministic
    assert all(c.replace(seed=cfg.seed) == cfg for c in sh._variants(cfg))  # only the seed differs


def test_fewer_clients_drop_the_episodes_that_name_the_clients_gone():
    from harness.shrink.passes import Shrinker

    schedule = [
        {"at": 1 * SECOND, "kind": "pause", "args": ["c3"], "episode": 1},
        {"at": 2 * SECOND, "kind": "kill", "args": ["n1"], "episode": 2},
        {"at": 3 * SECOND, "kind": "resume", "args": ["c3"], "episode": 1},
        {"at": 4 * SECOND, "kind": "clock-skew", "args": ["c1", 1000], "episode": 3},
        {"at": 5 * SECOND, "kind": "restart", "args": ["n1"], "episode": 2},
    ]
    cfg = RunConfig(system="zab", workload="election", clients=4, schedule=schedule)
    assert Shrinker._with(cfg, "clients", 2).schedule == [schedule[1], schedule[3], schedule[4]]
    assert Shrinker._with(cfg, "clients", 1).schedule == [schedule[1], schedule[4]]
    assert Shrinker._with(cfg, "keys", 1).schedule == schedule
    # the register workload's clients are never fault targets: nothing to drop
    reg = cfg.replace(workload="register", schedule=[schedule[1], schedule[4]])
    assert Shrinker._with(reg, "clients", 1).schedule == reg.schedule
    # what the dropped episodes would have been: a run that names a client it lacks
    with pytest.raises(ConfigError, match=r"the pause at 1 s names c3, which is not a node of this run"):
        run_test(cfg.replace(clients=2, time_limit=6))


def test_a_schedule_naming_a_node_the_run_lacks_is_one_line_and_exit_254(tmp_path, capsys):
    run = run_test(RunConfig(system="toy", time_limit=2, seed=1), directory=tmp_path / "run").directory
    config = json.loads((run / "config.json").read_text())
    config["schedule"] = [{"at": SECOND, "kind": "kill", "args": ["n9"], "episode": 1}]
    (run / "config.json").write_text(json.dumps(config))
    assert main(["repro", str(run)]) == 254
    err = capsys.readouterr().err
    assert "the kill at 1 s names n9, which is not a node of this run" in err and err.count("\n") == 1, err


def test_a_schedule_past_the_main_phase_is_bad_input(tmp_path, capsys):
    # Faults after --time-limit would go off during the fault-free recovery.
    late = [{"at": 3 * SECOND, "kind": "kill", "args": ["n1"], "episode": 1}]
    with pytest.raises(ConfigError, match=r"the kill at 3 s is outside the main phase \(0 to --time-limit 2 s\)"):
        RunConfig(system="toy", time_limit=2, schedule=late).validate()
    RunConfig(system="toy", time_limit=4, schedule=late).validate()
    run = run_test(RunConfig(system="toy", time_limit=2, seed=1), directory=tmp_path / "run").directory
    config = json.loads((run / "config.json").read_text())
    config["schedule"] = late
    (run / "config.json").write_text(json.dumps(config))
    assert main(["repro", str(run)]) == 254
    err = capsys.readouterr().err
    assert "outside the main phase" in err and err.count("\n") == 1, err
