"""Live runs against a real ZooKeeper ensemble: short smoke runs, refusals, no process left.

Skipped, saying why, where java, Debian's zookeeper jar or kazoo are missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from proctree import alive, descendants

from harness.config import RunConfig
from harness.live.zookeeper.spec import missing_requirements

MISSING = missing_requirements()
needs_zk = pytest.mark.skipif(bool(MISSING), reason=f"live ZooKeeper needs {', '.join(MISSING)} "
                              "(apt-get install zookeeper default-jre-headless; pip install kazoo)")
REPO = Path(__file__).resolve().parents[2]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _harness(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, check=False,
                          cwd=REPO, timeout=kw.pop("timeout", 180), **kw)


@needs_zk
@pytest.mark.parametrize("reads", ["sync", "local"])
def test_register_smoke_run(tmp_path: Path, reads: str):
    """A short run with a kill, a pause and partitions: a full run directory, a decided
    linearizability verdict, the quorum check not applicable, the session check run from the
    history's zxids, every JVM gone."""
    from harness.runner import run_test

    cfg = RunConfig(system="zookeeper", workload="register", nodes=3, clients=6, rate=40.0,
                    time_limit=10.0, recovery_time=8.0, nemesis=("partition", "kill", "pause"),
                    nemesis_interval=3.0, reads=reads, seed=5)
    res = run_test(cfg, directory=tmp_path / "run")
    d = res.directory
    for name in ("config.json", "history.jsonl", "faults.jsonl", "schedule.json", "results.json", "roles.jsonl",
                 "logs/n1.log", "logs/n2.cfg"):
        assert (d / name).exists(), name
    assert "QuorumPeerMain" in (d / "logs/n1.log").read_text() or (d / "logs/n1.log").stat().st_size > 0
    r = json.loads((d / "results.json").read_text())
    assert r["live"] is True and "not replayable" in r["replay"]
    assert r["checkers"]["quorum"]["details"]["not_applicable"] and r["checkers"]["quorum"]["valid"] == "unknown"
    # the session check runs from the history alone: every ok read reports its zxids
    sess = r["checkers"]["session"]
    assert "not_applicable" not in sess["details"] and sess["valid"] != "unknown", sess
    reads = [e for e in res.out.history if e["type"] == "ok" and e["f"] == "read"]
    assert sess["details"]["reads"] == len(reads) > 0
    assert all(e["zxid"] >= e["mzxid"] >= 0 for e in reads)
    assert all(e["zxid"] > 0 for e in res.out.history if e["type"] == "ok" and e["f"] in ("write", "cas"))
    assert r["checkers"]["linearizable"]["valid"] is True, r["checkers"]["linearizable"]
    assert r["checkers"]["liveness"]["valid"] is True
    oks = [e for e in res.out.history if e["type"] == "ok"]
    assert len(oks) > 50 and {e["f"] for e in oks} >= {"read", "write"}
    assert {e["node"] for e in oks} == {"n1", "n2", "n3"}  # clients pinned to every server
    assert any(f["kind"] in ("kill", "pause", "partition") for f in res.out.faults)
    assert res.out.stats["startup_s"] > 0
    for p in res.out.stats.get("pids", []):
        assert not alive(p)


@needs_zk
def test_sigkill_of_the_harness_leaves_no_process(tmp_path: Path):
    """SIGKILL the harness mid-run: every JVM it started dies with it (pdeathsig)."""
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", "--system", "zookeeper", "--nodes", "3",
                             "--nemesis", "pause", "--time-limit", "60", "--store", str(tmp_path), "--no-report"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        jvms: set[tuple[int, str]] = set()
        while time.monotonic() < deadline and len(jvms) < 3:
            jvms = {(p, s) for p, s in descendants(proc.pid) if "QuorumPeerMain" in _cmdline(p)}
            time.sleep(0.2)
        assert len(jvms) == 3, "the ensemble did not start"
        time.sleep(3)  # mid-run: clients connected, the nemesis running
        tracked = descendants(proc.pid) | jvms
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        end = time.monotonic() + 10
        while time.monotonic() < end and any(alive(p, s) for p, s in tracked):
            time.sleep(0.1)
        left = [(p, _cmdline(p)[:80]) for p, s in tracked if alive(p, s)]
        assert not left, f"processes survived the harness: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_crash_and_power_refused_in_one_line():
    r = _harness("run", "--system", "zookeeper", "--nemesis", "partition,crash")
    if MISSING:
        assert r.returncode == 254 and "apt-get install zookeeper" in r.stderr
        return
    assert r.returncode == 254
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "crash" in lines[0] and "partition" in lines[0], r.stderr


def test_missing_software_says_what_to_install_in_one_line(tmp_path: Path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no java, no setpriv
    r = _harness("run", "--system", "zookeeper", "--time-limit", "5", env=env)
    assert r.returncode == 254
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install zookeeper" in lines[0] and "java" in lines[0], r.stderr


@needs_zk
def test_election_smoke_run_with_fencing(tmp_path: Path):
    """Candidates race for /master on the real ensemble, pauses hit servers and candidates:
    the mutex checker judges the candidates' and the storage's trace; with fencing, valid."""
    from harness.runner import run_test

    cfg = RunConfig(system="zookeeper", workload="election", nodes=3, clients=5, rate=20.0, time_limit=12.0,
                    recovery_time=8.0, nemesis=("pause",), nemesis_interval=3.0, seed=3,
                    settings={"fencing": True})
    res = run_test(cfg, directory=tmp_path / "run")
    r = res.results
    mutex = r["checkers"]["mutex"]
    assert mutex["valid"] is True, mutex["explanation"]
    kinds = {ev["kind"] for ev in res.out.trace}
    assert {"master_begin", "storage_fence"} <= kinds
    assert any(e["type"] == "ok" and e["f"] == "acquire" for e in res.out.history)
    assert any(f["kind"] == "pause" and f.get("changed") for f in res.out.faults)
    assert r["checkers"]["liveness"]["valid"] is True


@pytest.mark.parametrize("setting", ["tick_time=abc", "heap_mb=1", "session_timeout=5", "fencing=1"])
def test_nonsense_settings_refused_in_one_line(setting: str):
    if MISSING:
        pytest.skip("the install hint comes first")
    r = _harness("run", "--system", "zookeeper", "--nodes", "3", "--time-limit", "2", "--set", setting,
                 timeout=60)
    assert r.returncode == 254, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"setting {setting.split('=')[0]} must be" in lines[0], r.stderr


def test_an_ensemble_that_cannot_start_is_one_line_quoting_its_log(tmp_path: Path, monkeypatch, capsys):
    """A server exiting at start (here a stand-in for the JVM that prints an error and exits)
    is an environment problem: one line with what its log said, exit 254; no traceback, no
    path into the scratch directory that is removed with the run."""
    from harness.cli import main
    from harness.live.zookeeper import ensemble, spec

    monkeypatch.setattr(spec, "missing_requirements", lambda: [])
    monkeypatch.setattr(ensemble.ZkEnsemble, "_argv", lambda self, s: [
        "sh", "-c", "echo 'Error occurred during initialization of VM' >&2; echo 'Too small heap' >&2; exit 1"])
    code = main(["run", "--system", "zookeeper", "--nodes", "3", "--time-limit", "2",
                 "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 254, err
    assert len(err) == 1 and "exited at start" in err[0] and "Too small heap" in err[0], err
    assert "harness-live-" not in err[0]


def test_no_free_ports_is_one_line(tmp_path: Path, monkeypatch, capsys):
    from harness.cli import main
    from harness.live import ports
    from harness.live.zookeeper import spec

    monkeypatch.setattr(spec, "missing_requirements", lambda: [])
    monkeypatch.setattr(ports, "_bindable", lambda port: False)  # every port taken
    code = main(["run", "--system", "zookeeper", "--nodes", "3", "--time-limit", "2",
                 "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 254 and len(err) == 1 and "no free block of 21 ports" in err[0], err


@pytest.mark.parametrize("nodes", [3, 5, 7])
def test_an_ensemble_of_every_allowed_size_gets_its_ports(tmp_path: Path, nodes: int):
    """7 servers need 105 ports (and the election one more a candidate): no traceback."""
    from harness.live.zookeeper.ensemble import ZkEnsemble, ports_needed

    ens = ZkEnsemble(nodes, tmp_path, client_proxies=10)
    try:
        for _ in range(10):
            ens.ports.take()  # what the election's candidates' proxies take
        taken = [ens._proxy_port[k] for k in ens._proxy_port]
        taken += [p for s in ens.nodes.values() for p in (s.client_port, s.quorum_port, s.election_port)]
        assert len(set(taken)) == len(taken) == ports_needed(nodes)
    finally:
        ens.stop()


def test_too_many_election_candidates_for_the_ports_is_one_line():
    if MISSING:
        pytest.skip("the install hint comes first")
    r = _harness("run", "--system", "zookeeper", "--workload", "election", "--nodes", "7", "--clients", "200",
                 timeout=60)
    assert r.returncode == 254 and len(r.stderr.strip().splitlines()) == 1 and "ports" in r.stderr, r.stderr
