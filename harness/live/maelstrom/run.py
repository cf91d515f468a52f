"""One live run of a Maelstrom program, through the generic live run (``harness.live.run``).

``MaelstromRuntime`` is the running cluster: the loop's thread (the network, the nodes,
the services, the clients' endpoints), started and stopped with the run, and the
``LiveCluster`` the nemesis acts on. ``MaelstromDriver`` opens one client per worker;
its ``invoke`` hands the operation to the loop's thread and waits for the completion.

Boot: every node must answer ``init``. One that does not (it crashed, wrote garbage, or
stayed silent) ends the run there: the history is empty and the ``protocol`` checker's
verdict is that sentence. The work directory keeps each node's stderr (``nodes/nX.stderr``),
its working directory (``nodes/nX/``, surviving restarts) and the message log
(``messages.jsonl``, drawn by the report's Lamport diagram).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from harness.config import ConfigError, RunConfig
from harness.live.maelstrom.clients import TOPOLOGY_MSG_ID, AdminClient, ClientNode
from harness.live.maelstrom.cluster import MaelstromCluster
from harness.live.maelstrom.loop import Loop
from harness.live.maelstrom.mappings import MAPPINGS
from harness.live.maelstrom.network import Network
from harness.live.maelstrom.nodes import ProcNode, faketime_lib
from harness.live.maelstrom.problems import Problems
from harness.live.maelstrom.services import SERVICES, ServiceNode
from harness.live.nemesis import refuse_unsupported
from harness.live.procs import ProcessController
from harness.live.run import Completion, run_live_loop
from harness.live.scratch import hold
from harness.node import ClientRequest
from harness.rng import stream
from harness.schema import Setting

DEFAULTS: dict[str, Any] = {
    "bin": None,
    "bin_args": [],
    #: mean one-way latency of a message, ms (exponential)
    "latency_ms": 1.0,
    #: seconds a node has to answer init
    "init_timeout": 5.0,
    #: seconds a client waits for a reply before recording info
    "client_timeout": 1.0,
}


#: the numeric settings' types and ranges, checked before anything starts
RULES = {"latency_ms": Setting("number", 0, 60_000), "init_timeout": Setting("number", 0.1, 3600),
         "client_timeout": Setting("number", 0.01, 3600)}


def settings_of(config: RunConfig) -> dict[str, Any]:
    return {**DEFAULTS, **config.settings}


def argv_of(settings: dict[str, Any]) -> list[str]:
    """The program's command line; ConfigError (one line) when it cannot be run."""
    b = settings.get("bin")
    if not b:
        raise ConfigError("--system maelstrom needs --bin PATH: the program to run as each node")
    path = Path(str(b))
    if path.is_dir():
        raise ConfigError(f"--bin {b}: a directory, not a program")
    if not path.is_file():
        raise ConfigError(f"--bin {b}: no such file")
    if not os.access(path, os.X_OK):
        raise ConfigError(f"--bin {b}: not executable (chmod +x, or give the interpreter as --bin and the "
                          f"script as --bin-arg)")
    for key, rule in RULES.items():
        why = rule.problem(settings.get(key))
        if why is not None:
            raise ConfigError(f"setting {key} {why}, not {settings.get(key)!r}")
    args = settings.get("bin_args") or []
    if not isinstance(args, list):
        raise ConfigError(f"bin_args must be a list of strings, not {args!r}")
    return [str(path.resolve()), *map(str, args)]


def validate(config: RunConfig) -> list[str]:
    """Everything that makes a Maelstrom run impossible, as ConfigError; the argv."""
    argv = argv_of(settings_of(config))
    if config.workload not in MAPPINGS:
        raise ConfigError(f"--system maelstrom runs the workloads {', '.join(MAPPINGS)}, not {config.workload!r}")
    refusal = refuse_unsupported(config.nemesis)
    if refusal:
        raise ConfigError(refusal)
    if {"clock", "slow"} & set(config.nemesis) and faketime_lib() is None:
        raise ConfigError("clock faults on Maelstrom programs need libfaketime (apt-get install faketime)")
    return argv


class BootFailed(Exception):
    """A node never answered ``init``: the run cannot start."""


class MaelstromRuntime(MaelstromCluster):
    """The network and the program's processes, on the loop's own thread."""

    def __init__(self, config: RunConfig, argv: list[str], workdir: Path):
        self.config = config
        self.settings = settings_of(config)
        self.workdir = workdir
        self.nodedir = workdir / "nodes"
        self.nodedir.mkdir(parents=True, exist_ok=True)
        self.procs = ProcessController()
        self.problems = Problems()
        loop = Loop()
        net = Network(loop, stream(config.seed, "maelstrom-net"), self.problems, float(self.settings["latency_ms"]))
        servers = [f"n{i + 1}" for i in range(config.nodes)]
        clock = bool({"clock", "slow"} & set(config.nemesis))
        nodes = {name: ProcNode(name, argv, self.nodedir, loop, net, self.procs, self.problems, servers,
                                float(self.settings["init_timeout"]), clock=clock) for name in servers}
        super().__init__(loop, net, nodes)
        for n in nodes.values():
            net.add(n, server=True)
            if config.workload == "broadcast":
                n.setup = self._send_topology
        net.add(AdminClient(nodes))
        for name, cls in sorted(SERVICES.items()):
            net.add(ServiceNode(cls(stream(config.seed, "maelstrom-service", name)), net, loop), service=True)
        self.mapping = MAPPINGS[config.workload]()
        self.timeout = float(self.settings["client_timeout"])
        self._stopping = False
        self._t0: float | None = None
        self._thread: threading.Thread | None = None
        self._crash: BaseException | None = None

    # ------------------------------------------------------------------ life cycle
    def _run_loop(self, running: threading.Event) -> None:
        self.loop.thread = threading.get_ident()
        running.set()
        try:
            self.loop.run_until(2**62, stop=lambda: self._stopping)
        except BaseException as e:  # noqa: BLE001 - reported by stop() in the main thread
            self._crash = e

    def start(self) -> None:
        running = threading.Event()
        self._thread = threading.Thread(target=self._run_loop, args=(running,), name="maelstrom-loop", daemon=True)
        self._thread.start()
        running.wait()  # from here on, work for the loop is handed to its thread
        for n in self.nodes.values():
            self._on_loop(n.start)
        deadline = time.monotonic() + float(self.settings["init_timeout"])
        while time.monotonic() < deadline:
            states = self._on_loop(lambda: [(n.serving, n.alive()) for n in self.nodes.values()])
            if all(r for r, _ in states) or not all(a for _, a in states):
                break
            time.sleep(0.01)
        time.sleep(0.2)  # a crashing program is seen exiting, for the right sentence
        down = self._on_loop(lambda: [(n.name, n.boot_failure) for n in self.nodes.values() if not n.ready])
        unset = self._on_loop(lambda: [n.name for n in self.nodes.values() if n.ready and not n.serving])
        if unset and not down:
            self.problems.abort = (f"the run never started: {', '.join(unset)} did not answer topology within "
                                   f"{float(self.settings['init_timeout']):g} s (see nodes/{unset[0]}.stderr)")
            raise BootFailed(self.problems.abort)
        if down:
            # a node that exited says why (the others may just not have been done yet);
            # otherwise every silent node is named
            exited = [(name, why) for name, why in down if why]
            if exited:  # the others are counted by the protocol checker as more problems
                self.problems.abort = f"the run never started: {exited[0][0]} {exited[0][1]}"
            else:
                names = [name for name, _ in down]
                self.problems.abort = (f"the run never started: {', '.join(names)} did not answer init within "
                                       f"{float(self.settings['init_timeout']):g} s (see nodes/{names[0]}.stderr)")
            raise BootFailed(self.problems.abort)

    @property
    def t0(self) -> float | None:
        """History time 0 on the monotonic clock (set by the live run loop); the message
        log's times are counted from it too."""
        return self._t0

    @t0.setter
    def t0(self, value: float | None) -> None:
        self._t0 = value
        if value is not None:
            self._on_loop(lambda: setattr(self.loop, "start", int(value * 1e9)))

    def _send_topology(self, node: ProcNode) -> None:
        """Every node neighbours every other (Maelstrom's ``total`` topology); sent to
        each incarnation once it answers init (a restarted node knows nothing), and
        clients reach it once it answers."""
        self.net.send("c0", {"src": "c0", "dest": node.name, "body": {
            "type": "topology", "msg_id": TOPOLOGY_MSG_ID + node.incarnation,
            "topology": {n: [m for m in self.servers if m != n] for n in self.servers}}})

    def stop(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self.loop.call_threadsafe(lambda: None)
            self._thread.join(10.0)
        self.procs.close(grace=1.0)
        self.loop.close()
        (self.workdir / "messages.jsonl").write_text(
            "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in self.net.log_rows()))
        if self._crash is not None:
            raise RuntimeError("the Maelstrom network loop crashed") from self._crash

    def digests(self) -> dict[str, Any]:
        return {}

    def artifacts(self) -> dict[str, Path]:
        return {"nodes": self.nodedir, "messages.jsonl": self.workdir / "messages.jsonl"}

    def stats(self) -> dict[str, Any]:
        def now() -> dict[str, Any]:
            restarts = sum(n.starts - 1 for n in self.nodes.values())
            info: dict[str, Any] = {**self.problems.to_json(), "restarts": restarts}
            if restarts:
                info["restart_note"] = ("a restarted node is a new process that got init again: it lost its "
                                        "memory unless it kept files of its own (nodes/nX/)")
            if any(n.clock_file for n in self.nodes.values()):
                info["clock_faults"] = "libfaketime (LD_PRELOAD); statically linked programs ignore it"
            return {**self.net.stats(), "maelstrom": info}

        stats: dict[str, Any] = self._on_loop(now)
        return stats


class _Client:
    """One worker's client: blocking ``invoke`` over the loop's client endpoint."""

    def __init__(self, runtime: MaelstromRuntime, node: ClientNode):
        self.runtime = runtime
        self.node = node
        self.name = node.name  # as the message log names it
        self.op_id = 0

    def invoke(self, f: str, key: Any, value: Any, timeout: float) -> Completion:
        self.op_id += 1
        done = threading.Event()
        box: list[Any] = []

        def on_reply(_name: str, r: Any) -> None:
            box.append(r)
            done.set()

        req = ClientRequest(self.op_id, f, key, value)

        def go() -> None:
            self.node.on_reply = on_reply
            self.node.request(req)

        self.runtime.loop.call_threadsafe(go)
        if not done.wait(timeout):
            return Completion("info", error="timeout: no completion", node=self.node.home)
        r = box[0]
        return Completion(r.type, r.value, r.error, r.node, dict(r.extra))

    def close(self) -> None:
        pass


class MaelstromDriver:
    def __init__(self, runtime: MaelstromRuntime):
        self.runtime = runtime

    def open(self, index: int, server: str) -> _Client:
        rt = self.runtime
        name = f"c{index + 1}"

        def make() -> ClientNode:
            node = ClientNode(name, index, rt.servers, rt.net, rt.loop, rt.problems, rt.mapping, rt.timeout,
                              lambda s: rt.nodes[s].serving, lambda c, r: None)
            rt.net.add(node)
            return node

        return _Client(rt, rt._on_loop(make))


def run_live(config: RunConfig, workdir: Path) -> Any:
    """Run ``config`` against real processes; returns a ``harness.runner.SimOutput``."""
    from harness.runner import SimOutput, schedule_for
    from workloads import make_workload

    argv = validate(config)
    workdir = Path(workdir)
    hold(workdir)
    runtime = MaelstromRuntime(config, argv, workdir)
    workload = make_workload(config.workload, config, stream(config.seed, "workload"))
    schedule = schedule_for(config)
    try:
        return run_live_loop(config, runtime, MaelstromDriver, workload, schedule)
    except BootFailed:
        return SimOutput(config=config, history=[], trace=[], faults=[], schedule=schedule, final_failures=[],
                         replica_digests={}, stats={"live": True, "maelstrom": runtime.problems.to_json(),
                                                    **runtime.net.stats()},
                         artifacts=runtime.artifacts())
