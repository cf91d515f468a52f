"""Scratch directories of live runs: a killed run's is removed by the next run, a live
run's is kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from harness.live import scratch

HOLDER = ("import sys, time\nfrom pathlib import Path\nfrom harness.live.scratch import hold\n"
          "hold(Path(sys.argv[1]))\nprint('held', flush=True)\ntime.sleep(600)\n")


def _dir(parent: Path, name: str) -> Path:
    d = parent / (scratch.PREFIX + name)
    (d / "n1").mkdir(parents=True)
    (d / "n1" / "server.log").write_text("x")
    return d


def test_a_killed_runs_directory_goes_a_live_runs_stays(tmp_path: Path) -> None:
    alive, killed = _dir(tmp_path, "alive"), _dir(tmp_path, "killed")
    old, fresh = _dir(tmp_path, "old-unlocked"), _dir(tmp_path, "fresh-unlocked")
    ports = tmp_path / (scratch.PREFIX + "ports")
    ports.mkdir()
    day_ago = time.time() - scratch.UNLOCKED_AGE - 60
    os.utime(old, (day_ago, day_ago))
    procs = []
    try:
        for d in (alive, killed):
            p = subprocess.Popen([sys.executable, "-c", HOLDER, str(d)], stdout=subprocess.PIPE, text=True)
            assert p.stdout is not None and p.stdout.readline().strip() == "held"
            procs.append(p)
        procs[1].kill()  # SIGKILL: its lock goes with it, its directory stays behind
        procs[1].wait(10)
        mine = _dir(tmp_path, "mine")
        scratch.hold(mine)
        assert not killed.exists() and not old.exists()
        assert alive.exists() and fresh.exists() and mine.exists() and ports.exists()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
