"""A system plugged in from outside: ``examples/pbregister`` installed as its own package.

The package is installed with pip into a temporary folder (offline: no index, no build
isolation, no dependencies) and the harness runs in a subprocess with that folder on
``PYTHONPATH``: it finds the system and its planted bug only through the package's entry
points (``harness.systems``, ``harness.bugs``). A campaign against the correct code stays
valid; a randomized campaign with the planted bug catches it (linearizability), and a
failing run reproduces byte for byte.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "pbregister"
BUG = "pb-stale-promotion"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> pathlib.Path:
    target = tmp_path_factory.mktemp("site")
    # built from a copy: setuptools writes build/ and *.egg-info beside the sources
    source = tmp_path_factory.mktemp("src") / "pbregister"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"pip could not install the example:\n{proc.stderr}"
    assert (target / "pbregister").is_dir()
    return target


def harness(args: list[str], site: pathlib.Path | None, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # the harness of this checkout, whichever one the environment installed (a worktree
    # shares the main checkout's venv, whose editable install would import that one's)
    env["PYTHONPATH"] = str(ROOT) if site is None else os.pathsep.join((str(site), str(ROOT)))
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def campaign(site: pathlib.Path, store: pathlib.Path, name: str, runs: int, seed: int, *extra: str) -> list[dict]:
    proc = harness(["campaign", "--system", "pbregister", "--workload", "register", "--nodes", "3",
                    "--nemesis", "partition,kill,crash,clock", "--time-limit", "20", "--runs", str(runs),
                    "--seed", str(seed), "--jobs", "2", "--store", str(store), "--name", name, "--no-report",
                    *extra], site, store)
    entries = [json.loads(line) for line in (store / "campaigns" / name / "index.jsonl").read_text().splitlines()]
    assert len(entries) == runs, proc.stderr
    expected = 1 if any(e["valid"] is False for e in entries) else 0
    assert proc.returncode == expected, proc.stderr
    return entries


def test_the_harness_alone_does_not_know_the_example(tmp_path):
    proc = harness(["run", "--system", "pbregister", "--workload", "register"], None, tmp_path)
    assert proc.returncode == 254 and "unknown system 'pbregister'" in proc.stderr
    assert BUG not in harness(["bugs"], None, tmp_path).stdout


def test_installed_it_is_listed_with_its_bug(site, tmp_path):
    out = harness(["bugs"], site, tmp_path).stdout
    assert BUG in out and "pbregister" in out
    proc = harness(["run", "--system", "pbregister", "--workload", "election"], site, tmp_path)
    assert proc.returncode == 254 and "does not serve workload election" in proc.stderr


@pytest.mark.parametrize("setting, fragment", [
    ("heartbeat_ms=abc", "heartbeat_ms must be an integer"),  # was a traceback (int('abc') in the server)
    ("election_timeout_ms=0", "election_timeout_ms must be an integer in [1,"),  # was randrange(0): a traceback
    ("heartbeat_ms=-5", "heartbeat_ms must be an integer in [1,"),  # was judged INVALID: a bug of the system
    ("heartbeat_ms=500", "must be at most setting election_timeout_ms"),
    ("nope=1", "(known: election_timeout_ms, heartbeat_ms)"),
])
def test_its_settings_are_checked_before_a_run(site, tmp_path, setting, fragment):
    proc = harness(["run", "--system", "pbregister", "--nodes", "3", "--time-limit", "2", "--no-report",
                    "--set", setting], site, tmp_path)
    assert proc.returncode == 254 and proc.stderr.count("\n") == 1 and fragment in proc.stderr, proc.stderr
    assert not (tmp_path / "store").exists()


def test_the_correct_system_stays_valid(site, tmp_path):
    entries = campaign(site, tmp_path, "correct", 8, 3)
    assert [e["valid"] for e in entries] == [True] * 8
    assert all(e.get("error") is None for e in entries)


def test_a_randomized_campaign_catches_the_planted_bug(site, tmp_path):
    entries = campaign(site, tmp_path, "bug", 24, 1, "--bug", BUG)
    caught = [e for e in entries if e["valid"] is False]
    assert caught, "24 randomized runs with the planted bug all passed"
    assert all("linearizable" in e["failed"] for e in caught)
    run_dir = tmp_path / "campaigns" / "bug" / "runs" / str(caught[0]["seed"])
    results = json.loads((run_dir / "results.json").read_text())
    assert results["checkers"]["linearizable"]["valid"] is False
    # the failing run is the system's, found again through the entry point, byte for byte
    repro = harness(["repro", str(run_dir)], site, tmp_path)
    assert repro.returncode == 1 and "identical" in repro.stdout, repro.stdout + repro.stderr
