"""Run one test: config + seed -> simulate -> history, trace, faults -> checkers -> store.

``simulate`` is the pure part (no files, no wall clock); ``run_test`` adds checking and
writing the run directory. A run has Jepsen's shape: a main phase with faults and client
operations; then every fault healed and clocks reset; then final reads, which must
succeed within the recovery period or the run is a liveness failure.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.clients import ClientPool
from harness.config import SECOND, RunConfig
from harness.faults import Fault, generate_schedule
from harness.nemesis import Nemesis
from harness.rng import stream
from harness.sim import STORM_EVENTS, MessageStorm, Simulator
from harness.system import get_system
from workloads import make_workload


@dataclass
class SimOutput:
    config: RunConfig
    history: list[dict]
    trace: list[dict]
    faults: list[dict]
    schedule: list[Fault]
    final_failures: list[tuple]
    replica_digests: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)
    #: a live run's files to copy into the run directory (name there -> path), e.g. the
    #: servers' logs; the simulator has none
    artifacts: dict[str, Path] = field(default_factory=dict)


def servers_for(config: RunConfig) -> list[str]:
    """Server ids of a run: ``n1..nN``, unless the system names its own (e.g. Kafka's
    ZooKeeper ensemble beside its brokers) through ``server_ids(config)``."""
    spec = get_system(config.system)
    ids = getattr(spec, "server_ids", None)
    if ids is not None:
        return list(ids(config))
    return [f"n{i + 1}" for i in range(config.nodes)]


def schedule_for(config: RunConfig, crash_points: tuple[str, ...] = ()) -> list[Fault]:
    if config.schedule is not None:
        return sorted((Fault.from_json(d) for d in config.schedule), key=lambda f: (f.at, f.episode, f.kind))
    return generate_schedule(
        config.seed, config.nemesis, servers_for(config), int(config.time_limit * SECOND),
        config.nemesis_interval, crash_points, config.swarm, faulty_clients(config),
    )


def faulty_clients(config: RunConfig) -> list[str]:
    """Client nodes the pause and clock faults may hit: those of a workload whose class
    says ``faulty_clients = True`` (the election's candidates hold leases)."""
    import importlib

    from workloads import WORKLOADS

    target = WORKLOADS.get(config.workload)
    if target is None:
        return []
    module, cls = target.split(":")
    try:
        wcls = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):
        return []
    if not getattr(wcls, "faulty_clients", False):
        return []
    return [f"c{i}" for i in range(config.clients)]


def simulate(config: RunConfig) -> SimOutput:
    """Run the simulation of ``config``: deterministic in (config, seed, code)."""
    config.validate()
    spec = get_system(config.system)
    settings = dict(spec.default_settings())
    settings.update(config.settings)
    settings["reads"] = config.reads  # the run option wins over the system default
    settings["workload"] = config.workload  # e.g. zab builds election candidates as clients
    servers = servers_for(config)
    clients = [f"c{i}" for i in range(config.clients)]
    workload = make_workload(config.workload, config, stream(config.seed, "workload"))
    services = list(getattr(workload, "services", ()))  # e.g. the election's storage
    # the storm budget grows with the client rate past the default rate's
    storm_events = int(STORM_EVENTS * max(1.0, config.rate / RunConfig.rate))
    sim = Simulator(spec, config.seed, servers, clients, settings, frozenset(config.bugs), services=services,
                    storm_events=storm_events)
    schedule = schedule_for(config, tuple(getattr(spec, "crash_points", ())))
    nemesis = Nemesis(sim, schedule, config.seed)
    pool = ClientPool(sim, config, workload, stream(config.seed, "clients"))

    def digests_now() -> dict[str, Any]:
        return {nid: node.state_digest() for nid, node in sorted(sim.live_server_nodes().items())}

    storm = None
    try:
        digests = _phases(config, spec, sim, nemesis, pool, servers, clients + services, digests_now)
    except MessageStorm as e:
        # the run cannot go on (its message rate grows without bound): it ends here, and
        # the checkers judge what happened so far (liveness reports the storm)
        storm = e.info
        digests = digests_now()
    stats = {
        "events": sim.events,
        "messages_sent": sim.messages_sent,
        "messages_dropped": sim.messages_dropped,
        "simulated_ns": sim.now - sim.start,
    }
    if storm is not None:
        stats["storm"] = storm
    return SimOutput(
        config=config,
        history=pool.public_history(),
        trace=sim.trace,
        faults=nemesis.log,
        schedule=schedule,
        final_failures=pool.final_failures(),
        replica_digests=digests,
        stats=stats,
    )


def _phases(config: RunConfig, spec: Any, sim: Simulator, nemesis: Nemesis, pool: ClientPool,
            servers: list[str], others: list[str], digests_now: Any) -> dict[str, Any]:
    """Boot, main phase, heal, final reads, convergence: the run; returns the replicas'
    digests at the end."""
    for nid in servers:
        sim.boot(nid)
    for nid in others:
        sim.boot(nid)
    nemesis.install()
    pool.start()

    t_main = sim.start + int(config.time_limit * SECOND)
    sim.run_until(t_main)
    pool.end_main_phase()
    nemesis.heal_all()
    # A short quiet period lets outstanding operations finish before the final reads.
    quiet = min(SECOND, int(config.recovery_time * SECOND) // 4)
    sim.run_until(t_main + quiet)
    deadline = t_main + int(config.recovery_time * SECOND)
    pool.start_final_phase(deadline)
    step = 100_000_000
    t = sim.now
    hard_stop = deadline + int(config.op_timeout * SECOND) + SECOND
    while not pool.final_complete() and t < hard_stop:
        t += step
        sim.run_until(t)

    # Let replicas converge before judging them (I9, replica convergence): a server may
    # still be re-syncing when the last final read returns. Bounded by the recovery period.
    settle_deadline = max(deadline, sim.now) + SECOND
    digests = digests_now()
    converged = getattr(spec, "converged", None) or _all_equal
    while not converged(digests) and sim.now < settle_deadline:
        sim.run_until(sim.now + step)
        digests = digests_now()
    return digests


def _all_equal(digests: dict[str, Any]) -> bool:
    """Default convergence: every server's replicated state is the same. A system whose
    servers are of several kinds (Kafka: ZooKeeper and brokers) gives its own
    ``converged(digests)``."""
    return len({json.dumps(d, sort_keys=True, default=str) for d in digests.values()}) <= 1


def history_bytes(history: list[dict]) -> bytes:
    return "".join(json.dumps(ev, separators=(",", ":")) + "\n" for ev in history).encode()


def history_digest(history: list[dict]) -> str:
    return hashlib.sha256(history_bytes(history)).hexdigest()


#: what a live run's page and ``harness repro`` say about replaying it
LIVE_REPLAY_NOTE = ("a live run: real processes on the wall clock, so its interleaving is not "
                    "replayable; `harness repro` re-runs its fault schedule and compares verdicts, not bytes")


@dataclass
class RunResult:
    config: RunConfig
    valid: Any
    results: dict[str, Any]
    out: SimOutput
    directory: Path | None
    wall_s: float


def run_test(config: RunConfig, store: Path | None = None, name: str | None = None,
             directory: Path | None = None) -> RunResult:
    """Simulate (or, for a live system, run for real), check and (when a store or
    directory is given) write the run directory."""
    t0 = time.perf_counter()
    spec = get_system(config.system)
    live = bool(getattr(spec, "live", False))
    # a live system runs real processes in a scratch directory; its logs are copied into
    # the run directory (SimOutput.artifacts) before the scratch directory goes
    workdir = Path(tempfile.mkdtemp(prefix="harness-live-")) if live else None
    try:
        return _check_and_store(config, spec, workdir, store, name, directory, t0)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def _check_and_store(config: RunConfig, spec: Any, workdir: Path | None, store: Path | None,
                     name: str | None, directory: Path | None, t0: float) -> RunResult:
    from harness.checks import run_checkers
    from harness.store import write_run

    out = simulate(config) if workdir is None else spec.run_live(config.validate(), workdir)
    t1 = time.perf_counter()
    checks = run_checkers(out)
    annotate = getattr(spec, "annotate_results", None) if workdir is not None else None
    if annotate is not None:  # a live system explains its anomalies from what it observed
        annotate(out, checks)
    t2 = time.perf_counter()
    valid = merge_verdicts(c["valid"] for c in checks.values() if c.get("counts", True) is not False)
    results = {
        "valid": valid,
        "seed": config.seed,
        "system": config.system,
        "workload": config.workload,
        "history_sha256": history_digest(out.history),
        "checkers": checks,
        **({"live": True, "replay": LIVE_REPLAY_NOTE} if workdir is not None else {}),
        "stats": {
            **out.stats,
            "operations": sum(1 for e in out.history if e["type"] == "invoke"),
            "wall_simulate_s": round(t1 - t0, 4),
            "wall_check_s": round(t2 - t1, 4),
        },
    }
    d = None
    if store is not None or directory is not None:
        d = write_run(out, results, store=store, name=name, directory=directory)
    return RunResult(config, valid, results, out, d, time.perf_counter() - t0)


def merge_verdicts(verdicts) -> Any:
    out: Any = True
    for v in verdicts:
        if v is False:
            return False
        if v == "unknown":
            out = "unknown"
    return out


def exit_code(valid: Any) -> int:
    return 0 if valid is True else 1 if valid is False else 2
