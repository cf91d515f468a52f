"""Shrinking cuts the run itself, not only its schedule: a planted ZAB bug's failing run
ends shorter, with fewer clients and operations, fails the same way and replays exactly;
the window and move-earlier passes' schedule arithmetic; and the checkpoint a shrink
leaves behind when it is SIGKILLed mid-work, which a second shrink resumes from."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from checkers.result import failure_signature
from harness.cli import main
from harness.config import SECOND, RunConfig
from harness.runner import run_test
from harness.shrink import episodes_of, shrink_run
from harness.shrink.checkpoint import read_checkpoint
from harness.shrink.schedule import shifted, window_episodes
from harness.store import load_config, load_results

TESTS = Path(__file__).parent
ROOT = TESTS.parent


def test_a_planted_zab_bug_shrinks_to_a_short_run_that_replays(tmp_path, capsys, monkeypatch):
    import harness.shrink.passes as passes

    monkeypatch.setattr(passes, "RESEEDS", ())  # no other seeds once stalled: a quicker test
    # ZOOKEEPER-1154 (DIFF without TRUNC): caught by the quorum checker at seed 1
    res = run_test(RunConfig(bugs=("zab-no-trunc",), nemesis=("partition", "kill", "crash"), time_limit=15,
                             seed=1), directory=tmp_path / "failing")
    assert res.valid is False
    before = failure_signature(res.results)
    out, sh = shrink_run(res.directory, 300, tmp_path / "shrunk", jobs=1)
    assert not sh.out_of_budget
    after = load_results(out)
    assert before <= failure_signature(after)  # the same failure, every kind of it
    cfg = load_config(out)
    assert cfg.time_limit < res.config.time_limit
    assert cfg.clients < res.config.clients
    assert after["stats"]["operations"] < res.results["stats"]["operations"] // 4
    assert len(cfg.schedule or []) <= 4 < len(res.out.schedule)
    info = json.loads((out / "shrink.json").read_text())
    assert info["after"]["operations"] == after["stats"]["operations"]
    # the checkpoint holds the result, marked complete
    ck = read_checkpoint(out)
    assert ck is not None and ck["complete"] is True and RunConfig.from_dict(ck["config"]) == cfg
    # replayed exactly from its config alone
    assert main(["repro", str(out)]) == 1
    assert "identical" in capsys.readouterr().out


def test_window_episodes_are_those_in_force_and_shifting_moves_them_together():
    s = [{"at": 1 * SECOND, "kind": "kill", "args": ["n1"], "episode": 1},
         {"at": 9 * SECOND, "kind": "restart", "args": ["n1"], "episode": 1},
         {"at": 3 * SECOND, "kind": "partition", "args": ["halves", []], "episode": 2},
         {"at": 4 * SECOND, "kind": "heal", "args": [], "episode": 2},
         {"at": 6 * SECOND, "kind": "pause", "args": ["n2"], "episode": 3},
         {"at": 12 * SECOND, "kind": "kill", "args": ["n3"], "episode": 4}]
    # in force at some time of [5 s, 8 s]: the kill still on, the pause; not the healed
    # partition, not the kill that starts later
    assert window_episodes(s, 5 * SECOND, 8 * SECOND) == [1, 3]
    assert window_episodes(s, 11 * SECOND, 13 * SECOND) == [3, 4]  # a start alone lasts to the final heal
    moved, by = shifted(s, [2, 3], 1 * SECOND)
    assert by == 2 * SECOND
    assert [(f["episode"], f["at"]) for f in moved] == [(2, SECOND), (2, 2 * SECOND), (3, 4 * SECOND)]
    assert all(f["args"] == g["args"] for f, g in zip(moved, [s[2], s[3], s[4]]))
    assert shifted(s, [1], 3 * SECOND) == ([s[0], s[1]], 0)  # never moved later


def _failing_toy_run(directory: Path) -> Path:
    res = run_test(RunConfig(system="toy", time_limit=5, seed=2, bugs=("toy-async-backup-reads",),
                             nemesis=("partition", "kill", "clock", "pause"), nemesis_interval=1.5),
                   directory=directory)
    assert res.valid is False
    return res.directory


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_sigkilled_shrink_leaves_its_best_run_in_a_checkpoint_and_resumes_from_it(tmp_path):
    failing = _failing_toy_run(tmp_path / "failing")
    out_dir = tmp_path / "out"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import toysystem  # registers "toy"
        from harness.shrink import shrink_run
        shrink_run({str(failing)!r}, 600, {str(out_dir)!r}, jobs=1)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while read_checkpoint(out_dir) is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # mid-shrink: the first smaller failing run was just found
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ck = read_checkpoint(out_dir)
    assert ck is not None and ck["complete"] is False
    assert not any(p.name.startswith(".checkpoint-") for p in out_dir.iterdir())  # no torn temporary file
    target = failure_signature(load_results(failing))
    cfg = RunConfig.from_dict(ck["config"]).validate()
    original = load_config(failing)
    assert (cfg.time_limit, len(cfg.schedule or []), cfg.clients, cfg.rate) != \
        (original.time_limit, len(json.loads((failing / "schedule.json").read_text())), original.clients,
         original.rate)
    res = run_test(cfg)  # the checkpointed config is a failing run on its own
    assert target <= failure_signature(res.results)
    assert res.results["stats"]["operations"] == ck["sizes"]["operations"]
    # a second shrink into the same directory starts from it
    logs: list[str] = []
    out, _sh = shrink_run(failing, 60, out_dir, jobs=1, log=logs.append)
    assert any("resumed from the checkpoint" in line for line in logs), logs
    assert len(episodes_of(load_config(out).schedule or [])) <= len(episodes_of(cfg.schedule or []))
    assert read_checkpoint(out)["complete"] is True
