"""The CLI's contract: verdict exit codes, one-line errors with 254, exact repro."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "--system", "nosuch"], "unknown system"),
        (["run", "--system", "toy", "--workload", "nosuch"], "unknown workload"),
        (["run", "--system", "toy", "--nemesis", "partition,meteor"], "unknown fault"),
        (["run", "--system", "toy", "--time-limit", "-1"], "--time-limit must be a positive"),
        (["run", "--system", "toy", "--nodes", "4"], "--nodes"),
        (["run", "--system", "toy", "--rate", "abc"], "invalid float"),
        (["run", "--system", "toy", "--bug", "no-such-bug"], "unknown bug"),
        (["run", "--system", "zab", "--set", "sesion_timeout=1"], "unknown setting 'sesion_timeout'"),
        (["run", "--system", "kafka", "--workload", "queue", "--set", "unclean_leader_election=true"],
         "unknown setting 'unclean_leader_election'"),
        (["campaign", "--system", "zab", "--runs", "2", "--set", "fencingg=true"], "unknown setting 'fencingg'"),
        (["run", "--system", "toy", "--nemesis-interval", "-1"], "--nemesis-interval must be a positive"),
        (["run", "--system", "toy", "--rate", "inf"], "--rate must be a positive finite"),
        (["repro", "/nonexistent/run"], "no run directory"),
        (["campaign", "--name", "c", "--materialize", "5", "--runs", "9", "--resume"],
         "--runs, --resume: not with --materialize"),
        (["check", "--workload", "queue", "--max-steps", "5", "x.jsonl"], "--max-steps: for --model"),
        (["check", "--workload", "queue", "--initial", "5", "--time-limit", "2", "x.jsonl"],
         "--initial, --time-limit: for --model"),
        (["check", "--model", "register", "--no-final-drain", "x.jsonl"], "--no-final-drain: for --workload queue"),
        (["run", "--system", "zab", "--set", "reads=local", "--reads", "sync"],
         "--set reads=local contradicts --reads sync"),
        (["campaign", "--system", "zab", "--runs", "2", "--set", "reads=sync", "--reads", "local"],
         "--set reads=sync contradicts --reads local"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_254(args, needle, capsys, tmp_path):
    code, _out, err = run_cli(args + (["--store", str(tmp_path)] if args[0] in ("run", "campaign") else []), capsys)
    assert code == 254
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err


def test_run_writes_a_run_directory_and_repro_is_identical(capsys, tmp_path):
    code, out, err = run_cli(["run", "--system", "toy", "--nodes", "3", "--time-limit", "5", "--seed", "3",
                              "--nemesis", "partition,kill", "--store", str(tmp_path)], capsys)
    assert code == 0, out + err
    assert "verdict: valid" in out
    run_dir = Path(out.split("results: ")[1].split()[0])
    for f in ("config.json", "history.jsonl", "trace.jsonl", "faults.jsonl", "results.json"):
        assert (run_dir / f).exists(), f
    results = json.loads((run_dir / "results.json").read_text())
    assert results["seed"] == 3 and results["valid"] is True
    code, out, err = run_cli(["repro", str(run_dir)], capsys)
    assert code == 0 and out.startswith("identical"), out
    code, out, err = run_cli(["shrink", str(run_dir), "--no-report"], capsys)
    assert code == 254 and "did not fail (verdict valid)" in err, err
    # tamper with the stored history: repro must notice; results.json's sha256 says the
    # stored file is what changed (a damaged input), not the run
    h = run_dir / "history.jsonl"
    h.write_text(h.read_text().replace('"value":1', '"value":2', 1))
    code, out, err = run_cli(["repro", str(run_dir)], capsys)
    assert code == 254 and "history.jsonl is damaged" in err and "the run reproduces" in err, err
    # with no recorded sha256 to go by, the difference is shown: a run that does not reproduce
    results.pop("history_sha256")
    (run_dir / "results.json").write_text(json.dumps(results))
    code, out, err = run_cli(["repro", str(run_dir)], capsys)
    assert code == 255 and out.startswith("DIFFERENT"), out


def test_set_reads_is_the_reads_option(capsys, tmp_path):
    """The nodes see the run option ``reads`` (it wins over any setting), so ``--set
    reads=local`` used to run sync reads with ``settings.reads: local`` in config.json."""
    code, out, err = run_cli(["run", "--system", "zab", "--time-limit", "1", "--no-report", "--set", "reads=local",
                              "--store", str(tmp_path)], capsys)
    assert code == 0, err
    config = json.loads((Path(out.split("results: ")[1].split()[0]) / "config.json").read_text())
    assert config["reads"] == "local" and "reads" not in config["settings"]
    # an explorative campaign takes it as pinned, as it does --reads
    code, out, err = run_cli(["campaign", "--system", "zab", "--time-limit", "1", "--runs", "4", "--jobs", "1",
                              "--set", "reads=local", "--no-report", "--name", "c", "--store", str(tmp_path)], capsys)
    assert code == 0, err
    runs = sorted((tmp_path / "campaigns" / "c" / "runs").glob("*/config.json"))
    assert len(runs) == 4 and all(json.loads(r.read_text())["reads"] == "local" for r in runs)


def test_repro_recheck_judges_an_identical_rerun_with_todays_checkers(capsys, tmp_path):
    """A kept finding whose checker was fixed since: plain repro reports the stored verdict,
    --recheck the one today's checkers give the (identical) re-run."""
    code, out, err = run_cli(["run", "--system", "toy", "--nodes", "3", "--time-limit", "5", "--seed", "3",
                              "--nemesis", "partition,kill", "--store", str(tmp_path), "--no-report"], capsys)
    assert code == 0, out + err
    run_dir = Path(out.split("results: ")[1].split()[0])
    res = run_dir / "results.json"
    stored = json.loads(res.read_text())
    name = next(iter(stored["checkers"]))
    stored["valid"] = False  # as if a checker (since fixed) had reported a false positive
    stored["checkers"][name]["valid"] = False
    res.write_text(json.dumps(stored))
    code, out, err = run_cli(["repro", str(run_dir)], capsys)
    assert code == 1 and out.startswith("identical"), out
    code, out, err = run_cli(["repro", "--recheck", str(run_dir)], capsys)
    assert code == 0, out + err
    assert "re-checked: stored INVALID, today's checkers valid" in out
    assert any(ln.split()[:5] == [name, "stored", "INVALID", "re-checked", "valid"] for ln in out.splitlines()), out
    # a history that does not reproduce is still 255, whatever --recheck says (with no
    # recorded sha256: with it, the stored file is what changed, a damaged input, 254)
    stored.pop("history_sha256")
    res.write_text(json.dumps(stored))
    h = run_dir / "history.jsonl"
    h.write_text(h.read_text().replace('"value":1', '"value":2', 1))
    code, out, err = run_cli(["repro", "--recheck", str(run_dir)], capsys)
    assert code == 255 and out.startswith("DIFFERENT"), out


def test_invalid_run_exits_1(capsys, tmp_path):
    code, out, err = run_cli(["run", "--system", "toy", "--nodes", "3", "--time-limit", "20", "--seed", "1",
                              "--bug", "toy-async-backup-reads", "--nemesis", "partition",
                              "--store", str(tmp_path)], capsys)
    assert code == 1, out + err
    assert "INVALID" in out


SNIPPET = """
import sys
sys.path.insert(0, {tests!r})
import toysystem
from harness.config import RunConfig
from harness.runner import run_test, history_bytes
import hashlib, json
res = run_test(RunConfig(system={system!r}, workload={workload!r}, nodes=3 if {system!r} == "toy" else 5,
                         time_limit=8, seed=11, nemesis=("partition", "kill", "pause", "clock", "crash")))
trace = json.dumps(res.out.trace, sort_keys=True, default=str).encode()
verdicts = json.dumps({{k: v["valid"] for k, v in res.results["checkers"].items()}}, sort_keys=True).encode()
sys.stdout.write(hashlib.sha256(history_bytes(res.out.history) + trace + verdicts).hexdigest())
"""


@pytest.mark.parametrize("system,workload", [("toy", "register"), ("zab", "register"), ("zab", "election"),
                                             ("kafka", "queue")])
def test_same_seed_same_history_across_hash_seeds(system, workload):
    """History, trace and verdicts are the same in processes with different hash seeds."""
    digests = set()
    for hs in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hs)
        code = SNIPPET.format(tests=str(ROOT / "tests"), system=system, workload=workload)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        digests.add(r.stdout)
    assert len(digests) == 1


def test_run_summary_names_every_kind_of_server():
    from harness.config import RunConfig
    from harness.summary import describe_servers

    assert describe_servers(RunConfig(system="zab", nodes=5)) == "5 servers"
    assert describe_servers(RunConfig(system="kafka", workload="queue", nodes=5)) == "8 servers (z1-z3, b1-b5)"


def test_shrink_of_the_current_directory_writes_beside_it(tmp_path, capsys, monkeypatch):
    """``harness shrink .`` inside a run directory: its output goes beside it, named from
    the real directory (Path('.').with_name raised ValueError: a traceback, exit 255)."""
    from harness.config import RunConfig
    from harness.runner import run_test

    res = run_test(RunConfig(system="toy", time_limit=3, seed=2, bugs=("toy-async-backup-reads",),
                             nemesis=("partition",)), directory=tmp_path / "failing")
    assert res.valid is False
    monkeypatch.chdir(tmp_path / "failing")
    code, _out, err = run_cli(["shrink", ".", "--budget", "2", "--no-report"], capsys)
    assert code == 0 and "Traceback" not in err, err
    assert (tmp_path / "failing.shrunk" / "results.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["failing", "failing.shrunk"]


def test_printed_commands_survive_a_path_with_spaces(tmp_path, capsys):
    """The repro and resume commands the harness prints are copied into a shell: a store
    path with a space (or a quote) was printed bare, and the command ran on two paths."""
    import shlex

    store = tmp_path / "my store's runs"
    code, out, err = run_cli(["run", "--system", "toy", "--time-limit", "2", "--no-report", "--store", str(store)],
                             capsys)
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("repro:"))
    argv = shlex.split(line.split(":", 1)[1])
    assert argv[:2] == ["harness", "repro"] and len(argv) == 3
    assert run_cli(argv[1:], capsys)[0] == 0
    code, out, err = run_cli(["campaign", "--system", "toy", "--time-limit", "5", "--runs", "4", "--jobs", "1",
                              "--no-report", "--bug", "toy-async-backup-reads", "--nemesis", "partition",
                              "--store", str(store), "--name", "c"], capsys)
    rows = [x for x in out.splitlines() if "harness repro " in x]
    assert rows, out
    for row in rows:  # a failing run's command, at the end of its table row
        argv = shlex.split(row[row.index("harness repro "):])
        assert len(argv) == 3 and Path(argv[2]).is_dir(), row


def test_a_campaign_name_must_be_printable(tmp_path, capsys):
    code, _out, err = run_cli(["campaign", "--system", "toy", "--runs", "1", "--name", "a\nb",
                               "--store", str(tmp_path)], capsys)
    assert code == 254 and "bad campaign name" in err and err.count("\n") == 1, err


def test_a_bug_named_twice_is_switched_on_once(tmp_path, capsys):
    code, out, err = run_cli(["run", "--system", "toy", "--time-limit", "2", "--no-report", "--nemesis", "none",
                              "--bug", "toy-async-backup-reads", "--bug", "toy-async-backup-reads",
                              "--store", str(tmp_path)], capsys)
    assert code in (0, 1), err
    run_dir = Path(out.split("results: ")[1].split()[0])
    assert json.loads((run_dir / "config.json").read_text())["bugs"] == ["toy-async-backup-reads"]
    assert run_dir.name == "toy-register-toy-async-backup-reads-seed1"  # not ...-reads+toy-async-...


def test_recheck_of_a_live_run_is_refused(tmp_path, capsys, monkeypatch):
    """A live run cannot be replayed: --recheck was silently ignored and the schedule re-run."""
    from harness.config import RunConfig

    ran = []
    monkeypatch.setattr("harness.runner.run_test", lambda config, **kw: ran.append(config))
    d = tmp_path / "run"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(RunConfig(system="zookeeper", nodes=3, time_limit=5.0).to_dict()))
    (d / "results.json").write_text(json.dumps({"valid": True, "live": True, "checkers": {}}))
    (d / "history.jsonl").write_text("")
    code, _out, err = run_cli(["repro", "--recheck", str(d)], capsys)
    assert code == 254 and "--recheck" in err and "live run" in err and err.count("\n") == 1, err
    assert ran == []


def test_report_runs_option_is_for_a_campaign(tmp_path, capsys):
    code, out, err = run_cli(["run", "--system", "toy", "--time-limit", "2", "--no-report", "--store", str(tmp_path)],
                             capsys)
    assert code == 0, err
    run_dir = Path(out.split("results: ")[1].split()[0])
    code, _out, err = run_cli(["report", str(run_dir), "--runs", "all", "--no-plots"], capsys)
    assert code == 254 and "--runs is for a campaign directory" in err and err.count("\n") == 1, err
    assert run_cli(["report", str(run_dir), "--no-plots"], capsys)[0] == 0


def test_a_long_simulated_run_shows_its_progress_on_a_terminal(monkeypatch):
    import io

    import harness.cli as cli
    from harness.config import RunConfig

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    for tty in (True, False):
        err = Tty() if tty else io.StringIO()
        monkeypatch.setattr(sys, "stderr", err)
        monkeypatch.setattr(cli, "PROGRESS_AFTER_S", 0.0)
        with cli._sim_progress(RunConfig(time_limit=3.0)) as progress:
            if not tty:
                assert progress is None  # off a terminal: no bar, nothing written
                continue
            progress(1.0, 3.0)
            assert "simulated 1 of 3 s" in err.getvalue()
            shown = err.getvalue()
            progress(3.0, 3.0)  # the main phase is over: the bar is wiped off the line
            assert err.getvalue().startswith(shown) and err.getvalue()[len(shown):].strip(" \r") == ""
            progress(3.0, 3.0)  # (recovery) nothing more
            assert err.getvalue().endswith("\r")
    monkeypatch.setattr(cli, "PROGRESS_AFTER_S", 3600.0)
    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    with cli._sim_progress(RunConfig(time_limit=3.0)) as progress:
        progress(1.0, 3.0)  # a short run: done before the bar would show
    assert err.getvalue() == ""


def test_version_prints_the_installed_version(capsys):
    from importlib.metadata import version

    code, out, err = run_cli(["--version"], capsys)
    assert (code, out.strip(), err) == (0, f"harness {version('zabkafka-harness')}", "")


def test_bugs_table_wraps_to_the_terminal(capsys, monkeypatch):
    from harness.bugs import all_bugs

    monkeypatch.setenv("COLUMNS", "120")
    code, out, _ = run_cli(["bugs"], capsys)
    assert code == 0
    # a word longer than its column (a setting's name) may stick out a little; no row of 200+
    assert max(map(len, out.splitlines())) < 130
    words = out.split()
    for b in all_bugs():
        assert b.name in words
        assert b.breaks.split()[0] in words  # the prose is there, wrapped


def test_bin_names_a_program_on_path_or_a_file_here(tmp_path, monkeypatch):
    # docs/maelstrom.md: `--bin python3 --bin-arg prog.py` works. A bare command name was
    # once made absolute against the working directory (`./python3: no such file`).
    import shutil

    from harness.cli import _bin, build_parser

    def settings(*argv):
        return _bin(build_parser("run").parse_args(["run", "--system", "maelstrom", *argv]))

    monkeypatch.chdir(ROOT)
    got = settings("--bin", "python3", "--bin-arg", "tests/maelstrom/lin_kv.py")
    assert got["bin"] == str(Path(shutil.which("python3")).absolute())
    assert got["bin_args"] == [str(ROOT / "tests" / "maelstrom" / "lin_kv.py")]
    # a path is taken as a path, here, never looked up on PATH
    assert settings("--bin", "./tests/maelstrom/lin_kv.py")["bin"] == str(ROOT / "tests" / "maelstrom" / "lin_kv.py")
    # a file here wins over a program of the same name on PATH
    monkeypatch.chdir(tmp_path)
    (tmp_path / "python3").write_text("")
    assert settings("--bin", "python3")["bin"] == str(tmp_path / "python3")
    # a name that is neither stays where it was looked for, for the run's "no such file"
    assert settings("--bin", "no-such-program-here")["bin"] == str(tmp_path / "no-such-program-here")


def test_campaign_help_states_the_defaults_a_campaign_has(capsys, monkeypatch):
    # It printed "--nodes (default None)", "--nemesis (default partition,kill,clock)" (left
    # out, a campaign explores instead) and that a Dask cluster needs a shared store (it
    # does not: harness.remote).
    monkeypatch.setenv("COLUMNS", "1000")  # no line wrapping inside the phrases looked for
    code, out, _err = run_cli(["campaign", "--help"], capsys)
    assert code == 0
    flat = " ".join(out.split())
    assert "None" not in flat and "must be shared" not in flat and "no shared filesystem needed" in flat
    assert flat.count("left out: drawn per run, unless --nemesis or --no-swarm is given") == 3
    assert "left out: each run draws its own" in flat and "with --no-swarm, partition,kill,clock" in flat
    code, out, _err = run_cli(["run", "--help"], capsys)
    flat = " ".join(out.split())
    assert "servers (default 5)" in flat and "(default partition,kill,clock)" in flat and "left out" not in flat


def test_command_list_says_run_and_repro_take_live_systems_too(capsys, monkeypatch):
    # "run one simulated ... test" and "compare its history byte for byte", where a live
    # run (--system zookeeper, maelstrom) is not simulated and repro compares its verdicts
    monkeypatch.setenv("COLUMNS", "1000")
    code, out, _err = run_cli(["--help"], capsys)
    assert code == 0
    assert "run one fault-injected test, simulated or live, and check it" in out
    assert "byte for byte (a live run: its verdicts)" in out
