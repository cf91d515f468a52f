"""Writing a run's data files in a forked child while this process checks the run.

After the simulation, ``harness run`` spends some 40 ms encoding the history and the
trace as JSON lines and writing them, which the checkers do not need. `start` forks a
child that writes every file but results.json under the run directory's temporary name
(``harness.store.write_data_files``), hands that directory to ``on_data`` (the page's
process: ``reports.prefork``) and sends back the sha256 of history.jsonl, which
results.json records; meanwhile this process checks. `AsideRun.history_sha256` waits for
the child. If the child cannot be started or fails, the files are written in this
process, so an error (a full disk) surfaces as it would without the child; the files
are the same either way.

The child dies with this process (``PR_SET_PDEATHSIG``), is reaped on every path, and
leaves with ``os._exit`` (none of this process's exit code runs twice). Objects are
frozen out of the cyclic collector while it runs, so this process's collections do not
write to (and so copy) every page the two processes share.
"""

from __future__ import annotations

import gc
import hashlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.store import PendingRun, history_bytes, new_run_dir, write_data_files


def worth_forking(out: Any) -> bool:
    """Fork only where it can pay: ``fork`` exists, no other thread runs, a simulated run
    (a live run's copied files stay with the plain path), and a CPU to spare: more than
    one, load average below their number + 0.5 (as for the page's plots: on a machine
    busy on every CPU the child only adds the fork's cost). ``HARNESS_WRITE_ASIDE=1`` or
    ``=0`` in the environment decides instead of the CPUs."""
    forced = os.environ.get("HARNESS_WRITE_ASIDE", "").strip()
    if forced == "0" or not hasattr(os, "fork") or threading.active_count() > 1 or getattr(out, "artifacts", None):
        return False
    if forced == "1":
        return True
    cpus = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return cpus > 1 and busy < cpus + 0.5


def start(out: Any, store: Path | None = None, name: str | None = None, directory: Path | None = None,
          on_data: Callable[[Path], None] | None = None) -> AsideRun | None:
    """Fork the writer of ``out``'s data files; None when it is not worth it (or fork
    fails): then the caller writes them (``harness.store.begin_run``)."""
    if not worth_forking(out):
        return None
    pending = new_run_dir(out, store=store, name=name, directory=directory)
    frozen = False
    if gc.isenabled() and gc.get_freeze_count() == 0:
        # the young objects (all the simulation made: it runs without the collector) are
        # collected now, as they would be a moment later, so frozen garbage does not linger
        gc.collect(0)
        gc.freeze()
        frozen = True
    try:
        r, w = os.pipe()
    except OSError:
        _thaw(frozen)
        pending.abort()
        return None
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        _thaw(frozen)
        pending.abort()
        return None
    if pid == 0:  # the child: write, hand over, report the hash, leave
        code = 1
        try:
            gc.disable()  # short-lived: no collections
            os.close(r)
            _die_with(parent)
            history = history_bytes(out.history)
            write_data_files(pending.tmp, out, history)
            if on_data is not None:
                on_data(pending.tmp)
            os.write(w, hashlib.sha256(history).hexdigest().encode())
            code = 0
        except BaseException:  # noqa: BLE001 - reported by the exit status; the parent writes
            pass
        finally:
            os._exit(code)
    os.close(w)
    return AsideRun(pending, pid, r, frozen)


def _die_with(parent: int) -> None:
    """Die when ``parent`` does (Linux: the parent-death signal), and leave if it
    already has."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)


def _thaw(frozen: bool) -> None:
    if frozen:
        gc.unfreeze()


class AsideRun:
    """A run directory whose data files a forked child is writing (`start`)."""

    def __init__(self, pending: PendingRun, pid: int, r: int, frozen: bool) -> None:
        self.pending = pending
        self.pid: int | None = pid
        self._r: int | None = r
        self._frozen = frozen

    @property
    def tmp(self) -> Path:
        return self.pending.tmp

    def history_sha256(self, out: Any, on_data: Callable[[Path], None] | None = None) -> str:
        """Wait for the child; the sha256 of history.jsonl. When the child failed, the
        files are written here (their errors raise) and handed to ``on_data``."""
        answer = b""
        if self._r is not None:
            with os.fdopen(self._r, "rb") as f:
                self._r = None
                answer = f.read()
        status = self._reap()
        sha = answer.decode(errors="replace")
        if status == 0 and len(sha) == 64:
            return sha
        history = history_bytes(out.history)
        write_data_files(self.tmp, out, history)
        if on_data is not None:
            on_data(self.tmp)
        return hashlib.sha256(history).hexdigest()

    def commit(self, results: dict[str, Any]) -> Path:
        """``harness.store.PendingRun.commit``, once `history_sha256` has answered."""
        return self.pending.commit(results)

    def abort(self) -> None:
        """End the child if it still runs (kill by pid, reap) and remove the directory."""
        if self._r is not None:
            os.close(self._r)
            self._r = None
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            self._reap()
        self.pending.abort()

    def _reap(self) -> int:
        status = -1
        if self.pid is not None:
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = None
            _thaw(self._frozen)
            self._frozen = False
        return status
