"""A real Apache ZooKeeper ensemble on 127.0.0.1: Debian's jar, one JVM per server.

Each server ``nK`` (ZooKeeper sid K) has its own config, data directory and log under
the run's work directory. Its own ``server.K`` entry names its real quorum and election
ports; the entries of the other servers name the ports of this server's proxies towards
them (``harness.live.proxy``), so every server-to-server link can be cut. Clients reach
each server's client port directly (clients are never cut off, as Jepsen's control node).

Facts this relies on (measured on Debian 12's 3.8.0, see docs/live.md): the Debian jar has
no SLF4J binding (``slf4j-simple.jar`` is added, or it logs nothing); the AdminServer
(Jetty, port 8080) is switched off or every server would fight for the port; four-letter
words need a whitelist (``srvr`` tells a server's mode and zxid); ``preAllocSize`` keeps
transaction logs from being 64 MB sparse files.

Faults: ``kill`` is SIGKILL and ``restart`` a new JVM on the same data directory;
``pause``/``resume`` are SIGSTOP/SIGCONT; clocks move through libfaketime
(``LD_PRELOAD``, a timestamp file re-read every second) when the run has clock faults.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.live.faketime import FakeClock
from harness.live.ports import PortBlock, reserve_block
from harness.live.procs import LiveProcess, ProcessController
from harness.live.proxy import ProxyMesh
from harness.live.run import LiveStartError

ZK_JAR = Path("/usr/share/java/zookeeper.jar")
SLF4J_SIMPLE = Path("/usr/share/java/slf4j-simple.jar")
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
FAKETIME_LIBS = (Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
                 Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"),
                 Path("/usr/lib/faketime/libfaketime.so.1"))

#: ZooKeeper's timing, in ms and ticks; ``--set`` overrides (see ``spec.DEFAULT_SETTINGS``)
DEFAULT_ZK = {"tick_time": 1000, "init_limit": 10, "sync_limit": 3, "max_session_timeout": 60000,
              "heap_mb": 192}


def faketime_lib() -> Path | None:
    return next((p for p in FAKETIME_LIBS if p.exists()), None)


def four_letter(port: int, word: str = "srvr", timeout: float = 0.3) -> str | None:
    """A four-letter word's answer from the server at ``port``, or None (down, paused)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(word.encode())
            chunks = []
            while True:
                b = s.recv(4096)
                if not b:
                    break
                chunks.append(b)
        return b"".join(chunks).decode(errors="replace")
    except OSError:
        return None


def parse_srvr(text: str | None) -> tuple[str | None, int | None]:
    """(mode, zxid) from a ``srvr`` answer; mode is leader, follower, standalone or None."""
    if not text:
        return None, None
    mode = zxid = None
    for line in text.splitlines():
        if line.startswith("Mode:"):
            mode = line.split(":", 1)[1].strip()
        elif line.startswith("Zxid:"):
            try:
                zxid = int(line.split(":", 1)[1].strip(), 16)
            except ValueError:
                pass
    return mode, zxid


def log_tail(path: Path, lines: int = 2, limit: int = 240) -> str:
    """The last ``lines`` lines of a server's log that are not stack frames or the
    harness's own markers, joined: what a one-line error can quote."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    keep = [ln.strip() for ln in text.splitlines()
            if ln.strip() and not ln.lstrip().startswith(("at ", "...", "----- harness:"))]
    return " / ".join(keep[-lines:])[-limit:]


class ZkServer:
    def __init__(self, name: str, sid: int, client_port: int, quorum_port: int, election_port: int,
                 root: Path):
        self.name = name
        self.sid = sid
        self.client_port = client_port
        self.quorum_port = quorum_port
        self.election_port = election_port
        self.dir = root / name
        self.data = self.dir / "data"
        self.cfg = self.dir / "zoo.cfg"
        self.clock_file = self.dir / "faketime"
        self.clock: FakeClock | None = None  # made with the first JVM under libfaketime
        self.proc: LiveProcess | None = None
        self.incarnation = 0


def ports_needed(nodes: int, client_proxies: int = 0) -> int:
    """Ports of an ensemble: client, quorum and election ports of each server, a proxy on
    each direction of each quorum and election link, and ``client_proxies``."""
    return 3 * nodes + 2 * nodes * (nodes - 1) + client_proxies


class ZkEnsemble:
    """``harness.live.run.LiveRuntime`` for a real ZooKeeper ensemble."""

    def __init__(self, nodes: int, workdir: Path, settings: dict[str, Any] | None = None,
                 fake_clocks: bool = False, procs: ProcessController | None = None, client_proxies: int = 0):
        self.settings = {**DEFAULT_ZK, **(settings or {})}
        self.servers = [f"n{i + 1}" for i in range(nodes)]
        self.workdir = Path(workdir)
        self.procs = procs or ProcessController()
        self._own_procs = procs is None
        self.ports: PortBlock = reserve_block(ports_needed(nodes, client_proxies))
        self.nodes: dict[str, ZkServer] = {}
        for i, name in enumerate(self.servers):
            self.nodes[name] = ZkServer(name, i + 1, self.ports.take(), self.ports.take(), self.ports.take(),
                                        self.workdir)
        self.mesh = ProxyMesh()
        self._proxy_port: dict[tuple[str, str, str], int] = {}
        for a in self.servers:
            for b in self.servers:
                if a == b:
                    continue
                for kind, up in (("quorum", self.nodes[b].quorum_port), ("election", self.nodes[b].election_port)):
                    p = self.ports.take()
                    self._proxy_port[(a, b, kind)] = p
                    self.mesh.add(a, b, kind, p, up)
        self.fake_clocks = fake_clocks
        self._faketime = faketime_lib() if fake_clocks else None
        self._roles: list[dict[str, Any]] = []  # the role monitor's changes (monotonic ns)
        self._role_now: dict[str, tuple[Any, Any]] = {}
        self._mon_stop = threading.Event()
        self._mon: threading.Thread | None = None
        self.t0: float | None = None  # monotonic start of the run (set by the runner)
        self._stats: dict[str, Any] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- set-up
    def _write_config(self, s: ZkServer) -> None:
        st = self.settings
        s.data.mkdir(parents=True, exist_ok=True)
        (s.data / "myid").write_text(f"{s.sid}\n")
        lines = [
            f"tickTime={st['tick_time']}",
            f"initLimit={st['init_limit']}",
            f"syncLimit={st['sync_limit']}",
            f"maxSessionTimeout={st['max_session_timeout']}",
            f"dataDir={s.data}",
            f"clientPort={s.client_port}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            "4lw.commands.whitelist=srvr,mntr,stat,ruok",
            "preAllocSize=4096",
            "autopurge.purgeInterval=0",
            "standaloneEnabled=false",
            "reconfigEnabled=false",
        ]
        for o in self.servers:
            t = self.nodes[o]
            if o == s.name:
                lines.append(f"server.{t.sid}=127.0.0.1:{t.quorum_port}:{t.election_port}")
            else:
                lines.append(f"server.{t.sid}=127.0.0.1:{self._proxy_port[(s.name, o, 'quorum')]}:"
                             f"{self._proxy_port[(s.name, o, 'election')]}")
        s.cfg.write_text("\n".join(lines) + "\n")

    def _argv(self, s: ZkServer) -> list[str]:
        return [
            shutil.which("java") or "java", f"-Xmx{self.settings['heap_mb']}m", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1", "-Xss512k", "-Duser.timezone=UTC",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
            "-Dzookeeper.jmx.log4j.disable=true",
            "-cp", f"{ZK_JAR}:{SLF4J_SIMPLE}", MAIN_CLASS, str(s.cfg),
        ]

    def _env(self, s: ZkServer) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
        if self._faketime is not None:
            if s.clock is None:
                s.clock = FakeClock(s.clock_file)
            env.update(LD_PRELOAD=str(self._faketime), FAKETIME_TIMESTAMP_FILE=str(s.clock_file),
                       FAKETIME_CACHE_DURATION="1")
        return env

    def _spawn(self, s: ZkServer) -> None:
        s.incarnation += 1
        with open(s.dir / "server.log", "ab") as log:
            log.write(f"----- harness: start {s.name} (sid {s.sid}), incarnation {s.incarnation}\n".encode())
            log.flush()
            s.proc = self.procs.start(s.name, self._argv(s), cwd=s.dir, env=self._env(s), stdout=log, stderr=log)

    def start(self, timeout: float = 60.0) -> None:
        """Start the mesh and every server; return once one leads and the rest follow."""
        for s in self.nodes.values():
            self._write_config(s)
        self.mesh.start()
        for s in self.nodes.values():
            self._spawn(s)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            modes = [parse_srvr(four_letter(s.client_port))[0] for s in self.nodes.values()]
            if modes.count("leader") == 1 and modes.count("follower") == len(modes) - 1:
                self._start_monitor()
                return
            dead = [s for s in self.nodes.values() if s.proc is not None and not s.proc.alive()]
            if dead:
                raise LiveStartError(f"ZooKeeper server(s) {', '.join(s.name for s in dead)} exited at start; "
                                     f"{dead[0].name}'s log ends: {log_tail(dead[0].dir / 'server.log')!r}")
            time.sleep(0.1)
        s = next(iter(self.nodes.values()))
        raise LiveStartError(f"the ZooKeeper ensemble did not elect a leader within {timeout:g} s; "
                             f"{s.name}'s log ends: {log_tail(s.dir / 'server.log')!r}")

    def stop(self) -> None:
        self._mon_stop.set()
        if self._mon is not None:
            self._mon.join(2)
        for s in self.nodes.values():
            if s.proc is not None:
                self.procs.terminate(s.proc, grace=2.0)
        if self._own_procs:
            self.procs.close()
        self.mesh.close()
        self.ports.release()

    def client_proxy(self, client: str, server: str) -> int:
        """A proxy port from ``client`` to ``server``'s client port, for faults on the
        client's connection (a paused candidate's connection is frozen there)."""
        port = self.ports.take()
        self.mesh.add(client, server, "client", port, self.nodes[server].client_port)
        deadline = time.monotonic() + 5
        from harness.live.proxy import listening_ports

        while port not in listening_ports() and time.monotonic() < deadline:
            time.sleep(0.02)
        return port

    # ---------------------------------------------------------------- roles
    def rel(self) -> int:
        return int((time.monotonic() - (self.t0 or 0.0)) * 1e9)

    @property
    def roles(self) -> list[dict[str, Any]]:
        """The role changes with ``time`` in ns since the run started (negative: before)."""
        t0 = int((self.t0 or 0.0) * 1e9)
        with self._lock:
            return [{"time": r["mono"] - t0, "node": r["node"], "mode": r["mode"], "epoch": r["epoch"]}
                    for r in self._roles]

    def _start_monitor(self) -> None:
        self._mon = threading.Thread(target=self._monitor, name="zk-roles", daemon=True)
        self._mon.start()

    def _monitor(self) -> None:
        """Every 100 ms each server's mode and zxid (``srvr``); changes are kept, so the
        report can say when a server led, and when it was deposed."""
        while not self._mon_stop.wait(0.1):
            for s in self.nodes.values():
                if s.proc is not None and s.proc.paused:
                    continue
                mode, zxid = parse_srvr(four_letter(s.client_port, timeout=0.2))
                epoch = None if zxid is None else zxid >> 32
                if self._role_now.get(s.name) != (mode, epoch):
                    self._role_now[s.name] = (mode, epoch)
                    with self._lock:
                        self._roles.append({"mono": time.monotonic_ns(), "node": s.name, "mode": mode, "epoch": epoch})

    def leader(self) -> str | None:
        best: tuple[int, str] | None = None
        for s in self.nodes.values():
            if s.proc is None or s.proc.paused or not s.proc.alive():
                continue
            mode, zxid = parse_srvr(four_letter(s.client_port))
            if mode == "leader":
                key = (zxid or 0, s.name)
                if best is None or key > best:
                    best = key
        return best[1] if best else None

    # ---------------------------------------------------------------- faults
    def set_cut(self, cut: Iterable[tuple[str, str]]) -> None:
        self.mesh.set_cut(cut)

    def kill(self, node: str) -> bool:
        s = self.nodes[node]
        return s.proc is not None and self.procs.kill(s.proc)

    def restart(self, node: str) -> bool:
        s = self.nodes[node]
        if s.proc is not None and s.proc.alive():
            return False
        self._spawn(s)
        return True

    def pause(self, node: str) -> bool:
        s = self.nodes[node]
        return s.proc is not None and s.proc.alive() and self.procs.pause(s.proc)

    def resume(self, node: str) -> bool:
        s = self.nodes[node]
        return s.proc is not None and self.procs.resume(s.proc)

    def set_clock(self, node: str, offset_ns: int, ppm: int) -> bool:
        """Move ``node``'s clocks (libfaketime fakes the wall and the monotonic clock of
        the JVM alike). A rate change keeps the clock continuous: libfaketime scales the
        time since the process started, so the offset absorbs the difference."""
        if node not in self.nodes:
            return False  # a client's clock: not a process of ours
        if self._faketime is None:
            raise NotImplementedError("clock faults need libfaketime (Debian: faketime)")
        s = self.nodes[node]
        if s.proc is None or s.clock is None:
            return False
        s.clock.set(offset_ns, ppm, (s.proc.spawned_at, s.proc.started_at))
        return True

    # ---------------------------------------------------------------- results
    def digests(self) -> dict[str, Any]:
        return {}

    def artifacts(self) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for s in self.nodes.values():
            out[f"logs/{s.name}.log"] = s.dir / "server.log"
            out[f"logs/{s.name}.cfg"] = s.cfg
        roles = self.workdir / "roles.jsonl"
        roles.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in self.roles))
        out["roles.jsonl"] = roles
        return out

    def stats(self) -> dict[str, Any]:
        return {**self._stats, **self.mesh.stats(),
                "restarts": sum(max(0, s.incarnation - 1) for s in self.nodes.values()),
                "pids": [p.pid for p in self.procs.processes()]}
