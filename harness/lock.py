"""One harness process at a time on a campaign or a shrink output: an exclusive ``flock``.

Two ``harness campaign --name N --resume`` (or a campaign and its own resume) started
side by side would each run every seed not yet done, and both append to the index: every
run twice, an index with two lines per seed. Two shrinks into the same output directory
would race to swap their results into it. :func:`exclusive` holds a lock file beside
what it guards for as long as the command works on it; a second process is refused at
once (``ConfigError``: exit 254, naming the holder's pid). The kernel drops the lock
when its holder dies, even by SIGKILL, so there is no stale lock to clean up. The holder
removes the lock file when it is done (one left by a killed holder is taken over); a
process that locked a file just removed sees that its file is no longer the one at the
path, and locks that one instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.config import ConfigError


@contextmanager
def exclusive(lock_file: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (created if missing) inside the block;
    ConfigError if another process holds it. ``what`` names the guarded thing in the
    message ("campaign 'c'"). Where ``fcntl`` does not exist, no lock is taken."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking, as before
        yield
        return
    while True:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(f"{what} is in use by another harness process (pid {holder}): "
                              f"wait for it to end or stop it first") from None
        try:
            same = os.stat(lock_file).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder before us removed it as we opened it: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        try:
            os.unlink(lock_file)  # while still holding it: no one can hold this file after us
        except OSError:
            pass
        os.close(fd)  # closing the last descriptor of it releases the lock
