"""No worker outlives its parent: SIGKILL a ``harness campaign`` and a ``harness shrink``
mid-work and find none of their processes left (tracked by pid, through /proc, never by
name); and the pipe fallback of ``harness.parentdeath`` alone ends a worker too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from proctree import alive, descendants, stat, survivors

from harness.config import RunConfig
from harness.runner import run_test

TESTS = Path(__file__).parent
ROOT = TESTS.parent

pytestmark = pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                                reason="needs Linux /proc/PID/task/TID/children")


def _kill_mid_work(argv: list[str], workers: int) -> None:
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import toysystem  # registers "toy"
        from harness.cli import main
        sys.exit(main({argv!r}))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        seen: set[tuple[int, str]] = set()
        deadline = time.monotonic() + 60
        while len(seen) < workers and time.monotonic() < deadline:
            assert proc.poll() is None, "the harness ended before its workers started"
            seen |= descendants(proc.pid)
            time.sleep(0.05)
        assert len(seen) >= workers, f"only {len(seen)} workers started"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        left = survivors(seen)
        assert not left, f"processes left after SIGKILL of their parent: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigkill_of_a_campaign_leaves_no_worker(tmp_path):
    _kill_mid_work(["campaign", "--system", "toy", "--time-limit", "20", "--runs", "10000", "--jobs", "2",
                    "--store", str(tmp_path), "--no-report"], workers=2)


def test_sigkill_of_a_shrink_leaves_no_worker(tmp_path):
    res = run_test(RunConfig(system="toy", time_limit=5, seed=2, bugs=("toy-async-backup-reads",),
                             nemesis=("partition", "kill", "clock", "pause"), nemesis_interval=1.5),
                   directory=tmp_path / "failing")
    assert res.valid is False
    _kill_mid_work(["shrink", str(res.directory), "--jobs", "2", "--budget", "600", "--no-report"], workers=2)


def test_the_pipe_alone_ends_a_worker_whose_parent_died(tmp_path):
    """Without the parent-death signal (other systems), the watched pipe ends the worker."""
    pidfile = tmp_path / "worker.pid"
    script = textwrap.dedent(f"""
        import os, time
        import harness.parentdeath as pd
        pd._set_pdeathsig = lambda: False  # as where prctl does not exist
        r, w = os.pipe()
        parent = os.getpid()
        if os.fork() == 0:
            os.close(w)
            pd.die_with_parent(parent, r)
            open({str(pidfile)!r}, "w").write(str(os.getpid()))
            while True:
                time.sleep(1)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        worker = int(pidfile.read_text())
        start = stat(worker)[19]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while alive(worker, start) and time.monotonic() < deadline:
            time.sleep(0.05)
        survived = alive(worker, start)
        if survived:
            os.kill(worker, signal.SIGKILL)
        assert not survived
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
