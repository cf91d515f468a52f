"""Blocks of free TCP ports on 127.0.0.1 for one live run, safe beside other live runs.

A live run needs fixed ports (a server's peers are named by port in its config, and a
cut proxy must be able to listen again on the same port after a heal), so ports come
from below the kernel's ephemeral range, where outgoing connections never take them.
Runs side by side (``campaign --jobs``) each hold an ``flock`` on their block's lock
file for as long as they run; the kernel drops the lock if the harness dies.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path
from typing import IO

from harness.live.run import LiveStartError

#: ports a run may hold: a 7-server ZooKeeper ensemble takes 105 (3 a server, and a proxy
#: each way of each quorum and election link), and the election workload one more a client
BLOCK = 200
FIRST = 20_000
LAST = 32_000  # Linux's ephemeral range starts at 32768 by default


def _bindable(port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class PortBlock:
    """``BLOCK`` consecutive ports reserved for this run until :meth:`release`."""

    def __init__(self, base: int, lock: IO[str]):
        self.base = base
        self._lock = lock
        self._next = base

    def take(self) -> int:
        if self._next >= self.base + BLOCK:
            raise RuntimeError("port block exhausted")
        p = self._next
        self._next += 1
        return p

    def release(self) -> None:
        try:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
        except (OSError, ValueError):
            pass


def reserve_block(needed: int = BLOCK) -> PortBlock:
    """A block of ports none of which is in use, locked against other live runs."""
    lockdir = Path(tempfile.gettempdir()) / "harness-live-ports"
    lockdir.mkdir(exist_ok=True)
    bases = list(range(FIRST, LAST - BLOCK, BLOCK))
    random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "little")).shuffle(bases)
    for base in bases:
        fh = open(lockdir / f"{base}.lock", "w")  # noqa: SIM115 - held for the run, closed by release()
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            continue
        if all(_bindable(p) for p in range(base, base + needed)):
            return PortBlock(base, fh)
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()
    # the machine, not the harness: one line, exit 254 (every block in use by other runs)
    raise LiveStartError(f"no free block of {needed} ports on 127.0.0.1 between {FIRST} and {LAST} "
                         f"(other live runs hold them, or other programs listen there)")
