"""Campaigns: same results on every executor, resume after a kill, swarm draws, bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import campaign as cmod, campaign_exec
from harness.cli import main
from harness.config import RunConfig
from harness.rng import derive_seed
from harness.runner import run_test
from harness.store import load_config

BUG = "toy-async-backup-reads"
TESTS = Path(__file__).resolve().parent


def args(store: Path, runs: int, *more: str) -> list[str]:
    # --nemesis named: today's swarm over these families (left out, runs explore: test_search)
    return ["campaign", "--system", "toy", "--time-limit", "5", "--runs", str(runs), "--seed", "7",
            "--nemesis", "partition,kill,clock", "--bug", BUG, "--store", str(store), *more]


def campaign_dir(store: Path) -> Path:
    return store / "campaigns" / f"toy-register-seed7-{BUG}"


def index(store: Path) -> list[dict]:
    return [json.loads(line) for line in (campaign_dir(store) / "index.jsonl").read_text().splitlines()]


def outcomes(store: Path) -> dict[int, tuple]:
    return {e["seed"]: (e["valid"], e["history_sha256"], tuple(e["anomalies"])) for e in index(store)}


@pytest.fixture(scope="module")
def local_jobs1(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("jobs1")
    assert main(args(store, 12, "--jobs", "1")) == 1
    return store


def test_jobs_1_and_2_give_the_same_runs(local_jobs1, tmp_path, capsys):
    assert main(args(tmp_path, 12, "--jobs", "2")) == 1
    out = capsys.readouterr().out
    one, two = outcomes(local_jobs1), outcomes(tmp_path)
    assert one == two
    assert set(one) == {derive_seed(7, "campaign-run", i) for i in range(12)}
    assert {v for v, _, _ in one.values()} == {True, False}  # the bug is found, and not everywhere
    failed = [e for e in index(tmp_path) if e["valid"] is False]
    assert all(e["failed"] == ["linearizable"] for e in failed)
    for e in failed:  # every failure is listed with its repro command
        run_dir = campaign_dir(tmp_path) / e["run_dir"]
        assert f"harness repro {run_dir}" in out
        assert json.loads((run_dir / "results.json").read_text())["valid"] is False
    assert "linearizable" in out and "INVALID" in out


def test_dask_cluster_gives_the_same_runs_as_the_local_pool(local_jobs1, tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert main(args(tmp_path, 12, "--scheduler", cluster.scheduler_address)) == 1
    assert outcomes(tmp_path) == outcomes(local_jobs1)


def test_resume_after_a_kill_runs_every_seed_exactly_once(tmp_path):
    runs = 150
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); import toysystem; "
            f"from harness.cli import main; sys.exit(main({args(tmp_path, runs, '--jobs', '1')!r}))")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    idx = campaign_dir(tmp_path) / "index.jsonl"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            if idx.exists() and idx.read_bytes().count(b"\n") >= 5:
                break
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = idx.read_text().splitlines(keepends=True)
    done = sum(1 for line in before if line.endswith("\n"))
    assert 5 <= done < runs, "the campaign was not interrupted in the middle"

    assert main(args(tmp_path, runs, "--resume")) == 1
    entries = index(tmp_path)
    seeds = [e["seed"] for e in entries]
    assert len(entries) == runs and sorted(seeds) == sorted(derive_seed(7, "campaign-run", i) for i in range(runs))
    assert idx.read_text().startswith("".join(before[:done]))  # what was done was kept, not re-run
    assert not list((campaign_dir(tmp_path) / "runs").glob(".tmp-*"))


def test_resume_after_losing_the_index_tail(local_jobs1, tmp_path, capsys):
    import shutil

    shutil.copytree(local_jobs1, tmp_path, dirs_exist_ok=True)
    idx = campaign_dir(tmp_path) / "index.jsonl"
    lines = idx.read_text().splitlines(keepends=True)
    idx.write_text("".join(lines[:4]) + lines[4][:17])  # four runs recorded, a fifth torn
    assert main(["campaign", "--name", campaign_dir(tmp_path).name, "--store", str(tmp_path), "--resume"]) == 1
    assert "4 of 12 runs already done" in capsys.readouterr().err
    assert index(tmp_path)[:4] == [json.loads(x) for x in lines[:4]]
    assert outcomes(tmp_path) == outcomes(local_jobs1)
    # nothing left to do: a second resume runs nothing and keeps the verdict
    assert main(["campaign", "--name", campaign_dir(tmp_path).name, "--store", str(tmp_path), "--resume"]) == 1
    assert len(index(tmp_path)) == 12
    # a higher --runs on resume extends the campaign with the next seeds
    assert main(["campaign", "--name", campaign_dir(tmp_path).name, "--store", str(tmp_path), "--resume",
                 "--runs", "14"]) == 1
    assert len(outcomes(tmp_path)) == 14 and len(index(tmp_path)) == 14


def test_swarm_configs_differ_between_runs_and_are_reproduced(local_jobs1, capsys):
    entries = index(local_jobs1)
    swarms = []
    for e in entries:
        cfg = load_config(campaign_dir(local_jobs1) / e["run_dir"])
        assert cfg.seed == e["seed"]
        assert set(cfg.swarm) == {"partition", "kill", "clock"}
        assert any(v > 0 for v in cfg.swarm.values())
        assert all(v == 0 or 0.5 <= v <= 2.0 for v in cfg.swarm.values())
        assert cfg.swarm == cmod.swarm_for(cfg.seed, cfg.nemesis)
        swarms.append(json.dumps(cfg.swarm, sort_keys=True))
    assert len(set(swarms)) > 1
    assert any(0 in json.loads(s).values() for s in swarms)  # some family was switched off
    run_dir = campaign_dir(local_jobs1) / entries[0]["run_dir"]
    assert main(["repro", str(run_dir)]) == (0 if entries[0]["valid"] is True else 1)
    assert "identical" in capsys.readouterr().out


def test_no_swarm_runs_every_family_at_its_rate(tmp_path):
    assert main(args(tmp_path, 2, "--jobs", "1", "--no-swarm")) in (0, 1)
    for e in index(tmp_path):
        assert load_config(campaign_dir(tmp_path) / e["run_dir"]).swarm == {}
    assert json.loads((campaign_dir(tmp_path) / "campaign.json").read_text())["swarm"] is False


def test_swarm_draw_is_deterministic_and_never_all_off():
    for seed in range(300):
        s = cmod.swarm_for(seed, ("partition", "kill", "clock"))
        assert s == cmod.swarm_for(seed, ("clock", "kill", "partition"))
        assert any(v > 0 for v in s.values())
    assert cmod.swarm_for(1, ()) == {}
    c = cmod.Campaign("c", Path("x"), 3, 4, True, RunConfig(system="toy"))
    assert [c.config_for(i).seed for i in range(4)] == c.seeds()


def test_a_valid_campaign_exits_0(tmp_path, capsys):
    assert main(["campaign", "--system", "toy", "--time-limit", "2", "--runs", "2", "--jobs", "1",
                 "--store", str(tmp_path)]) == 0
    assert "valid" in capsys.readouterr().out
    assert (tmp_path / "campaigns" / "toy-register-seed1" / "campaign.json").exists()


@pytest.mark.parametrize("extra, message", [
    (["--runs", "0"], "--runs must be at least 1"),
    (["--runs", "-3"], "--runs must be at least 1"),
    (["--runs", "2", "--jobs", "0"], "--jobs must be at least 1"),
    ([], "--runs is required"),
    (["--runs", "2", "--scheduler", "localhost"], "bad scheduler address"),
    (["--runs", "2", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach Dask scheduler"),
    (["--runs", "2", "--resume"], "to resume"),
    (["--runs", "2", "--system", "nope"], "unknown system"),
])
def test_bad_input_is_one_line_and_exit_254(tmp_path, capsys, monkeypatch, extra, message):
    if "--scheduler" in extra:
        pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    monkeypatch.setattr(campaign_exec, "SCHEDULER_TIMEOUT_S", 1)
    assert main(["campaign", "--system", "toy", "--store", str(tmp_path), *extra]) == 254
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "campaigns").exists() or not any((tmp_path / "campaigns").iterdir())


def test_an_existing_campaign_is_not_overwritten(tmp_path, capsys):
    assert main(args(tmp_path, 1, "--jobs", "1")) in (0, 1)
    capsys.readouterr()
    assert main(args(tmp_path, 1, "--jobs", "1")) == 254
    err = capsys.readouterr().err
    assert "already exists" in err and err.count("\n") == 1


def test_a_campaign_ends_with_its_page_and_the_failing_runs_pages(local_jobs1, tmp_path, capsys):
    d = campaign_dir(local_jobs1)
    assert (d / "index.html").exists()
    entries = index(local_jobs1)
    failing = [e for e in entries if e["valid"] is not True]
    assert failing, "the planted bug fails some of the 12 runs"
    for e in entries:
        page = d / e["run_dir"] / "report.html"
        assert page.exists() == (e["valid"] is not True), e
    assert main(["campaign", "--system", "toy", "--time-limit", "2", "--runs", "2", "--jobs", "1",
                 "--store", str(tmp_path), "--no-report"]) == 0
    assert not (tmp_path / "campaigns" / "toy-register-seed1" / "index.html").exists()
    assert "report:" not in capsys.readouterr().out


def _last_bar(err: str) -> str:
    return [seg for seg in err.replace("\r", "\n").splitlines() if seg.startswith("campaign:")][-1]


def test_the_guided_progress_bar_counts_the_last_batch(tmp_path, capsys):
    """The behaviours shown at the end include the last batch's (a guided campaign shorter
    than a batch ended saying behaviours=0)."""
    code = main(["campaign", "--system", "toy", "--time-limit", "3", "--runs", "3", "--jobs", "1", "--no-report",
                 "--store", str(tmp_path), "--name", "c", "--guided", "--corpus", "none"])
    assert code in (0, 1, 2)
    bar = _last_bar(capsys.readouterr().err)
    entries = [json.loads(x) for x in (tmp_path / "campaigns" / "c" / "index.jsonl").read_text().splitlines()]
    reached = int(re.search(r"behaviours=(\d+)", bar).group(1))
    assert reached > 0 and reached >= max(e["behaviours"] for e in entries), bar


def test_the_progress_bar_times_from_the_start_of_the_runs(capsys):
    """Made once the first run is in, the bar timed only the instant after it: two runs
    of a pool finishing together read as thousands of runs per second."""
    bar = campaign_exec._progress_bar(10, 0, started=time.time() - 20, tty=True)
    bar.update(2)
    assert bar.format_dict["elapsed"] >= 20 and bar.format_dict["rate"] <= 0.2, bar.format_dict
    bar.close()
    capsys.readouterr()


def test_progress_into_a_log_is_lines_not_carriage_returns(tmp_path, capsys, monkeypatch):
    """With stderr a file or a pipe, the campaign's progress is a plain line now and then
    and one at the end, not tqdm's carriage-return redraws (one endless line in a log)."""
    monkeypatch.setattr(campaign_exec, "PROGRESS_LINE_S", 0.0)  # a line per run
    assert main(["campaign", "--system", "toy", "--time-limit", "2", "--runs", "3", "--jobs", "1", "--no-report",
                 "--store", str(tmp_path), "--name", "c"]) in (0, 1, 2)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [x for x in err.splitlines() if x.startswith("campaign:")]
    assert [x.split()[1] for x in lines] == ["1/3", "2/3", "3/3", "3/3"], lines
    assert "failures=" in lines[-1] and "left" not in lines[-1]


def test_a_guided_resume_runs_again_what_is_not_done(tmp_path, capsys):
    """As in a plain campaign (README: a run that ended in a harness error or whose
    directory is gone is not done): a guided --resume ran neither again."""
    base = ["campaign", "--system", "toy", "--time-limit", "2", "--jobs", "1", "--no-report", "--guided",
            "--corpus", "none", "--store", str(tmp_path), "--name", "g"]
    assert main([*base, "--runs", "4"]) in (0, 1, 2)
    d = tmp_path / "campaigns" / "g"
    before = {e["seed"]: e for e in (json.loads(x) for x in (d / "index.jsonl").read_text().splitlines())}
    gone, failed = sorted(before)[:2]
    shutil.rmtree(d / before[gone]["run_dir"])
    with open(d / "index.jsonl", "a") as f:  # as if the harness had crashed on it, run again since
        f.write(json.dumps({**before[failed], "valid": "unknown", "error": "OSError: disk full",
                            "run_dir": None}) + "\n")
    capsys.readouterr()
    assert main(["campaign", "--store", str(tmp_path), "--name", "g", "--resume", "--jobs", "1",
                 "--no-report"]) in (0, 1, 2)
    assert "resuming g: 2 of 4 runs already done" in capsys.readouterr().err
    after = {e["seed"]: e for e in (json.loads(x) for x in (d / "index.jsonl").read_text().splitlines())}
    assert (d / before[gone]["run_dir"] / "results.json").is_file()
    for seed in (gone, failed):  # run again, the same run: the guided plan did not change
        assert "error" not in after[seed]
        assert after[seed]["history_sha256"] == before[seed]["history_sha256"]
        assert after[seed]["guided"] == before[seed]["guided"]


def test_a_damaged_seed_corpus_copy_is_one_line_on_resume(tmp_path, capsys):
    """The bad-input line is the only line: 'resuming ...' was printed before it."""
    assert main(["campaign", "--system", "zab", "--time-limit", "1", "--runs", "1", "--jobs", "1", "--no-report",
                 "--guided", "--store", str(tmp_path), "--name", "g"]) in (0, 1, 2)
    copy = tmp_path / "campaigns" / "g" / "seed-corpus.json"
    assert copy.is_file()  # the shipped corpus for zab/register, copied into the campaign
    copy.write_text("junk\n")
    capsys.readouterr()
    assert main(["campaign", "--store", str(tmp_path), "--name", "g", "--resume", "--runs", "2",
                 "--no-report"]) == 254
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "seed-corpus.json: unreadable corpus" in err, err


def test_one_process_at_a_time_on_a_campaign(tmp_path, capsys):
    """A second harness on a campaign being run is refused at once: two ran every seed not
    done, each, and the index had two lines per seed."""
    from harness.lock import exclusive

    base = ["campaign", "--system", "toy", "--time-limit", "2", "--jobs", "1", "--no-report",
            "--store", str(tmp_path), "--name", "c"]
    assert main([*base, "--runs", "2"]) in (0, 1, 2)
    capsys.readouterr()
    with exclusive(tmp_path / "campaigns" / ".c.lock", "held by this test"):
        assert main(["campaign", "--store", str(tmp_path), "--name", "c", "--resume", "--runs", "3",
                     "--jobs", "1", "--no-report"]) == 254
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"campaign 'c' is in use by another harness process (pid {os.getpid()})" \
            in err, err
        assert main([*base, "--runs", "2", "--seed", "3"]) == 254  # a new one of that name too
        capsys.readouterr()
    lines = (tmp_path / "campaigns" / "c" / "index.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert main(["campaign", "--store", str(tmp_path), "--name", "c", "--resume", "--runs", "3", "--jobs", "1",
                 "--no-report"]) in (0, 1, 2)  # the lock is gone with its holder
    assert len((tmp_path / "campaigns" / "c" / "index.jsonl").read_text().splitlines()) == 3
    assert not (tmp_path / "campaigns" / ".c.lock").exists()  # removed by its last holder


def test_one_process_at_a_time_on_a_shrink_output(tmp_path, capsys):
    from harness.lock import exclusive

    res = run_test(RunConfig(system="toy", time_limit=3, seed=2, bugs=(BUG,), nemesis=("partition",)),
                   directory=tmp_path / "failing")
    assert res.valid is False
    with exclusive(tmp_path / ".failing.shrunk.lock", "held by this test"):
        assert main(["shrink", str(tmp_path / "failing"), "--budget", "2", "--no-report"]) == 254
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "shrink output" in err and "in use by another harness process" in err, err
    assert not (tmp_path / "failing.shrunk").exists()
    assert main(["shrink", str(tmp_path / "failing"), "--budget", "2", "--no-report"]) == 0


@pytest.mark.parametrize("change, flag", [(["--time-limit", "50"], "--time-limit"), (["--guided"], "--guided"),
                                          (["--system", "kafka"], "--system"), (["--set", "x=1"], "--set"),
                                          (["--bug", "toy-other"], "--bug"), (["--seed", "9"], "--seed"),
                                          (["--no-swarm"], "--no-swarm"), (["--nemesis", "kill"], "--nemesis"),
                                          (["--bin", "/bin/true"], "--bin"), (["--bin-arg", "fast"], "--bin-arg")])
def test_resume_refuses_options_that_would_change_the_campaign(tmp_path, capsys, change, flag):
    """They were silently ignored: the campaign ran on as its campaign.json says."""
    assert main(args(tmp_path, 2, "--jobs", "1", "--no-report")) == 1
    before = campaign_dir(tmp_path) / "campaign.json"
    text = before.read_text()
    capsys.readouterr()
    name = campaign_dir(tmp_path).name
    assert main(["campaign", "--store", str(tmp_path), "--name", name, "--resume", "--runs", "3", "--jobs", "1",
                 "--no-report", *change]) == 254
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"harness: error: {flag}: campaign") and "--resume cannot" in err
    assert before.read_text() == text and len(index(tmp_path)) == 2
    # what the campaign was started with may be repeated
    assert main(["campaign", "--store", str(tmp_path), "--name", name, "--resume", "--runs", "3", "--jobs", "1",
                 "--no-report", "--time-limit", "5", "--seed", "7", "--bug", BUG]) == 1
    assert len(index(tmp_path)) == 3


def _dies_on_seed_3(config, tag):
    if config.seed == 3:  # as the out-of-memory killer ends a run's worker
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return {"seed": config.seed, "valid": True, "tag": tag}


def test_a_worker_killed_under_a_run_does_not_end_the_campaign():
    """A dead worker broke the pool: the campaign ended in a BrokenProcessPool traceback
    (exit 255). The runs in flight are run again, each alone; the one that kills its
    worker alone is recorded as a harness error, which --resume runs again."""
    from types import SimpleNamespace

    from harness.parentdeath import RenewingPool

    pool = RenewingPool(2)
    try:
        tasks = [(SimpleNamespace(seed=k), f"t{k}") for k in range(8)]
        out = {}
        for e in campaign_exec._finished(pool, 4, tasks, _dies_on_seed_3):
            assert e["seed"] not in out
            out[e["seed"]] = e
    finally:
        pool.shutdown(wait=True)
    assert sorted(out) == list(range(8))
    assert out[3]["valid"] == "unknown" and "worker process died" in out[3]["error"]
    assert all(out[k] == {"seed": k, "valid": True, "tag": f"t{k}"} for k in out if k != 3)


def test_the_coverage_log_survives_a_line_torn_by_a_crash(tmp_path):
    """A torn last line glued itself to the next one appended: the behaviour numbered on
    it was lost, and with it every later number and every later run's behaviours."""
    from harness.coverage import CoverageLog

    log = CoverageLog(tmp_path)
    log.append(0, 10, ["a", "b"])
    log.append(1, 11, ["b", "c"])
    with open(tmp_path / "behaviours.jsonl", "a") as f:
        f.write('{"id":3,"b":"to')  # the harness died here
    with open(tmp_path / "coverage.jsonl", "a") as f:
        f.write('{"run":2,"se')
    log = CoverageLog(tmp_path)  # the resumed campaign's
    log.append(2, 12, ["c", "d", "e"])
    log.append(3, 13, ["e", "f"])
    assert CoverageLog(tmp_path).read() == {10: (0, ["a", "b"]), 11: (1, ["b", "c"]), 12: (2, ["c", "d", "e"]),
                                           13: (3, ["e", "f"])}
