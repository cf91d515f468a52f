"""The generic live run: a real cluster, real clients, the simulator's schedule, wall time.

A live system (``SystemSpec.live = True``) implements ``run_live(config, workdir)`` by
building two objects and handing them to :func:`run_live_loop`:

- a :class:`LiveRuntime`: the running cluster (``start``/``stop``, server logs) that is
  also the :class:`~harness.live.nemesis.LiveCluster` the nemesis acts on;
- a :class:`ClientDriver`: opens one client per worker (pinned to a server, as Jepsen's
  clients are) whose ``invoke`` performs one operation and says how it ended.

The loop has the simulator's shape (``harness.runner._phases``) on the wall clock: boot,
a main phase of ``time_limit`` seconds with the nemesis applying the seeded schedule and
client workers issuing the workload's operations at ``rate``, ``heal_all``, a quiet
moment, final operations retried until ``recovery_time`` ends, then every process
stopped. The history has the simulator's format (Jepsen's operation model; ``time`` in
ns since the run started, on the monotonic clock), so the checkers and reports take it
unchanged. What is not reproducible: the interleaving. A rerun repeats the schedule only.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.config import ConfigError, RunConfig
from harness.faults import Fault
from harness.live.nemesis import (
    LIVE_FAMILIES,
    LiveCluster,
    LiveNemesis,
    refuse_unsupported,
)
from harness.live.procs import ProcessController, install_signal_handlers
from harness.rng import stream


class LiveStartError(ConfigError):
    """The live cluster could not be started here (a server exited at start, no leader
    was elected in time): not a finding about the system under test, and not a harness
    bug. One line, exit 254, with what the servers said (their logs go with the run's
    scratch directory)."""


#: seconds the clients have, in all, to close at the end of a live run
CLOSE_TIMEOUT = 5.0

_RESERVED = frozenset({"index", "time", "process", "type", "f", "key", "value", "node", "error"})


@dataclass
class Completion:
    """How one operation ended: ``type`` is ``ok``, ``fail`` (did not happen) or ``info``
    (unknown); ``value`` the value read (or None: the invoke's value is kept); ``node`` the
    server that answered; ``extra`` facts the system adds to the event (e.g. a zxid)."""

    type: str
    value: Any = None
    error: str | None = None
    node: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class LiveClient(Protocol):
    def invoke(self, f: str, key: Any, value: Any, timeout: float) -> Completion:
        """Perform one operation; return within ``timeout`` seconds (``info`` if unsure)."""
        ...

    def close(self) -> None: ...


class ClientDriver(Protocol):
    def open(self, index: int, server: str) -> LiveClient:
        """The client of worker ``index``, connected to ``server`` only."""
        ...


class LiveRuntime(LiveCluster, Protocol):
    """A running live cluster: what the nemesis acts on, plus its life cycle."""

    procs: ProcessController
    #: the run's start on the monotonic clock (history time 0); set by the loop
    t0: float | None

    def start(self) -> None:
        """Start every server; return once the cluster serves (or raise)."""
        ...

    def stop(self) -> None:
        """Stop every process and proxy this runtime started."""
        ...

    def digests(self) -> dict[str, Any]:
        """Each server's replicated state for the convergence check (may be empty)."""
        ...

    def artifacts(self) -> dict[str, Path]:
        """Files or directories to copy into the run directory (name there -> path)."""
        ...

    def stats(self) -> dict[str, Any]: ...


def check_families(config: RunConfig, supported: tuple[str, ...] = LIVE_FAMILIES) -> None:
    """Refuse (ConfigError: one line, exit 254) fault families this live system cannot apply."""
    msg = refuse_unsupported(config.nemesis, supported)
    if msg is not None:
        raise ConfigError(msg)


class _Worker:
    def __init__(self, index: int, server: str, client: LiveClient, rng: random.Random):
        self.index = index
        self.server = server
        self.client = client
        self.process = index
        self.rng = rng
        self.final_failed: list[tuple[Any, ...]] = []


class LiveClientPool:
    """``harness.clients.ClientPool`` on threads and the wall clock: one thread a worker,
    one operation at a time, ``info`` retires the process id (Jepsen's rule)."""

    def __init__(self, config: RunConfig, workload: Any, driver: ClientDriver, servers: list[str],
                 start: float):
        self.config = config
        self.workload = workload
        self.start = start
        self.history: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._phase = "main"
        self._final_deadline = 0.0
        self._quiet = threading.Event()
        self._final = threading.Event()
        self.mean_think = config.clients / config.rate
        self.workers = []
        try:
            for i in range(config.clients):
                server = servers[i % len(servers)]
                self.workers.append(_Worker(i, server, driver.open(i, server), stream(config.seed, f"live-client-{i}")))
        except BaseException:
            self.close()
            raise
        self._threads: list[threading.Thread] = []

    def rel(self) -> int:
        return int((time.monotonic() - self.start) * 1e9)

    def begin(self) -> None:
        for w in self.workers:
            t = threading.Thread(target=self._run, args=(w,), name=f"live-client-{w.index}", daemon=True)
            t.start()
            self._threads.append(t)

    def end_main_phase(self) -> None:
        self._phase = "quiet"
        self._quiet.set()

    def start_final_phase(self, deadline: float) -> None:
        """``deadline`` on the monotonic clock."""
        self._final_deadline = deadline
        self._phase = "final"
        self._final.set()

    def join(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, end - time.monotonic()))

    def close(self, timeout: float | None = None) -> None:
        """Close every client, side by side, waiting ``timeout`` s (``CLOSE_TIMEOUT``) at most in all: a client
        whose server is paused or gone (SIGTERM mid-fault, a server that never came back)
        may wait for it for a whole session timeout (kazoo: 20 s a client), and the run
        must still end. One left closing is dropped: its thread ends once the servers
        are stopped."""

        def close_one(client: LiveClient) -> None:
            try:
                client.close()
            except Exception:  # noqa: BLE001, S110 - a client that cannot close cleanly is dropped
                pass

        threads = [threading.Thread(target=close_one, args=(w.client,), name=f"live-close-{w.index}", daemon=True)
                   for w in self.workers]
        for t in threads:
            t.start()
        end = time.monotonic() + (CLOSE_TIMEOUT if timeout is None else timeout)
        for t in threads:
            t.join(max(0.0, end - time.monotonic()))

    # ---------------------------------------------------------------- a worker
    def _run(self, w: _Worker) -> None:
        while self._phase == "main":
            if self._quiet.wait(w.rng.expovariate(1.0 / self.mean_think)):
                break
            with self._lock:
                f, key, value = self.workload.next_op(w.process)
            self._op(w, f, key, value, final=False)
        self._final.wait()
        todo = list(self.workload.final_ops())
        while todo:
            if time.monotonic() >= self._final_deadline:
                w.final_failed.extend(todo)
                return
            f, key, value = todo[0]
            if self._op(w, f, key, value, final=True) == "ok":
                todo.pop(0)
            else:
                time.sleep(0.05)

    def _append(self, ev: dict[str, Any]) -> None:
        with self._lock:
            ev["time"] = self.rel()
            ev["index"] = len(self.history)
            self.history.append(ev)

    def _op(self, w: _Worker, f: str, key: Any, value: Any, final: bool) -> str:
        inv: dict[str, Any] = {"process": w.process, "type": "invoke", "f": f}
        if key is not None:
            inv["key"] = key
        inv["value"] = value
        self._append(inv)
        try:
            c = w.client.invoke(f, key, value, self.config.op_timeout)
        except Exception as e:  # noqa: BLE001 - the client library failed: outcome unknown
            c = Completion("info", error=f"client-error: {type(e).__name__}")
        if c.type not in ("ok", "fail", "info"):
            c = Completion("info", error=f"bad completion type {c.type!r}")
        ev: dict[str, Any] = {"process": w.process, "type": c.type, "f": f}
        if key is not None:
            ev["key"] = key
        ev["value"] = c.value if (c.type == "ok" and f == "read") or c.value is not None else value
        if c.node is not None:
            ev["node"] = c.node
        if c.error is not None:
            ev["error"] = c.error
        for k, v in c.extra.items():
            if k not in _RESERVED:
                ev[k] = v
        self._append(ev)
        if c.type == "info":
            w.process += len(self.workers)
        return c.type

    def public_history(self) -> list[dict[str, Any]]:
        """Field order as the simulator writes it (index, time first)."""
        out = []
        for ev in self.history:
            d = {"index": ev["index"], "time": ev["time"]}
            d.update((k, v) for k, v in ev.items() if k not in ("index", "time"))
            out.append(d)
        return out

    def final_failures(self) -> list[tuple[Any, ...]]:
        """(client, operation) of each final operation never served; the client by the
        name its system gives it (a Maelstrom client is ``c1..cK``: ``c0`` is the
        harness's own), else ``c<index>`` as in the simulator."""
        return [(getattr(w.client, "name", None) or f"c{w.index}", op) for w in self.workers for op in w.final_failed]


class _Routed:
    """The nemesis's cluster: faults on servers go to the runtime; pause, resume and clock
    faults on client nodes (the election's candidates) go to the driver, if it takes them."""

    def __init__(self, runtime: LiveRuntime, driver: Any):
        self.runtime = runtime
        self.driver = driver
        self.servers = runtime.servers

    def leader(self) -> str | None:
        return self.runtime.leader()

    def set_cut(self, cut: Any) -> None:
        self.runtime.set_cut(cut)

    def _to(self, node: str, method: str, *args: Any) -> bool:
        if node in self.runtime.servers:
            changed: bool = getattr(self.runtime, method)(node, *args)
            return changed
        fn = getattr(self.driver, method, None)
        return bool(fn(node, *args)) if fn is not None else False

    def kill(self, node: str) -> bool:
        return self._to(node, "kill")

    def restart(self, node: str) -> bool:
        return self._to(node, "restart")

    def pause(self, node: str) -> bool:
        return self._to(node, "pause")

    def resume(self, node: str) -> bool:
        return self._to(node, "resume")

    def set_clock(self, node: str, offset_ns: int, ppm: int) -> bool:
        return self._to(node, "set_clock", offset_ns, ppm)


def run_live_loop(config: RunConfig, runtime: LiveRuntime, driver_factory: Any, workload: Any,
                  schedule: list[Fault]) -> Any:
    """Boot ``runtime``, run the phases on the wall clock, stop everything; a SimOutput.

    ``driver_factory(runtime)`` builds the :class:`ClientDriver` once the cluster serves.
    Every process is stopped in a ``finally``, whatever happens; SIGTERM and SIGHUP
    (called from the main thread) end the run through it too, and through the caller's
    (the run's scratch directory is removed there).
    """
    from harness.runner import SimOutput

    if threading.current_thread() is threading.main_thread():
        install_signal_handlers()  # SIGTERM ends the run through the finally blocks below
    stats: dict[str, Any] = {"live": True}
    pool: LiveClientPool | None = None
    driver: Any = None
    nemesis: LiveNemesis | None = None
    t_boot = time.monotonic()
    try:
        runtime.start()
        stats["startup_s"] = round(time.monotonic() - t_boot, 3)
        driver = driver_factory(runtime)
        pool = LiveClientPool(config, workload, driver, list(runtime.servers), 0.0)  # clients connect
        start = time.monotonic()
        stats["start_unix_ns"] = time.time_ns()
        runtime.t0 = pool.start = start
        nemesis = LiveNemesis(_Routed(runtime, driver), schedule, config.seed, start=start)
        nemesis.begin()
        pool.begin()
        t_main = start + config.time_limit
        time.sleep(max(0.0, t_main - time.monotonic()))
        pool.end_main_phase()
        nemesis.heal_all()
        # an eventually consistent workload (``settle_s``) lets the system converge
        # before its final reads; the others only let the heal land
        settle = getattr(workload, "settle_s", None)
        quiet = min(settle, config.recovery_time / 2) if settle else min(1.0, config.recovery_time / 4)
        stats["final_wait_s"] = round(quiet, 3)
        time.sleep(max(0.0, t_main + quiet - time.monotonic()))
        deadline = t_main + config.recovery_time
        pool.start_final_phase(deadline)
        pool.join(max(0.0, deadline - time.monotonic()) + config.op_timeout + 1.0)
        stats["wall_main_s"] = round(time.monotonic() - start, 3)
        digests = runtime.digests()
        stats.update(runtime.stats())
        if nemesis.errors:
            stats["nemesis_errors"] = list(nemesis.errors)
    finally:
        # interrupted (SIGTERM, Ctrl-C, an error), perhaps mid-fault: the servers go first,
        # so that clients of a paused server are refused at once instead of waiting out
        # CLOSE_TIMEOUT; after a run that ended normally, the clients close their sessions
        interrupted = sys.exc_info()[0] is not None
        if nemesis is not None:
            nemesis.stop()
        if pool is not None and not interrupted:
            pool.close()
        runtime.stop()
        if pool is not None and interrupted:
            pool.close()
    return SimOutput(
        config=config,
        history=pool.public_history(),
        trace=list(getattr(driver, "trace_events", [])),
        faults=nemesis.log,
        schedule=schedule,
        final_failures=pool.final_failures(),
        replica_digests=digests,
        stats=stats,
        artifacts={k: Path(v) for k, v in runtime.artifacts().items()},
    )
