"""Maelstrom programs under the harness: bad programs are one clear line, never a
traceback; correct and wrong test programs get the verdicts they deserve; no process
outlives a run, however the harness ends (Ctrl-C, SIGKILL)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.config import RunConfig
from harness.runner import run_test

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="live runs need Linux")

HERE = Path(__file__).resolve().parent.parent / "maelstrom"
ROOT = HERE.parent.parent


def _copy(tmp_path: Path, name: str) -> Path:
    """A copy of a test program under a path unique to this test, so that its processes
    can be found (never killed) by their command line."""
    dst = tmp_path / "bin" / Path(name).name
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / name, dst)
    if (HERE / "node.py").exists():
        shutil.copy(HERE / "node.py", dst.parent / "node.py")
    dst.chmod(0o755)
    return dst


def _running(path: Path, besides: int | None = None) -> list[int]:
    """pids whose command line mentions ``path`` (other than ``besides``), not counting the
    harness's own processes (its forked report writer carries ``--bin path`` too)"""
    out = []
    needle = str(path).encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes()
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        if needle in cmd and b"--bin" not in cmd and ") Z " not in stat and int(d) != besides:
            out.append(int(d))
    return out


def _run(tmp_path: Path, prog: Path, workload: str = "lin-kv", **kw) -> dict:
    settings = {"bin": str(prog), **kw.pop("settings", {})}
    cfg = RunConfig(system="maelstrom", workload=workload, nemesis=(), time_limit=kw.pop("time_limit", 1.5),
                    recovery_time=2.0, rate=20, clients=3, nodes=3, settings=settings, **kw)
    res = run_test(cfg, directory=tmp_path / "run")
    return res.results


def test_crash_at_start_is_one_clear_line(tmp_path):
    prog = _copy(tmp_path, "bad/crash_at_start.py")
    r = _run(tmp_path, prog)
    assert r["valid"] is False
    p = r["checkers"]["protocol"]
    assert list(r["checkers"]) == ["protocol"]
    # the headline says what happened at once, not that init timed out (it did not)
    assert "n1 exited on its own before answering init (exit code 3)" in p["explanation"], p["explanation"]
    assert "cannot start: no config" in p["explanation"]
    assert "within" not in p["explanation"]
    assert any("exited on its own before answering init (exit code 3)" in line for line in p["details"]["problems"])
    assert "cannot start: no config" in (tmp_path / "run" / "nodes" / "n1.stderr").read_text()


def test_never_answering_init(tmp_path):
    prog = _copy(tmp_path, "bad/no_init.py")
    t0 = time.monotonic()
    r = _run(tmp_path, prog, settings={"init_timeout": 1.0})
    assert time.monotonic() - t0 < 10
    assert r["valid"] is False
    assert "n1, n2, n3 did not answer init within 1 s" in r["checkers"]["protocol"]["explanation"]
    assert not _running(prog)


def test_non_json_on_stdout(tmp_path):
    prog = _copy(tmp_path, "bad/non_json.py")
    r = _run(tmp_path, prog)
    p = r["checkers"]["protocol"]
    assert p["valid"] is False and p["anomaly_counts"].get("non-json", 0) >= 1
    assert "not JSON" in p["explanation"] and "'got init'" in p["explanation"]


def test_unknown_in_reply_to(tmp_path):
    prog = _copy(tmp_path, "bad/unknown_reply.py")
    r = _run(tmp_path, prog)
    p = r["checkers"]["protocol"]
    assert p["valid"] is False and p["anomaly_counts"].get("unknown-in-reply-to", 0) >= 1
    assert "never sent" in p["explanation"]


def test_a_workload_the_program_does_not_implement_is_named(tmp_path):
    # lin_kv.py answers 'broadcast' with error 10: not a liveness failure of the cluster
    r = _run(tmp_path, _copy(tmp_path, "lin_kv.py"), workload="broadcast")
    p = r["checkers"]["protocol"]
    assert r["valid"] is False and p["valid"] is False
    assert p["explanation"].startswith("the program does not implement the workload"), p["explanation"]
    assert "'broadcast'" in p["explanation"] and "not-supported" in p["explanation"]


def test_a_reply_the_workload_cannot_read_is_a_protocol_problem(tmp_path):
    # broadcast.py answers lin-kv's read with read_ok {messages}: no value to read
    r = _run(tmp_path, _copy(tmp_path, "broadcast.py"), workload="lin-kv")
    p = r["checkers"]["protocol"]
    assert p["valid"] is False and p["anomaly_counts"].get("bad-reply", 0) >= 1
    assert any("answered read with" in line and "KeyError" in line for line in p["details"]["problems"])


def test_a_restarted_node_gets_its_topology_again(tmp_path):
    # broadcast_topology.py gossips to the neighbours the topology message names: a node
    # restarted without it would gossip to nobody, and lose the values it acknowledged
    prog = _copy(tmp_path, "broadcast_topology.py")
    shutil.copy(HERE / "broadcast.py", prog.parent / "broadcast.py")
    cfg = RunConfig(system="maelstrom", workload="broadcast", nemesis=("kill",), nemesis_interval=1.0,
                    time_limit=5.0, recovery_time=3.0, rate=60, clients=3, nodes=3, seed=3,
                    settings={"bin": str(prog)})
    r = run_test(cfg, directory=tmp_path / "run").results
    assert r["stats"]["maelstrom"]["restarts"] >= 1
    assert r["checkers"]["broadcast"]["valid"] is True, r["checkers"]["broadcast"]["explanation"]
    rows = [json.loads(line) for line in (tmp_path / "run" / "messages.jsonl").read_text().splitlines()]
    topologies = [m for m in rows if m.get("type") == "topology"]
    assert len(topologies) == 3 + r["stats"]["maelstrom"]["restarts"]


def test_a_node_exiting_mid_run_is_a_protocol_failure_naming_it(tmp_path):
    prog = _copy(tmp_path, "bad/crash_mid_run.py")
    r = _run(tmp_path, prog, time_limit=3.0)
    p = r["checkers"]["protocol"]
    assert r["valid"] is False and p["valid"] is False and p["anomaly_counts"].get("crash") == 1
    assert p["explanation"].startswith("n2 exited on its own (exit code 7)"), p["explanation"]
    assert "n2: giving up" in (tmp_path / "run" / "nodes" / "n2.stderr").read_text()
    assert not _running(prog)


def test_a_slowly_gossiping_broadcast_has_converged_by_its_final_reads(tmp_path):
    # correct, gossiping every 2 s: Maelstrom waits for recovery before the final reads
    # (10 s); reads 1 s after the heal would miss the last values broadcast
    prog = _copy(tmp_path, "broadcast.py")
    cfg = RunConfig(system="maelstrom", workload="broadcast", nemesis=(), time_limit=2.5, recovery_time=6.0,
                    rate=40, clients=3, nodes=3, seed=1, settings={"bin": str(prog), "bin_args": ["2.0"]})
    r = run_test(cfg, directory=tmp_path / "run").results
    assert r["checkers"]["broadcast"]["valid"] is True, r["checkers"]["broadcast"]["explanation"]
    assert r["stats"]["final_wait_s"] == 3.0


def test_spinning_program_is_killed_at_the_end(tmp_path):
    prog = _copy(tmp_path, "bad/spin.py")
    r = _run(tmp_path, prog, settings={"client_timeout": 0.3})
    assert r["checkers"]["protocol"]["valid"] is True  # it answered init; it just never serves
    live = r["checkers"]["liveness"]
    assert live["valid"] is False
    # the clients by their names in messages.jsonl: c1..c3 (c0 is the harness's own)
    assert {u["client"] for u in live["details"]["unserved"]} == {"c1", "c2", "c3"}
    assert not _running(prog)


@pytest.mark.parametrize(("prog", "why"), [("/nonexistent/prog", "no such file"),
                                           (str(HERE), "a directory, not a program")])
def test_missing_bin_is_bad_usage(prog, why):
    out = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--system", "maelstrom", "--workload",
                          "lin-kv", "--bin", prog],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 254
    assert out.stderr.strip().count("\n") == 0 and why in out.stderr


@pytest.mark.parametrize("setting", ["latency_ms=abc", "init_timeout=-1", "client_timeout=0"])
def test_nonsense_settings_are_bad_usage(setting):
    out = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--system", "maelstrom", "--workload",
                          "lin-kv", "--bin", str(HERE / "lin_kv.py"), "--time-limit", "1", "--nodes", "1",
                          "--set", setting], capture_output=True, text=True, cwd=ROOT, check=False, timeout=60)
    assert out.returncode == 254, out.stderr
    assert out.stderr.strip().count("\n") == 0 and f"setting {setting.split('=')[0]} must be" in out.stderr


def test_interpreter_as_bin_and_a_relative_script_as_bin_arg(tmp_path):
    # what the not-executable message advises; the nodes run in nodes/nX/, so the script's
    # relative path is made absolute where the harness runs
    out = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--system", "maelstrom", "--workload",
                          "lin-kv", "--bin", sys.executable, "--bin-arg", "tests/maelstrom/lin_kv.py",
                          "--nemesis", "none", "--nodes", "1", "--time-limit", "1", "--recovery-time", "1",
                          "--no-report", "--store", str(tmp_path / "store")],
                         capture_output=True, text=True, cwd=ROOT, check=False, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    cfg = json.loads(next((tmp_path / "store" / "runs").iterdir()).joinpath("config.json").read_text())
    assert cfg["settings"]["bin_args"] == [str(HERE / "lin_kv.py")]


def test_crash_family_is_refused():
    out = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--system", "maelstrom", "--workload",
                          "lin-kv", "--bin", str(HERE / "lin_kv.py"), "--nemesis", "crash"],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 254 and "cannot be applied to a live system" in out.stderr


def test_a_campaign_that_leaves_the_nemesis_out_runs(tmp_path):
    # It draws only the families a live system takes: once every run drew crash points
    # and power cuts, and every run was refused.
    out = subprocess.run([sys.executable, "-m", "harness.cli", "campaign", "--system", "maelstrom", "--workload",
                          "lin-kv", "--bin", str(HERE / "lin_kv.py"), "--runs", "2", "--time-limit", "2",
                          "--store", str(tmp_path), "--name", "c", "--no-report"],
                         capture_output=True, text=True, cwd=ROOT, check=False, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    index = [json.loads(line) for line in (tmp_path / "campaigns" / "c" / "index.jsonl").read_text().splitlines()]
    assert [e["valid"] for e in index] == [True, True]
    for e in index:
        cfg = json.loads((tmp_path / "campaigns" / "c" / "runs" / str(e["seed"]) / "config.json").read_text())
        assert not {"crash", "power"} & set(cfg["nemesis"])


@pytest.mark.slow
@pytest.mark.parametrize("prog,workload,checker", [
    ("lin_kv.py", "lin-kv", "linearizable"),
    ("broadcast.py", "broadcast", "broadcast"),
    ("kafka.py", "kafka", "durability"),
    ("g_counter.py", "g-counter", "counter"),
])
def test_correct_programs_pass_under_faults(tmp_path, prog, workload, checker):
    p = _copy(tmp_path, prog)
    cfg = RunConfig(system="maelstrom", workload=workload, nemesis=("partition", "kill", "pause"),
                    nemesis_interval=1.0, time_limit=4, recovery_time=4, rate=40, clients=5, nodes=3,
                    seed=3, settings={"bin": str(p)})
    r = run_test(cfg, directory=tmp_path / "run").results
    assert r["checkers"][checker]["valid"] is True, r["checkers"][checker]
    assert r["valid"] is True, {k: v.get("explanation") for k, v in r["checkers"].items()}
    assert not _running(p)


@pytest.mark.slow
def test_local_reads_are_caught(tmp_path):
    p = _copy(tmp_path, "lin_kv_local_reads.py")
    cfg = RunConfig(system="maelstrom", workload="lin-kv", nemesis=(), time_limit=4, recovery_time=2,
                    rate=60, clients=6, nodes=3, keys=1, seed=1, settings={"bin": str(p)})
    r = run_test(cfg, directory=tmp_path / "run").results
    assert r["checkers"]["linearizable"]["valid"] is False


@pytest.mark.slow
def test_trusting_seq_kv_reads_is_caught(tmp_path):
    p = _copy(tmp_path, "g_counter_stale_reads.py")
    shutil.copy(HERE / "g_counter.py", p.parent / "g_counter.py")
    cfg = RunConfig(system="maelstrom", workload="g-counter", nemesis=(), time_limit=5, recovery_time=3,
                    rate=60, clients=5, nodes=5, seed=1, settings={"bin": str(p)})
    r = run_test(cfg, directory=tmp_path / "run").results
    assert r["checkers"]["counter"]["valid"] is False


def _harness_with_nodes(tmp_path: Path, env: dict[str, str] | None = None,
                        stderr: int = subprocess.DEVNULL) -> tuple[subprocess.Popen, Path]:
    prog = _copy(tmp_path, "lin_kv.py")
    h = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", "--system", "maelstrom", "--workload",
                          "lin-kv", "--bin", str(prog), "--nemesis", "none", "--time-limit", "60",
                          "--store", str(tmp_path / "store")], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=stderr)
    # Wait for the same 5 pids twice in a row: the programs start through
    # ``#!/usr/bin/env python3``, and where that is a pyenv shim (a bash script), its
    # short-lived subshells carry the program's path too. The deadlines are generous for
    # a loaded 2-core machine; a leak still fails, only later.
    deadline = time.monotonic() + 60
    last: list[int] = []
    while time.monotonic() < deadline:
        now = sorted(_running(prog, h.pid))
        if len(now) == 5 and now == last:
            break
        last = now
        time.sleep(0.2)
    assert len(last) == 5, last
    return h, prog


def _none_left(prog: Path, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _running(prog):
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_of_the_harness_leaves_no_node(tmp_path):
    h, prog = _harness_with_nodes(tmp_path)
    h.send_signal(signal.SIGINT)
    assert h.wait(60) == 130
    assert _none_left(prog)


def test_sigterm_of_the_harness_leaves_no_node_and_no_scratch_directory(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    h, prog = _harness_with_nodes(tmp_path, env={**os.environ, "TMPDIR": str(scratch)}, stderr=subprocess.PIPE)
    assert any(p.name.startswith("harness-live-") and p.name != "harness-live-ports" for p in scratch.iterdir())
    h.send_signal(signal.SIGTERM)
    _out, err = h.communicate(timeout=60)
    assert h.returncode == 128 + signal.SIGTERM
    assert err.decode().strip() == "harness: terminated"  # said, in one line, as other commands do
    assert _none_left(prog)
    left = [p.name for p in scratch.iterdir() if p.name.startswith("harness-live-") and p.name != "harness-live-ports"]
    assert left == [], f"SIGTERM left the run's scratch directory behind: {left}"


def test_sigkill_of_the_harness_leaves_no_node(tmp_path):
    from harness.live.scratch import sweep

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    h, prog = _harness_with_nodes(tmp_path, env={**os.environ, "TMPDIR": str(scratch)})
    h.kill()
    h.wait(30)
    assert _none_left(prog)
    # its scratch directory stays behind, unlocked: the next live run's sweep removes it
    left = [p for p in scratch.iterdir() if p.name.startswith("harness-live-") and p.name != "harness-live-ports"]
    assert len(left) == 1
    assert sweep(scratch) == left and not left[0].exists()


def test_run_page_draws_the_messages_around_a_stale_read(tmp_path):
    from reports.run_report import write_run_report

    p = _copy(tmp_path, "lin_kv_local_reads.py")
    cfg = RunConfig(system="maelstrom", workload="lin-kv", nemesis=(), time_limit=2.5, recovery_time=2,
                    rate=80, clients=6, nodes=3, keys=1, seed=2, settings={"bin": str(p)})
    res = run_test(cfg, directory=tmp_path / "run")
    assert res.results["checkers"]["linearizable"]["valid"] is False
    page = write_run_report(tmp_path / "run", plots=False).read_text()
    assert 'id="messages"' in page
    svg = page[page.index("<svg", page.index('id="messages"')):]
    svg = svg[:svg.index("</svg>")]
    assert svg.count("marker-end") >= 2  # the read's request and reply at least
    assert "▼ op" in svg
    assert (tmp_path / "run" / "messages.jsonl").stat().st_size > 0


@pytest.mark.slow
def test_sigkill_of_a_campaign_leaves_no_worker_and_no_node(tmp_path):
    prog = _copy(tmp_path, "lin_kv.py")
    h = subprocess.Popen([sys.executable, "-m", "harness.cli", "campaign", "--system", "maelstrom", "--workload",
                          "lin-kv", "--bin", str(prog), "--nemesis", "none", "--time-limit", "30", "--runs", "4",
                          "--jobs", "2", "--no-report", "--store", str(tmp_path / "store")], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(_running(prog, h.pid)) < 10 + 2 and time.monotonic() < deadline:  # 2 workers, 5 nodes each
        time.sleep(0.2)
    assert len(_running(prog, h.pid)) >= 10
    h.kill()
    h.wait(10)
    assert _none_left(prog)
