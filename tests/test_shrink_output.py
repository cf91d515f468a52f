"""The shrunk run directory is published atomically: a shrink SIGKILLed at any step of
putting its result in place leaves the output directory complete (the old checkpoint or
the new result), and the next shrink into it cleans up and recovers what was set aside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.shrink.checkpoint import read_checkpoint
from harness.shrink.output import recover, replace_dir, staging_dir

TESTS = Path(__file__).parent
ROOT = TESTS.parent


def _tree(d: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(d.iterdir())}


def _make(d: Path, **files: str) -> Path:
    d.mkdir()
    for k, v in files.items():
        (d / k).write_text(v)
    return d


@pytest.mark.parametrize("exchange", [True, False])
def test_replace_dir_swaps_in_the_new_directory_and_leaves_nothing_behind(tmp_path, exchange):
    target = _make(tmp_path / "out", **{"checkpoint.json": "old"})
    new = _make(staging_dir(target), **{"checkpoint.json": "new", "history.jsonl": "h"})
    replace_dir(new, target, exchange=exchange)
    assert _tree(target) == {"checkpoint.json": "new", "history.jsonl": "h"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    # and into a place where nothing was yet
    fresh = _make(tmp_path / "new2", a="1")
    replace_dir(fresh, tmp_path / "out2", exchange=exchange)
    assert _tree(tmp_path / "out2") == {"a": "1"}


# The child replaces out with a staged directory, and is SIGKILLed at the n-th call of
# `os.rename`/`shutil.rmtree` inside replace_dir (the exchange call counts as a rename).
_CHILD = """
import os, shutil, signal, sys
from pathlib import Path
import harness.shrink.output as o
kill_at, exchange = int(sys.argv[1]), sys.argv[2] == "1"
n = [0]
def step(f):
    def g(*a, **k):
        n[0] += 1
        if n[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return f(*a, **k)
    return g
o._exchange = step(o._exchange)
os.rename = step(os.rename)
shutil.rmtree = step(shutil.rmtree)
target = Path(sys.argv[3])
new = Path(sys.argv[4])
o.replace_dir(new, target, exchange=exchange)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("exchange", [True, False])
def test_a_kill_at_any_step_of_publishing_leaves_a_complete_directory(tmp_path, exchange):
    old, new_files = {"checkpoint.json": "old"}, {"checkpoint.json": "new", "results.json": "r"}
    # exchange, delete; or: clear the aside name, rename aside, rename in, delete
    steps = 2 if exchange else 4
    for kill_at in range(1, steps + 2):
        d = tmp_path / f"k{kill_at}"
        d.mkdir()
        target = _make(d / "out", **old)
        new = _make(d / ".out.new-1", **new_files)
        p = subprocess.run([sys.executable, "-c", _CHILD, str(kill_at), "1" if exchange else "0", str(target),
                            str(new)], cwd=ROOT, capture_output=True, text=True)
        killed = p.returncode == -signal.SIGKILL
        assert killed or p.returncode == 0, p.stderr
        recover(target)
        assert _tree(target) in (old, new_files), (kill_at, sorted(x.name for x in d.iterdir()))
        if not killed or (exchange and kill_at == 2) or (not exchange and kill_at == 4):
            assert _tree(target) == new_files  # the swap had happened
        assert sorted(x.name for x in d.iterdir()) == ["out"]  # no staging or aside copy left


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_shrink_killed_while_publishing_keeps_its_checkpoint_then_resumes(tmp_path):
    from test_shrink_run import _failing_toy_run

    failing = _failing_toy_run(tmp_path / "failing")
    out_dir = tmp_path / "out"
    # killed right before the staged result is put in place: out holds the checkpoint
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(TESTS)!r})
        import toysystem  # registers "toy"
        import harness.shrink.driver as d
        def die(new, target):
            assert (new / "history.jsonl").exists() and (new / "shrink.json").exists()
            os.kill(os.getpid(), signal.SIGKILL)
        d.replace_dir = die
        d.shrink_run({str(failing)!r}, 600, {str(out_dir)!r}, jobs=1)
    """)
    p = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr
    ck = read_checkpoint(out_dir)
    assert ck is not None and ck["complete"] is False
    assert any(x.name.startswith(".out.new-") for x in tmp_path.iterdir())  # the staged result
    from harness.shrink import shrink_run

    logs: list[str] = []
    out, _ = shrink_run(failing, 60, out_dir, jobs=1, log=logs.append)
    assert any("resumed from the checkpoint" in line for line in logs), logs
    assert read_checkpoint(out)["complete"] is True
    assert json.loads((out / "shrink.json").read_text())["after"]["faults"] <= ck["sizes"]["faults"]
    assert (out / "history.jsonl").exists()
    assert not [x.name for x in tmp_path.iterdir() if x.name.startswith(".")]  # staging cleaned up
    assert os.listdir(out)  # and complete
