"""A campaign or a run stopped by Ctrl-C or SIGTERM sent to the harness's own pid (as
``kill``, ``timeout`` or a CI runner send it; a terminal's Ctrl-C reaches the workers too):
it ends at once, without waiting for the runs in flight, leaves no worker behind (tracked
by pid through /proc, never by name), says how to resume, and exits 130 (Ctrl-C) or 143
(SIGTERM). Before, SIGTERM ended a campaign silently, and Ctrl-C waited for every run in
flight to finish only to drop it."""

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
from proctree import descendants, survivors

TESTS = Path(__file__).parent
ROOT = TESTS.parent

pytestmark = pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                                reason="needs Linux /proc/PID/task/TID/children")

#: a toy run of the longest time limit takes some 9 s of CPU: far longer than an
#: interrupted campaign may take to end
LONG = ["--system", "toy", "--time-limit", "3600", "--nemesis", "partition"]


def _harness(argv: list[str]) -> subprocess.Popen[str]:
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import toysystem  # registers "toy"
        from harness.cli import main
        sys.exit(main())
    """)
    return subprocess.Popen([sys.executable, "-c", script, *argv], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stop_mid_work(proc: subprocess.Popen[str], sig: int, workers: int) -> tuple[int, str, float]:
    """Send ``sig`` to ``proc`` (its pid only) once ``workers`` descendants run; (exit
    code, stderr, seconds it took to end), and no descendant left."""
    try:
        seen: set[tuple[int, str]] = set()
        deadline = time.monotonic() + 60
        while len(seen) < workers and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            seen |= descendants(proc.pid)
            time.sleep(0.05)
        assert len(seen) >= workers, f"only {len(seen)} workers started"
        time.sleep(0.5)  # the workers are inside their runs
        seen |= descendants(proc.pid)
        t0 = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - t0
        left = survivors(seen)
        assert not left, f"processes left after the harness ended: {left}"
        return proc.returncode, err, took
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated")])
def test_a_stopped_campaign_ends_at_once_and_says_how_to_resume(tmp_path, sig, code, word):
    proc = _harness(["campaign", *LONG, "--runs", "6", "--jobs", "2", "--store", str(tmp_path),
                     "--name", "c", "--no-report"])
    got, err, took = _stop_mid_work(proc, sig, workers=2)
    assert got == code, err
    assert f"harness: {word}" in err and "Traceback" not in err, err
    assert f"--store {tmp_path} --name c --resume" in err, err
    assert took < 5, f"took {took:.1f} s to end: it waited for the runs in flight"
    campaign = tmp_path / "campaigns" / "c"
    assert json.loads((campaign / "campaign.json").read_text())["runs"] == 6
    for line in (campaign / "index.jsonl").read_text().splitlines():  # whole lines only
        assert json.loads(line)["valid"] in (True, False, "unknown")


def test_sigterm_of_a_run_says_so(tmp_path):
    proc = _harness(["run", *LONG, "--store", str(tmp_path)])
    got, err, _ = _stop_mid_work(proc, signal.SIGTERM, workers=1)  # the page's process
    assert got == 143 and err.strip() == "harness: terminated", err
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir()), list(runs.iterdir())  # nothing half-written
