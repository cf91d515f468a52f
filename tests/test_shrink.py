"""Shrinking: a failing toy run gets smaller and still fails the same way; bad input is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import SECOND, RunConfig
from harness.runner import run_test
from harness.shrink import (anomaly_names, ddmin, episodes_of, failure_signature, shrink_int,
                            trim_schedule)
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
    # the shrunk run is a normal run directory: repro re-runs it byte for byte from its config
    assert main(["repro", str(shrunk)]) == 1
    assert "identical" in capsys.readouterr().out


def test_shrink_to_the_store_and_within_a_spent_budget(failing_run, tmp_path, capsys):
    assert main(["shrink", str(failing_run), "--store", str(tmp_path), "--budget", "1e-9"]) == 0
    out = tmp_path / "runs" / (failing_run.name + ".shrunk")
    assert load_results(out)["valid"] is False  # at worst, the original run again
    assert json.loads((out / "shrink.json").read_text())["out_of_budget"] is True
    assert "budget spent" in capsys.readouterr().out


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


def test_trim_schedule_drops_late_episodes_and_clamps_ends():
    s = [{"at": 1 * SECOND, "kind": "kill", "args": ["n1"], "episode": 1},
         {"at": 4 * SECOND, "kind": "restart", "args": ["n1"], "episode": 1},
         {"at": 3 * SECOND, "kind": "partition", "args": [], "episode": 2},
         {"at": 5 * SECOND, "kind": "heal", "args": [], "episode": 2}]
    t = trim_schedule(s, 2)
    assert [(f["kind"], f["at"]) for f in t] == [("kill", SECOND), ("restart", 2 * SECOND - 1)]


def test_failure_signature_ignores_what_does_not_count():
    results = {"checkers": {
        "linearizable": {"valid": False},
        "linearizable-local-reads": {"valid": False, "counts": False},
        "durability": {"valid": False, "anomalies": {"lost-write": 2, "duplicate": 1}},
        "mutex": {"valid": False, "anomaly": "overlap"},
        "liveness": {"valid": True},
        "quorum": {"valid": "unknown"},
    }}
    sig = failure_signature(results)
    assert anomaly_names(sig) == ["durability:duplicate", "durability:lost-write", "linearizable", "mutex:overlap"]
    assert failure_signature({"checkers": {"liveness": {"valid": True}}}) == frozenset()
