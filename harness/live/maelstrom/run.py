"""One live run of a Maelstrom program: from a config to the output a simulated run has.

Phases as in the simulator (``harness.runner``): start ``n1..nN`` and wait for every
``init_ok`` (a node that never answers ends the run here, with that sentence as its
verdict); the main phase, with the client pool driving operations and the live nemesis
applying the seeded schedule on the wall clock; heal everything (restart what was
killed, resume what was paused, reset clocks); a quiet second; final reads until they
all succeed or the recovery period ends. Then every process is ended and the work
directory keeps each node's stderr (``nX.stderr``), its working directory (``nX/``) and
the message log (``messages.jsonl``).

The schedule is the simulator's for the same seed, so a rerun repeats the faults; the
processes' timing is real, so it does not repeat the interleaving.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from harness.clients import ClientPool
from harness.config import SECOND, ConfigError, RunConfig
from harness.live.maelstrom.clients import AdminClient, ClientNode
from harness.live.maelstrom.cluster import MaelstromCluster
from harness.live.maelstrom.loop import Loop
from harness.live.maelstrom.mappings import MAPPINGS
from harness.live.maelstrom.network import Network
from harness.live.maelstrom.nodes import ProcNode, faketime_lib
from harness.live.maelstrom.problems import Problems
from harness.live.maelstrom.services import SERVICES, ServiceNode
from harness.live.nemesis import LiveNemesis, refuse_unsupported
from harness.live.procs import ProcessController
from harness.rng import stream

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


def settings_of(config: RunConfig) -> dict[str, Any]:
    return {**DEFAULTS, **config.settings}


def argv_of(settings: dict[str, Any]) -> list[str]:
    """The program's command line; ConfigError (one line) when it cannot be run."""
    b = settings.get("bin")
    if not b:
        raise ConfigError("--system maelstrom needs --bin PATH: the program to run as each node")
    path = Path(str(b))
    if not path.is_file():
        raise ConfigError(f"--bin {b}: no such file")
    if not os.access(path, os.X_OK):
        raise ConfigError(f"--bin {b}: not executable (chmod +x, or give the interpreter as --bin and the "
                          f"script as --bin-arg)")
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


class _ClientPort:
    """What the simulator's client pool needs of its simulator, on the live loop."""

    def __init__(self, loop: Loop, clients: dict[str, ClientNode]):
        self.loop = loop
        self.endpoints = clients
        self.clients = list(clients)
        self.on_reply: Any = None

    @property
    def now(self) -> int:
        return self.loop.now

    def rel(self) -> int:
        return self.loop.rel()

    def call_at(self, t: int, fn: Any) -> None:
        self.loop.call_at(t, fn)

    def client_request(self, node: str, req: Any) -> None:
        self.endpoints[node].request(req)


def run_live(config: RunConfig, workdir: Path) -> Any:
    """Run ``config`` against real processes; returns a ``harness.runner.SimOutput``."""
    from harness.runner import SimOutput, schedule_for
    from workloads import make_workload

    config.validate()
    argv = validate(config)
    settings = settings_of(config)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    servers = [f"n{i + 1}" for i in range(config.nodes)]
    loop = Loop()
    problems = Problems()
    net = Network(loop, stream(config.seed, "maelstrom-net"), problems, float(settings["latency_ms"]))
    clock = bool({"clock", "slow"} & set(config.nemesis))
    schedule = schedule_for(config)
    nemesis: LiveNemesis | None = None
    t0 = time.monotonic()
    with ProcessController() as procs:
        try:
            nodes: dict[str, ProcNode] = {}
            for name in servers:
                nodes[name] = ProcNode(name, argv, workdir, loop, net, procs, problems, servers,
                                       float(settings["init_timeout"]), lambda n: None, clock=clock)
                net.add(nodes[name], server=True)
            net.add(AdminClient(nodes))
            for name, cls in sorted(SERVICES.items()):
                net.add(ServiceNode(cls(stream(config.seed, "maelstrom-service", name)), net, loop))
            mapping = MAPPINGS[config.workload]()
            port: _ClientPort
            cnodes: dict[str, ClientNode] = {}
            for i in range(config.clients):
                name = f"c{i + 1}"
                cnodes[name] = ClientNode(name, i, servers, net, loop, problems, mapping,
                                          float(settings["client_timeout"]),
                                          lambda s: nodes[s].ready,
                                          lambda c, r: port.on_reply(c, r))
                net.add(cnodes[name])
            port = _ClientPort(loop, cnodes)
            workload = make_workload(config.workload, config, stream(config.seed, "workload"))
            pool = ClientPool(port, config, workload, stream(config.seed, "clients"))  # type: ignore[arg-type]

            for n in nodes.values():
                n.start()
            boot_deadline = loop.now + int(float(settings["init_timeout"]) * SECOND)
            loop.run_until(boot_deadline, stop=lambda: all(n.ready for n in nodes.values())
                           or any(not n.alive() for n in nodes.values()))
            if not all(n.ready for n in nodes.values()):
                # give a crashing program a moment to be seen exiting, for the right sentence
                loop.run_until(loop.now + SECOND // 5)
                down = [n.name for n in nodes.values() if not n.ready]
                problems.abort = (f"the run never started: {', '.join(down)} did not answer init "
                                  f"(see {down[0]}.stderr)")
                pool_history: list[dict] = []
                final_failures: list = []
                faults: list = []
            else:
                if config.workload == "broadcast":
                    _send_topology(net, servers)
                loop.start = loop.now
                nemesis = LiveNemesis(MaelstromCluster(loop, net, nodes), schedule, config.seed,
                                      start=loop.start / 1e9)
                nemesis.begin()
                pool.start()
                t_main = loop.start + int(config.time_limit * SECOND)
                loop.run_until(t_main)
                pool.end_main_phase()
                _stop_nemesis(loop, nemesis)
                nemesis.heal_all()
                quiet = min(SECOND, int(config.recovery_time * SECOND) // 4)
                loop.run_until(loop.now + quiet)
                for c in cnodes.values():
                    c.final = True
                deadline = loop.now - loop.start + int(config.recovery_time * SECOND)
                pool.start_final_phase(loop.start + deadline)
                hard_stop = loop.start + deadline + int(float(settings["client_timeout"]) * SECOND) + SECOND
                loop.run_until(hard_stop, stop=pool.final_complete)
                pool_history = pool.public_history()
                final_failures = pool.final_failures()
                faults = nemesis.log
        finally:
            if nemesis is not None:
                nemesis.stop()
            procs.close(grace=1.0)
            loop.close()
    wall = time.monotonic() - t0
    (workdir / "messages.jsonl").write_text("".join(json.dumps(r, separators=(",", ":")) + "\n"
                                                   for r in net.log_rows()))
    stats: dict[str, Any] = {**net.stats(), "live": True, "wall_s": round(wall, 3),
                             "maelstrom": {**problems.to_json(), "restarts": sum(n.starts - 1 for n in nodes.values()),
                                           "argv": argv}}
    return SimOutput(config=config, history=pool_history, trace=[], faults=faults, schedule=schedule,
                     final_failures=final_failures, replica_digests={}, stats=stats)


def _send_topology(net: Network, servers: list[str]) -> None:
    """Maelstrom's default ``grid`` topology would do; every node neighbours every other."""
    for s in servers:
        net.send("c0", {"src": "c0", "dest": s, "body": {
            "type": "topology", "msg_id": 10_000 + servers.index(s),
            "topology": {n: [m for m in servers if m != n] for n in servers}}})


def _stop_nemesis(loop: Loop, nemesis: LiveNemesis) -> None:
    """Stop the nemesis thread while the loop keeps serving the action it may be waiting on."""
    t = threading.Thread(target=nemesis.stop, name="nemesis-stop", daemon=True)
    t.start()
    loop.run_until(loop.now + 30 * SECOND, stop=lambda: not t.is_alive())
