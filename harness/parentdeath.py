"""Worker processes that die with their parent, even when the parent is SIGKILLed.

A campaign or a shrink runs its candidates in a process pool. Killed with SIGKILL, the
parent runs no cleanup, and its workers would live on under PID 1, blocked on a pipe
forever with the campaign's files open. Two guards, both set up in each worker's
initializer:

* Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker when the thread
  that forked it dies (the pool forks from the main thread, which lives as long as the
  process);
* everywhere: a daemon thread blocked reading a pipe whose only write end stays in the
  parent; end of file means the parent is gone, and the worker kills itself.

A parent already gone before the guards were set (the ``getppid`` check) ends the worker too.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from typing import Any

PR_SET_PDEATHSIG = 1


def _set_pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        status: int = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        return status == 0
    except (OSError, AttributeError):
        return False


def _watch(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 1):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    os.kill(os.getpid(), signal.SIGKILL)


def die_with_parent(parent_pid: int | None = None, watch_fd: int | None = None) -> None:
    """Make this process die when its parent does: the parent-death signal, and, given
    ``watch_fd`` (the read end of a pipe only the parent writes), a thread watching it."""
    _set_pdeathsig()
    if watch_fd is not None:
        threading.Thread(target=_watch, args=(watch_fd,), name="parent-watch", daemon=True).start()
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGKILL)  # the parent died before the guards were set


def _init_worker(parent_pid: int | None, read_fd: int | None, write_fd: int | None) -> None:
    if write_fd is not None:
        try:
            os.close(write_fd)  # the fork copied it; only the parent may hold a write end
        except OSError:
            pass
    die_with_parent(parent_pid, read_fd)


class ProcessPool(cf.ProcessPoolExecutor):
    """A ``ProcessPoolExecutor`` whose workers die with this process (see the module).

    The pipe is only handed down to forked workers: a spawned or forkserver worker does
    not inherit it (its parent-death signal still holds; a forkserver exits with us)."""

    def __init__(self, max_workers: int, mp_context: Any = None) -> None:
        ctx = mp_context or multiprocessing.get_context()
        self._lifeline: tuple[int, ...] = ()
        r = w = None
        if ctx.get_start_method() == "fork":
            self._lifeline = r, w = os.pipe()
        # a forkserver's workers are its children, not ours: no parent check for them
        parent = os.getpid() if ctx.get_start_method() in ("fork", "spawn") else None
        super().__init__(max_workers=max_workers, mp_context=ctx, initializer=_init_worker,
                         initargs=(parent, r, w))

    def kill_workers(self) -> None:
        """SIGKILL every worker, by its pid: for when what they run is no longer wanted (an
        interrupted campaign, a finished shrink), which ``shutdown(wait=True)`` would
        otherwise wait for, run by run. The pool is broken afterwards: shut it down."""
        for proc in list((getattr(self, "_processes", None) or {}).values()):
            try:
                proc.kill()
            except (OSError, ValueError, AttributeError):  # already gone, or closed
                pass

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        try:
            super().shutdown(wait=wait, cancel_futures=cancel_futures)
        finally:
            fds, self._lifeline = self._lifeline, ()
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass


class RenewingPool(cf.Executor):
    """A `ProcessPool` that replaces itself when a worker died under it (the out-of-memory
    killer, a stray ``kill``): a broken pool refuses every later task, so the next
    ``submit`` ends the broken one and starts a new one. The futures that were in flight
    raise ``BrokenProcessPool``; what to do with their tasks is the caller's (the campaign
    and the shrinker run each again alone)."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._pool = ProcessPool(max_workers)

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self._pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            self._pool.kill_workers()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = ProcessPool(self.max_workers)
            return self._pool.submit(fn, *args, **kwargs)

    def kill_workers(self) -> None:
        self._pool.kill_workers()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

