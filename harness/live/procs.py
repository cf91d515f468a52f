"""Every OS process a live run starts: started here, tracked by pid, ended by pid.

A process started through :class:`ProcessController` dies with the harness, however the
harness ends:

- normal exit, an exception, Ctrl-C: :meth:`ProcessController.close` (a context manager
  and an ``atexit`` hook) ends every process it started;
- SIGTERM: :func:`install_signal_handlers` turns it into ``SystemExit`` so the same
  ``finally`` blocks run;
- SIGKILL of the harness: nothing of the harness runs any more, so each child is started
  under ``setpriv --pdeathsig KILL`` (util-linux), which sets the kernel's parent-death
  signal before it execs the program. No Python code runs in the forked child (a
  ``preexec_fn`` can deadlock when other threads hold locks at fork time). What a child
  started in turn (a wrapper script's program) gets no such signal: a watchdog (one
  ``sh`` per controller, in a session of its own, ignoring SIGINT, SIGTERM and SIGHUP)
  holds the list of the live process groups, read from a pipe only the harness writes;
  end of file on it means the harness is gone, and the watchdog SIGKILLs those groups.
  On a normal close the watchdog is told ``done`` first and exits without killing.

The kernel sends the parent-death signal when the *thread* that forked the child ends,
not only the process. Live runs start processes from several threads (a nemesis thread
restarts a killed server), so every start goes through one spawner thread that lives as
long as the controller.

Each process leads a process group (and session) of its own, and every signal goes to
that group: a program started through a wrapper (a shell script that does not ``exec``,
a launcher) is paused, killed and ended with everything it started, not only the wrapper.
A process is reaped only after its group got SIGKILL, so the group's id (the process's
pid, held by the unreaped process) cannot have been reused by another process.

Processes are never looked up or ended by name: only the pids this module started, and
the process groups they lead.
"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Self

_CONTROLLERS: weakref.WeakSet[ProcessController] = weakref.WeakSet()

#: the watchdog (see the module docstring): ``add PGID`` / ``del PGID`` / ``done`` lines
#: on stdin; at end of file, SIGKILL every group still listed
WATCHDOG = r"""
trap '' INT TERM HUP
groups=""
while read -r cmd pg; do
  case "$cmd" in
    add) groups="$groups $pg" ;;
    del) kept=""; for g in $groups; do [ "$g" = "$pg" ] || kept="$kept $g"; done; groups="$kept" ;;
    done) exit 0 ;;
  esac
done
for g in $groups; do kill -KILL "-$g" 2>/dev/null; done
exit 0
"""


def _setpriv() -> str | None:
    return shutil.which("setpriv")


@dataclass
class LiveProcess:
    """One started process: its name in the run (``n1``, ``zk3``), argv and Popen."""

    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    #: monotonic time once it runs (Popen returned: the program was exec'd)
    started_at: float = field(default_factory=time.monotonic)
    paused: bool = False
    #: monotonic time just before it was forked: the program began between the two
    spawned_at: float = 0.0

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        """Whether the process runs; an exited one is left unreaped (see the module)."""
        if self.popen.returncode is not None:
            return False
        try:
            exited = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped behind Popen's back: gone
            return False
        return exited is None

    def wait_exit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the process to exit, without reaping it; True if it did."""
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    @property
    def stdin(self) -> IO[bytes] | None:
        return self.popen.stdin

    @property
    def stdout(self) -> IO[bytes] | None:
        return self.popen.stdout


class ProcessController:
    """Starts processes, signals them (kill, pause, resume) and ends them all at close."""

    def __init__(self) -> None:
        self._procs: list[LiveProcess] = []
        self._lock = threading.Lock()
        self._requests: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._closed = False
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._setpriv = _setpriv()
        self._spawner = threading.Thread(target=self._spawn_loop, name="live-spawner", daemon=True)
        self._spawner.start()
        _CONTROLLERS.add(self)

    # ---------------------------------------------------------------- starting
    def _spawn_loop(self) -> None:
        while True:
            job = self._requests.get()
            if job is None:
                return
            job()

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        stdin: Any = subprocess.DEVNULL,
        stdout: Any = subprocess.DEVNULL,
        stderr: Any = subprocess.DEVNULL,
    ) -> LiveProcess:
        """Start ``argv`` as process ``name``; it dies with the harness (see the module
        docstring). ``stdin``/``stdout``/``stderr`` are as for ``subprocess.Popen``."""
        if self._closed:
            raise RuntimeError("process controller is closed")
        full = list(argv)
        if self._setpriv is not None:
            full = [self._setpriv, "--pdeathsig", "KILL", "--", *full]
        box: dict[str, Any] = {}
        done = threading.Event()
        spawned_at = time.monotonic()

        def spawn() -> None:
            try:
                box["popen"] = subprocess.Popen(
                    full, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr,
                    start_new_session=True, close_fds=True,
                )
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                box["error"] = e
            finally:
                done.set()

        self._requests.put(spawn)
        done.wait()
        if "error" in box:
            raise box["error"]
        self._tell(f"add {box['popen'].pid}")
        proc = LiveProcess(name, list(argv), box["popen"], spawned_at=spawned_at)
        with self._lock:
            self._procs.append(proc)
        return proc

    def _tell(self, line: str) -> None:
        """One line to the watchdog, started with the first process."""
        with self._lock:
            if self._watchdog is None:
                if not line.startswith("add"):
                    return
                shell = shutil.which("sh")
                if shell is None:
                    return
                # not under setpriv: it must outlive the harness to do its job
                self._watchdog = subprocess.Popen([shell, "-c", WATCHDOG], stdin=subprocess.PIPE,
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                  start_new_session=True, close_fds=True)
            stdin = self._watchdog.stdin
            try:
                if stdin is not None:
                    stdin.write(line.encode() + b"\n")
                    stdin.flush()
            except (BrokenPipeError, ValueError):
                pass

    def _close_watchdog(self) -> None:
        with self._lock:
            w, self._watchdog = self._watchdog, None
        if w is None:
            return
        try:
            if w.stdin is not None:
                w.stdin.write(b"done\n")
                w.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            w.wait(2.0)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()

    # ---------------------------------------------------------------- signals
    def _signal_group(self, proc: LiveProcess, sig: int) -> bool:
        """``sig`` to the process group ``proc`` leads, while ``proc`` is unreaped."""
        if proc.popen.returncode is not None:
            return False
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def _signal(self, proc: LiveProcess, sig: int) -> bool:
        return proc.alive() and self._signal_group(proc, sig)

    def _end(self, proc: LiveProcess, timeout: float = 5.0) -> int | None:
        """SIGKILL the process's whole group, then reap it; its exit code (None: unknown)."""
        if proc.popen.returncode is not None:
            return proc.popen.returncode
        self._signal_group(proc, signal.SIGKILL)
        self._tell(f"del {proc.pid}")  # before the reaping frees the pid for reuse
        try:
            return proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self, proc: LiveProcess, timeout: float = 5.0) -> bool:
        """SIGKILL (the process and its group) and reap; True if the process was running."""
        was = proc.alive()
        self._end(proc, timeout)
        proc.paused = False
        return was

    def reap(self, proc: LiveProcess, timeout: float = 0.2) -> int | None:
        """A process that exited (or closed its pipes) on its own: wait up to ``timeout``
        s for it to exit, then end what is left of its group and reap it; the exit code,
        or None if it had to be killed."""
        exited = proc.wait_exit(timeout)
        code = self._end(proc)
        proc.paused = False
        return code if exited else None

    def pause(self, proc: LiveProcess) -> bool:
        """SIGSTOP; True if it changed anything."""
        if proc.paused:
            return False
        changed = self._signal(proc, signal.SIGSTOP)
        proc.paused = changed
        return changed

    def resume(self, proc: LiveProcess) -> bool:
        """SIGCONT; True if the process was paused."""
        if not proc.paused:
            return False
        proc.paused = False
        return self._signal(proc, signal.SIGCONT)

    def terminate(self, proc: LiveProcess, grace: float = 2.0) -> None:
        """SIGTERM (continuing it first if paused), then SIGKILL after ``grace`` s; what
        the process started goes with it."""
        if proc.popen.returncode is not None:
            return
        if proc.alive():
            self._signal_group(proc, signal.SIGTERM)
            self._signal_group(proc, signal.SIGCONT)
            proc.wait_exit(grace)
        self._end(proc)
        proc.paused = False

    # ---------------------------------------------------------------- ending
    def processes(self) -> list[LiveProcess]:
        with self._lock:
            return list(self._procs)

    def close(self, grace: float = 2.0) -> None:
        """End every process started here (SIGTERM, then SIGKILL); idempotent."""
        if self._closed:
            return
        self._closed = True
        procs = [p for p in self.processes() if p.popen.returncode is None]
        for p in procs:
            if p.alive():
                self._signal_group(p, signal.SIGTERM)
                self._signal_group(p, signal.SIGCONT)
        deadline = time.monotonic() + grace
        for p in procs:
            p.wait_exit(max(0.0, deadline - time.monotonic()))
        for p in procs:
            self._end(p)
            p.paused = False
        self._close_watchdog()
        self._requests.put(None)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_all() -> None:
    for c in list(_CONTROLLERS):
        c.close(grace=1.0)


atexit.register(_close_all)


def install_signal_handlers() -> None:
    """SIGTERM (and SIGHUP) raise ``SystemExit`` in the main thread, so the ``finally``
    blocks and the ``atexit`` hook end every started process. Call from the main thread."""

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)
