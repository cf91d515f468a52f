"""`harness repro` of a live run re-runs its config and compares verdicts, not bytes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import cli
from harness.config import RunConfig


def _run_dir(tmp_path: Path, valid) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    cfg = RunConfig(system="zookeeper", nodes=3, time_limit=5.0, seed=7)
    (d / "config.json").write_text(json.dumps(cfg.to_dict()))
    (d / "results.json").write_text(json.dumps({"valid": valid, "live": True,
                                                "checkers": {"linearizable": {"valid": valid}}}))
    (d / "history.jsonl").write_text("")
    return d


@pytest.mark.parametrize("stored,rerun,word,code", [(True, True, "same verdict", 0),
                                                     (True, False, "DIFFERENT verdict", 1)])
def test_repro_of_a_live_run_compares_verdicts(tmp_path, monkeypatch, capsys, stored, rerun, word, code):
    seen = []

    def fake_run_test(config, **kw):
        seen.append(config)
        return SimpleNamespace(valid=rerun, results={"checkers": {"linearizable": {"valid": rerun}}})

    monkeypatch.setattr("harness.runner.run_test", fake_run_test)
    d = _run_dir(tmp_path, stored)
    assert cli.main(["repro", str(d)]) == code
    out = capsys.readouterr().out
    assert "not replayable" in out and word in out
    assert seen and seen[0].seed == 7 and seen[0].system == "zookeeper"
