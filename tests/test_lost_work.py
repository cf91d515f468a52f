"""Nothing is lost: a run that ended in a harness error (a full disk) or whose directory was
deleted is run again by ``--resume``; shrink keeps its best run on Ctrl-C."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import harness.store
from harness.campaign import Campaign, done_entries, load_index
from harness.cli import main
from harness.config import RunConfig
from harness.runner import run_test
from harness.shrink import Shrinker
from harness.store import load_results
from reports.campaign_report import load_rows

CAMPAIGN = ["campaign", "--system", "toy", "--time-limit", "2", "--jobs", "1", "--name", "c", "--no-report"]


def _campaign(store: Path) -> Campaign:
    return Campaign.load(store / "campaigns" / "c")


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", str(kwargs.get("directory") or ""))


def test_full_disk_runs_are_errors_and_resume_runs_them_again(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(harness.store, "write_run", _full_disk)
    code = main(CAMPAIGN + ["--runs", "3", "--store", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    entries = load_index(_campaign(tmp_path))
    assert len(entries) == 3 and all("No space left" in e["error"] for e in entries.values())
    assert done_entries(_campaign(tmp_path)) == {}

    monkeypatch.undo()  # space freed
    assert main(CAMPAIGN + ["--store", str(tmp_path), "--resume"]) == 0
    out = capsys.readouterr()
    assert "0 of 3 runs already done" in out.err and "3 this time" in out.out
    done = done_entries(_campaign(tmp_path))
    assert len(done) == 3 and all(e["valid"] is True for e in done.values())
    rows, bad = load_rows(tmp_path / "campaigns" / "c")  # the report counts the re-runs, not the errors
    assert bad == 0 and len(rows) == 3 and all(r.valid is True and r.error is None for r in rows)


def test_a_deleted_run_directory_is_run_again(tmp_path, capsys):
    assert main(CAMPAIGN + ["--runs", "3", "--store", str(tmp_path)]) == 0
    c = _campaign(tmp_path)
    gone = c.run_dir(c.seeds()[1])
    before = (gone / "history.jsonl").read_bytes()
    shutil.rmtree(gone)
    capsys.readouterr()
    assert main(CAMPAIGN + ["--store", str(tmp_path), "--resume"]) == 0
    assert "2 of 3 runs already done" in capsys.readouterr().err
    assert (gone / "history.jsonl").read_bytes() == before
    assert len(done_entries(c)) == 3


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_real_full_disk_resumes_to_all_runs_done_and_valid(tmp_path, capsys):
    store = tmp_path / "small"
    store.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(store)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        code = main(CAMPAIGN + ["--runs", "6", "--store", str(store)])
        err = capsys.readouterr().err
        assert code in (2, 254) and "Traceback" not in err, err  # errors recorded, or the index full
        assert len(done_entries(_campaign(store))) < 6
        subprocess.run(["mount", "-o", "remount,size=16m", str(store)], check=True)
        assert main(CAMPAIGN + ["--store", str(store), "--resume"]) == 0
        done = done_entries(_campaign(store))
        assert len(done) == 6 and all(e["valid"] is True for e in done.values())
        assert not list((store / "campaigns" / "c" / "runs").glob(".tmp-*"))
    finally:
        subprocess.run(["umount", str(store)], capture_output=True)


def test_shrink_keeps_its_best_run_on_ctrl_c(tmp_path, capsys, monkeypatch):
    res = run_test(RunConfig(system="toy", time_limit=3, seed=2, bugs=("toy-async-backup-reads",),
                             nemesis=("partition",)), directory=tmp_path / "failing")
    assert res.valid is False

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Shrinker, "shrink_prefix", interrupted)
    assert main(["shrink", str(res.directory), "--jobs", "1", "--no-report"]) == 130
    out = tmp_path / "failing.shrunk"
    assert f"interrupted; the smallest failing run so far is in {out}" in capsys.readouterr().err
    assert load_results(out)["valid"] is False
    assert json.loads((out / "shrink.json").read_text())["interrupted"] is True
