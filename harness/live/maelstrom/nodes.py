"""The program's processes: ``n1..nN``, each started, initialised, killed, restarted.

A node is one OS process started through the live process controller (it dies with the
harness), with its stdin and stdout as pipes the loop reads and writes without blocking,
and its stderr appended to ``nX.stderr`` in the run's work directory. After a start the
harness sends ``init`` (from ``c0``, its own admin client) and the node counts as up
only once it answers ``init_ok``; a restarted node is a new process that gets ``init``
again and has lost its memory unless it kept files of its own (its working directory is
``nX/`` in the work directory and survives restarts).

Clock faults (only when the run's nemesis has ``clock`` or ``slow``): every node runs
under libfaketime (``LD_PRELOAD``), reading its offset and rate from a file that
``set_clock`` rewrites (``FAKETIME_NO_CACHE``: read at every clock call; the offset keeps
the clock continuous across a rate change: ``harness.live.faketime``). libfaketime
fakes the monotonic clock too (leaving it alone breaks ``clock_nanosleep``), so a rate
change moves the node's timers, as the simulator's skew does, but a bump or strobe also
jumps the node's monotonic clock, which a real wall-clock step would not. Statically
linked programs (Go's default) ignore ``LD_PRELOAD``: their clocks do not move.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.live.faketime import FakeClock
from harness.live.maelstrom.loop import Loop
from harness.live.maelstrom.network import Network
from harness.live.maelstrom.problems import Problems
from harness.live.procs import LiveProcess, ProcessController

FAKETIME_LIBS = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/local/lib/faketime/libfaketime.so.1")


#: bytes of one stdout line past which it is dropped as a protocol problem
MAX_LINE = 1 << 20


def faketime_lib() -> str | None:
    return next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)


class ProcNode:
    """One server of the run: a process speaking Maelstrom on its pipes."""

    def __init__(self, name: str, argv: list[str], workdir: Path, loop: Loop, net: Network,
                 procs: ProcessController, problems: Problems, node_ids: list[str],
                 init_timeout: float, clock: bool = False):
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.loop = loop
        self.net = net
        self.procs = procs
        self.problems = problems
        self.node_ids = node_ids
        self.init_timeout = init_timeout
        self.incarnation = 0
        self.proc: LiveProcess | None = None
        self.ready = False
        #: set by the run: a reply to this further request (the broadcast workload's
        #: ``topology``) is awaited after each ``init_ok`` before clients are served
        self.setup: Callable[[ProcNode], None] | None = None
        self.set_up = False
        self.expect_exit = False
        self.starts = 0
        self._init_token = 0
        #: why the current incarnation ended before answering init (None: it did not)
        self.boot_failure: str | None = None
        self._out = bytearray()
        self._in = b""
        self._wfd: int | None = None
        self._rfd: int | None = None
        self.cwd = workdir / name
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.clock_file: Path | None = None
        self.clock: FakeClock | None = None
        self.env = dict(os.environ)
        lib = faketime_lib() if clock else None
        if lib is not None:
            self.clock_file = workdir / f"{name}.faketime"
            self.clock = FakeClock(self.clock_file)
            self.env.update({"LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": str(self.clock_file),
                             "FAKETIME_NO_CACHE": "1"})

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.incarnation += 1
        self.starts += 1
        self.ready = False
        self.set_up = False
        self.expect_exit = False
        self.boot_failure = None
        self._out.clear()
        self._in = b""
        with open(self.workdir / f"{self.name}.stderr", "ab") as err:
            if self.starts > 1:
                err.write(f"---- {self.name} restarted (start {self.starts}) ----\n".encode())
                err.flush()
            try:
                self.proc = self.procs.start(self.name, self.argv, cwd=self.cwd, env=self.env,
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
            except OSError as e:
                self.proc = None
                self.boot_failure = f"could not be started: {e}"
                self.problems.add("crash-at-start", self.name, self.loop.rel(), f"{self.name} {self.boot_failure}")
                return
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._wfd = self.proc.stdin.fileno()
        self._rfd = self.proc.stdout.fileno()
        os.set_blocking(self._wfd, False)
        os.set_blocking(self._rfd, False)
        self.loop.add_reader(self._rfd, self._readable)
        inc = self.incarnation
        self.net.send("c0", {"src": "c0", "dest": self.name,
                             "body": {"type": "init", "msg_id": inc, "node_id": self.name,
                                      "node_ids": list(self.node_ids)}})
        self._arm_init_deadline()

    def _arm_init_deadline(self) -> None:
        """``init_timeout`` s from now for this incarnation to answer init; a pause (the
        nemesis's, not the program's doing) disarms it, the resume arms it afresh."""
        self._init_token += 1
        token = self._init_token
        self.loop.call_later(self.init_timeout, lambda: self._init_deadline(token))

    def _init_deadline(self, token: int) -> None:
        if token == self._init_token and not self.ready and self.alive():
            self.problems.add("no-init-ok", self.name, self.loop.rel(),
                              f"{self.name} never answered init within {self.init_timeout:g} s")

    def init_ok(self, in_reply_to: Any) -> None:
        if in_reply_to == self.incarnation and self.alive() and not self.ready:
            self.ready = True
            if self.setup is not None:
                self.setup(self)  # every incarnation: a restarted node knows nothing

    @property
    def serving(self) -> bool:
        """Whether clients may send it requests: initialised, and set up if it must be."""
        return self.ready and (self.setup is None or self.set_up)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def kill(self) -> bool:
        if self.proc is None or not self.proc.alive():
            return False
        self.expect_exit = True
        self.procs.kill(self.proc)
        self._closed()
        return True

    def restart(self) -> bool:
        if self.alive():
            return False
        self._closed()
        self.start()
        return True

    def pause(self) -> bool:
        changed = self.proc is not None and self.procs.pause(self.proc)
        if changed and not self.ready:
            self._init_token += 1  # a stopped process cannot answer init: no deadline runs
        return changed

    def resume(self) -> bool:
        changed = self.proc is not None and self.procs.resume(self.proc)
        if changed and not self.ready and self.alive():
            self._arm_init_deadline()
        return changed

    def set_clock(self, offset_ns: int, ppm: int) -> bool:
        if self.clock is None:
            raise NotImplementedError("clock faults need libfaketime")
        if self.proc is None:
            return False
        self.clock.set(offset_ns, ppm, (self.proc.spawned_at, self.proc.started_at))  # continuous
        return True

    def _closed(self) -> None:
        self.ready = False
        self.set_up = False
        if self._rfd is not None:
            self.loop.remove_reader(self._rfd)
            self._rfd = None
        if self._wfd is not None:
            self.loop.drop_writer(self._wfd)
            self._wfd = None
        if self.proc is not None:
            for f in (self.proc.popen.stdin, self.proc.popen.stdout):
                try:
                    if f is not None:
                        f.close()
                except OSError:
                    pass
        self._out.clear()

    # ------------------------------------------------------------------ pipes
    def _readable(self) -> None:
        fd = self._rfd
        if fd is None:
            return
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._eof()
            return
        buf = self._in + data
        *lines, self._in = buf.split(b"\n")
        if len(self._in) > MAX_LINE:
            self.problems.add("bad-message", self.name, self.loop.rel(),
                              f"{self.name} wrote more than {MAX_LINE >> 20} MiB on stdout without a newline")
            self._in = b""
        for line in lines:
            if line.strip():
                self.net.send_line(self.name, line + b"\n")

    def _eof(self) -> None:
        was_ready = self.ready
        self._closed()
        if self.expect_exit or self.proc is None:
            return
        # it closed its stdout: it is gone, or as good as gone (nothing it says can reach
        # anyone); what is left of it is ended, with whatever it started
        code = self.procs.reap(self.proc, 0.2)
        kind = "crash" if was_ready else "crash-at-start"
        when = "" if was_ready else " before answering init"
        how = f"exited on its own{when} (exit code {code})" if code is not None else \
            f"closed its stdout{when} and was ended"
        self.problems.add(kind, self.name, self.loop.rel(),
                          f"{self.name} {how}; its stderr is in nodes/{self.name}.stderr")
        if not was_ready:
            tail = self.stderr_tail()
            self.boot_failure = how + (f"; nodes/{self.name}.stderr ends: {tail!r}" if tail else
                                       f"; nodes/{self.name}.stderr is empty")
        self.expect_exit = True

    def stderr_tail(self, limit: int = 160) -> str:
        """The last line the program wrote on stderr (up to ``limit`` characters)."""
        try:
            with open(self.workdir / f"{self.name}.stderr", "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 4096))
                lines = [ln.strip() for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return lines[-1][:limit] if lines else ""

    @property
    def backlog(self) -> int:
        """Bytes sent to this node that its stdin has not taken yet (the network drops
        more past ``network.MAX_BACKLOG_BYTES``)."""
        return len(self._out)

    def deliver(self, msg: dict[str, Any], line: bytes | None) -> None:
        if self._wfd is None:
            return
        if line is None:
            import json

            line = (json.dumps(msg, separators=(",", ":")) + "\n").encode()
        self._out += line
        self._flush()

    def _flush(self) -> None:
        fd = self._wfd
        if fd is None or not self._out:
            return
        try:
            n = os.write(fd, self._out)
        except BlockingIOError:
            n = 0
        except OSError:  # the process is gone; what it was sent is lost with it
            self._out.clear()
            return
        del self._out[:n]
        if self._out:
            self.loop.want_write(fd, self._flush)
