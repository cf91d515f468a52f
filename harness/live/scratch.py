"""The scratch directories of live runs: each held by its run, the stale ones removed.

A live run works in ``$TMPDIR/harness-live-XXXX`` (made and removed by the runner). A
harness killed with SIGKILL cannot remove it, so each run holds an ``flock`` on a file
in its directory for as long as its process lives (the kernel drops the lock when the
process dies), and each new live run first removes the directories of this user whose
lock nobody holds. A directory without a lock file (a run of an older harness) is
removed once it is a day old.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path
from typing import IO

PREFIX = "harness-live-"
LOCK = ".harness-live.lock"
#: age (s) past which a scratch directory with no lock file is stale
UNLOCKED_AGE = 24 * 3600
_HELD: dict[Path, IO[str]] = {}


def _stale(d: Path) -> bool:
    lock = d / LOCK
    try:
        fh = open(lock)  # noqa: SIM115 - closed below
    except FileNotFoundError:
        try:
            return time.time() - d.stat().st_mtime > UNLOCKED_AGE
        except OSError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # its run is alive
    finally:
        fh.close()
    return True


def sweep(parent: Path, keep: Path | None = None) -> list[Path]:
    """Remove the stale scratch directories under ``parent``; those removed."""
    gone: list[Path] = []
    uid = os.getuid()
    try:
        entries = list(parent.iterdir())
    except OSError:
        return gone
    for d in entries:
        if not d.name.startswith(PREFIX) or d.name == PREFIX + "ports" or d == keep:
            continue
        try:
            st = d.lstat()
        except OSError:
            continue
        if not d.is_dir() or d.is_symlink() or st.st_uid != uid:
            continue
        if _stale(d):
            shutil.rmtree(d, ignore_errors=True)
            gone.append(d)
    return gone


def hold(workdir: Path) -> None:
    """Sweep the stale directories beside ``workdir``, then hold ``workdir``'s lock until
    this process ends or a later call finds the directory removed."""
    workdir = Path(workdir)
    for d, fh in list(_HELD.items()):
        if not d.exists():
            fh.close()
            del _HELD[d]
    sweep(workdir.parent, keep=workdir)
    fh = open(workdir / LOCK, "w")  # noqa: SIM115 - held past this call on purpose
    fcntl.flock(fh, fcntl.LOCK_EX)
    _HELD[workdir] = fh
