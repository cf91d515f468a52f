"""Run one test: config + seed -> simulate -> history, trace, faults -> checkers -> store.

``simulate`` is the pure part (no files, no wall clock); ``run_test`` adds checking and
writing the run directory. A run has Jepsen's shape: a main phase with faults and client
operations; then every fault healed and clocks reset; then final reads, which must
succeed within the recovery period or the run is a liveness failure.
"""

from __future__ import annotations

import gc
import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.result import CheckResult, as_result, checker_results
from harness.clients import ClientPool
from harness.config import SECOND, RunConfig
from harness.coverage import behaviours
from harness.faults import Fault, generate_schedule
from harness.nemesis import Nemesis
from harness.rng import stream
from harness.sim import STORM_EVENTS, MessageStorm, Simulator
from harness.store import history_bytes, history_digest
from harness.system import SystemSpec, get_system, run_settings, servers_for
from workloads import make_workload, workload_class

__all__ = ["SimOutput", "RunResult", "simulate", "run_test", "servers_for", "schedule_for",
           "faulty_clients", "history_bytes", "history_digest", "merge_verdicts", "exit_code"]


@dataclass
class SimOutput:
    config: RunConfig
    history: list[dict[str, Any]]
    trace: list[dict[str, Any]]
    faults: list[dict[str, Any]]
    schedule: list[Fault]
    final_failures: list[tuple[Any, ...]]
    replica_digests: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)
    #: a live run's files to copy into the run directory (name there -> path, or bytes
    #: once the runner has read them), e.g. the servers' logs; the simulator has none
    artifacts: dict[str, Any] = field(default_factory=dict)


def schedule_for(config: RunConfig, crash_points: tuple[str, ...] = ()) -> list[Fault]:
    if config.schedule is not None:
        return sorted((Fault.from_json(d) for d in config.schedule), key=lambda f: (f.at, f.episode, f.kind))
    return generate_schedule(
        config.seed, config.nemesis, servers_for(config), int(config.time_limit * SECOND),
        config.nemesis_interval, crash_points, config.swarm, faulty_clients(config),
    )


def faulty_clients(config: RunConfig) -> list[str]:
    """Client nodes the pause and clock faults may hit: those of a workload that declares
    ``faulty_clients = True`` (the election's candidates hold leases)."""
    if not workload_class(config.workload).faulty_clients:
        return []
    return [f"c{i}" for i in range(config.clients)]


#: called with (simulated seconds done, seconds of the main phase) as a run advances
Progress = Callable[[float, float], None]


def simulate(config: RunConfig, progress: Progress | None = None) -> SimOutput:
    """Run the simulation of ``config``: deterministic in (config, seed, code).
    ``progress``: told how far the main phase is, each simulated second (the events and
    their order are the same with it as without: the simulator only stops between them)."""
    # The cyclic garbage collector would spend 10-20% of the run walking what the run
    # keeps (history, trace, logs, the heap), which only grows, while the run makes almost
    # no garbage cycles: it is off while the simulation runs and on again after.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _simulate(config, progress)
    finally:
        if gc_was_enabled:
            gc.enable()


def _simulate(config: RunConfig, progress: Progress | None = None) -> SimOutput:
    config.validate()
    spec = get_system(config.system)
    settings = run_settings(config)
    servers = servers_for(config)
    clients = [f"c{i}" for i in range(config.clients)]
    workload = make_workload(config.workload, config, stream(config.seed, "workload"))
    services = list(workload.services)  # e.g. the election's storage
    # the storm budget grows with the client rate past the default rate's
    storm_events = int(STORM_EVENTS * max(1.0, config.rate / RunConfig.rate))
    sim = Simulator(spec, config.seed, servers, clients, settings, frozenset(config.bugs), services=services,
                    storm_events=storm_events)
    schedule = schedule_for(config, tuple(spec.crash_points))
    nemesis = Nemesis(sim, schedule, config.seed)
    pool = ClientPool(sim, config, workload, stream(config.seed, "clients"))

    def digests_now() -> dict[str, Any]:
        return {nid: node.state_digest() for nid, node in sorted(sim.live_server_nodes().items())}

    storm = None
    try:
        digests = _phases(config, spec, sim, nemesis, pool, servers, clients + services, digests_now,
                          progress)
    except MessageStorm as e:
        # the run cannot go on (its message rate grows without bound): it ends here, and
        # the checkers judge what happened so far (liveness reports the storm)
        storm = e.info
        digests = digests_now()
    stats: dict[str, Any] = {
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


def _phases(config: RunConfig, spec: SystemSpec, sim: Simulator, nemesis: Nemesis, pool: ClientPool,
            servers: list[str], others: list[str],
            digests_now: Callable[[], dict[str, Any]], progress: Progress | None = None) -> dict[str, Any]:
    """Boot, main phase, heal, final reads, convergence: the run; returns the replicas'
    digests at the end."""
    for nid in servers:
        sim.boot(nid)
    for nid in others:
        sim.boot(nid)
    nemesis.install()
    pool.start()

    t_main = sim.start + int(config.time_limit * SECOND)
    if progress is not None:
        while sim.now < t_main:
            sim.run_until(min(t_main, sim.now + SECOND))
            progress((sim.now - sim.start) / SECOND, config.time_limit)
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
    while not spec.converged(digests) and sim.now < settle_deadline:
        sim.run_until(sim.now + step)
        digests = digests_now()
    return digests


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

    @property
    def checkers(self) -> dict[str, CheckResult]:
        """Each checker's result (``results["checkers"]`` holds them as JSON)."""
        return checker_results(self.results)


def run_test(config: RunConfig, store: Path | None = None, name: str | None = None,
             directory: Path | None = None, on_data: Callable[[Path], None] | None = None,
             write_aside: bool = False, progress: Progress | None = None) -> RunResult:
    """Simulate (or, for a live system, run for real), check and (when a store or
    directory is given) write the run directory. ``progress``: as for `simulate` (a live
    run does not call it).

    ``on_data``, with a store or directory: called with the run directory's temporary
    path once every file but results.json is written there, before the checkers run (the
    page's plots are drawn from those files meanwhile: `reports.prefork`). The directory
    is renamed into place after the checkers, as always.

    ``write_aside``: those files are written by a forked child while this process checks
    (`harness.store_aside`, where a second CPU can take it; the same files)."""
    t0 = time.perf_counter()
    spec = get_system(config.system)
    live = spec.live
    # a live system runs real processes in a scratch directory; its logs are copied into
    # the run directory (SimOutput.artifacts) before the scratch directory goes
    workdir = Path(tempfile.mkdtemp(prefix="harness-live-")) if live else None
    try:
        return _check_and_store(config, spec, workdir, store, name, directory, t0, on_data, write_aside,
                                progress)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def _check_and_store(config: RunConfig, spec: Any, workdir: Path | None, store: Path | None,
                     name: str | None, directory: Path | None, t0: float,
                     on_data: Callable[[Path], None] | None = None, write_aside: bool = False,
                     progress: Progress | None = None) -> RunResult:
    from harness.checks import run_checkers

    out = simulate(config, progress) if workdir is None else spec.run_live(config.validate(), workdir)
    if workdir is not None:  # the scratch directory goes with this call: keep the files' bytes
        out.artifacts = _artifact_bytes(out.artifacts)
    t1 = time.perf_counter()
    stored = store is not None or directory is not None
    aside = None
    if write_aside and stored:
        from harness.store_aside import start

        aside = start(out, store=store, name=name, directory=directory, on_data=on_data)
    history = b""
    pending = None
    if aside is None:
        history = history_bytes(out.history)  # hashed below and written as is (encoded once)
        if on_data is not None and stored:
            from harness.store import begin_run

            pending = begin_run(out, store=store, name=name, directory=directory, history=history)
    try:
        if pending is not None and on_data is not None:
            on_data(pending.tmp)
        t_check = time.perf_counter()
        checks = {name: as_result(c) for name, c in run_checkers(out).items()}
        if workdir is not None:  # a live system explains its anomalies from what it observed
            spec.annotate_results(out, checks)
        t2 = time.perf_counter()
        sha = aside.history_sha256(out, on_data) if aside is not None else hashlib.sha256(history).hexdigest()
        results = _results(config, out, checks, sha, workdir is not None, t1 - t0, t2 - t_check)
        d = None
        if aside is not None:
            d = aside.commit(results)
        elif pending is not None:
            d = pending.commit(results)
        elif stored:
            from harness.store import write_run  # looked up per run (tests replace it: a full disk)

            d = write_run(out, results, store=store, name=name, directory=directory, history=history)
    except BaseException:
        if aside is not None:
            aside.abort()
        if pending is not None:
            pending.abort()
        raise
    return RunResult(config, results["valid"], results, out, d, time.perf_counter() - t0)


def _results(config: RunConfig, out: SimOutput, checks: dict[str, CheckResult], history_sha256: str, live: bool,
             wall_simulate_s: float, wall_check_s: float) -> dict[str, Any]:
    """results.json of a run."""
    valid = merge_verdicts(c.valid for c in checks.values() if c.decides)
    return {
        "valid": valid,
        "seed": config.seed,
        "system": config.system,
        "workload": config.workload,
        "history_sha256": history_sha256,
        "checkers": {name: c.to_json() for name, c in checks.items()},
        # abstract behaviours the run reached (harness.coverage): what campaigns sum
        "coverage": {"behaviours": behaviours(out)},
        **({"live": True, "replay": LIVE_REPLAY_NOTE} if live else {}),
        "stats": {
            **out.stats,
            "operations": sum(1 for e in out.history if e["type"] == "invoke"),
            "wall_simulate_s": round(wall_simulate_s, 4),
            "wall_check_s": round(wall_check_s, 4),
        },
    }


def _artifact_bytes(artifacts: dict[str, Any]) -> dict[str, Any]:
    """name -> bytes for every file among ``artifacts`` (directories walked), so a live
    run's output can be stored after its scratch directory is gone (shrink, campaign)."""
    out: dict[str, Any] = {}
    for name, src in artifacts.items():
        if isinstance(src, bytes):
            out[name] = src
            continue
        p = Path(src)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file():
                    out[f"{name}/{f.relative_to(p)}"] = f.read_bytes()
        elif p.is_file():
            out[name] = p.read_bytes()
    return out


def merge_verdicts(verdicts: Iterable[Any]) -> Any:
    out: Any = True
    for v in verdicts:
        if v is False:
            return False
        if v == "unknown":
            out = "unknown"
    return out


def exit_code(valid: Any) -> int:
    return 0 if valid is True else 1 if valid is False else 2
