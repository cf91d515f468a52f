"""``--system zookeeper``: the same workloads, faults and checkers against real ZooKeeper.

Importing this module registers ``"zookeeper"`` with ``harness.system``. The system is
live (``SystemSpec.live``): a run starts a real ensemble from Debian's ``zookeeper``
package (``ensemble``), pins one kazoo client to each server in turn (``client``), and
runs the generic wall-clock loop (``harness.live.run``). What it needs and refuses, each
in one line (exit 254): java, the zookeeper jar and kazoo; the crash and power families
(they need the simulator's control of the code and the disk); clock faults without
libfaketime.
"""

from __future__ import annotations

import importlib.util
import shutil
import threading
from pathlib import Path
from typing import Any

from harness.config import ConfigError, RunConfig
from harness.schema import Setting
from harness.system import SystemSpec

MS = 1_000_000
#: what ``--set`` may change: ZooKeeper's timing (ms, ticks), the JVM heap; the clients'
#: session timeout (ns, as the simulator's; None: 20 s for register, so a client's session
#: outlives a pause of its server, 4 s for election, so a paused master's session expires);
#: the election's fencing, acquire wait and write work (ns)
DEFAULT_SETTINGS = {"tick_time": 1000, "init_limit": 10, "sync_limit": 3, "max_session_timeout": 60000,
                    "heap_mb": 192, "session_timeout": None, "fencing": False, "acquire_wait": None,
                    "write_work": 50 * MS}
#: each setting's type and range, checked before anything starts (``harness.schema``):
#: ZooKeeper's timing in ms and ticks, the heap in MB (a JVM refuses less than a few MB),
#: the client and election durations in ns
RULES = {"tick_time": Setting("int", 1, 60_000), "init_limit": Setting("int", 1, 10_000),
         "sync_limit": Setting("int", 1, 10_000), "max_session_timeout": Setting("int", 1, 10**9),
         "heap_mb": Setting("int", 32, 65_536),
         "session_timeout": Setting("int", MS, 3_600_000 * MS, nullable=True, unit="ns"),
         "fencing": Setting("bool"),
         "acquire_wait": Setting("int", 0, 3_600_000 * MS, nullable=True, unit="ns"),
         "write_work": Setting("int", 0, 3_600_000 * MS, unit="ns")}
ZK_KEYS = ("tick_time", "init_limit", "sync_limit", "max_session_timeout", "heap_mb")
INSTALL_HINT = ("live ZooKeeper runs need java, ZooKeeper and kazoo: apt-get install zookeeper "
                "default-jre-headless faketime && pip install -e '.[live]'")
WORKLOADS = ("register", "election")


def missing_requirements() -> list[str]:
    """What is missing to run a live ensemble here (empty: nothing)."""
    from harness.live.zookeeper.ensemble import SLF4J_SIMPLE, ZK_JAR

    out = []
    if shutil.which("java") is None:
        out.append("java")
    if not ZK_JAR.exists():
        out.append(str(ZK_JAR))
    if not SLF4J_SIMPLE.exists():
        out.append(str(SLF4J_SIMPLE))
    if importlib.util.find_spec("kazoo") is None:
        out.append("kazoo")
    if shutil.which("setpriv") is None:
        out.append("setpriv")
    return out


def supported_families() -> tuple[str, ...]:
    from harness.live.zookeeper.ensemble import faketime_lib

    return ("partition", "kill", "pause") + (("clock", "slow") if faketime_lib() is not None else ())


class ZooKeeperSpec(SystemSpec):
    """``harness.system.SystemSpec`` of a live ensemble of real ZooKeeper servers."""

    name = "zookeeper"
    live = True
    WORKLOADS = WORKLOADS
    files = ("version-2/log.*", "version-2/snapshot.*", "version-2/acceptedEpoch", "version-2/currentEpoch")
    #: ZooKeeper's session guarantees, checked from the history alone (the register
    #: client records the zxids; without them, e.g. the election workload, not applicable)
    checkers = ("session",)
    #: checkers that read the simulated servers' trace: not applicable live
    trace_checkers = ("quorum",)

    def default_settings(self) -> dict[str, Any]:
        return dict(DEFAULT_SETTINGS)

    def known_settings(self) -> set[str]:
        return set(DEFAULT_SETTINGS)

    def make_server(self, ctx: Any) -> Any:
        raise ConfigError("zookeeper is a live system: it has no simulated servers")

    make_client = make_server

    def is_leader(self, server: Any) -> bool:
        return False

    def fault_families(self) -> tuple[str, ...]:
        return supported_families()

    def check_config(self, config: RunConfig) -> None:
        """Refuse, in one line, what a live ZooKeeper run cannot do here."""
        from harness.live.run import check_families

        missing = missing_requirements()
        if missing:
            raise ConfigError(f"{INSTALL_HINT} (missing: {', '.join(missing)})")
        if config.workload not in WORKLOADS:
            raise ConfigError(f"--system zookeeper runs the workloads {', '.join(WORKLOADS)}, "
                              f"not {config.workload!r}")
        if config.nodes not in (3, 5, 7):
            raise ConfigError(f"--system zookeeper needs 3, 5 or 7 servers, not {config.nodes}")
        if config.bugs:
            raise ConfigError("planted bugs (--bug) are switches of our own code; a real ZooKeeper has none")
        from harness.live.ports import BLOCK
        from harness.live.zookeeper.ensemble import ports_needed

        need = ports_needed(config.nodes, config.clients if config.workload == "election" else 0)
        if need > BLOCK:
            raise ConfigError(f"--nodes {config.nodes} with {config.clients} election candidates needs {need} "
                              f"ports; a live run holds at most {BLOCK} (fewer --clients)")
        for key, rule in RULES.items():
            if key in config.settings:
                why = rule.problem(config.settings[key])
                if why is not None:
                    raise ConfigError(f"setting {key} {why}, not {config.settings[key]!r}")
        check_families(config, supported_families())

    def run_live(self, config: RunConfig, workdir: Path) -> Any:
        from harness.live.procs import install_signal_handlers
        from harness.live.run import run_live_loop
        from harness.live.scratch import hold
        from harness.live.zookeeper.client import ZkRegisterDriver
        from harness.live.zookeeper.ensemble import ZkEnsemble
        from harness.live.zookeeper.stepdown import stepdown_reads
        from harness.rng import stream
        from harness.runner import schedule_for
        from workloads import make_workload

        self.check_config(config)
        hold(workdir)  # a stale scratch directory of a killed run goes; this one is held
        if threading.current_thread() is threading.main_thread():
            install_signal_handlers()  # SIGTERM ends the ensemble through the finally blocks
        settings = {**DEFAULT_SETTINGS, **config.settings}
        zk_settings = {k: settings[k] for k in ZK_KEYS}
        election = config.workload == "election"
        session_s = (settings["session_timeout"] or (4000 if election else 20_000) * MS) / 1e9
        schedule = schedule_for(config)
        workload = make_workload(config.workload, config, stream(config.seed, "workload"))
        fake = any(f in config.nemesis for f in ("clock", "slow"))
        ensemble = ZkEnsemble(config.nodes, workdir, zk_settings, fake_clocks=fake,
                              client_proxies=config.clients if election else 0)
        if election:
            from harness.live.zookeeper.election import ElectionDriver

            cand = {"fencing": bool(settings["fencing"]), "session_timeout": session_s,
                    "acquire_wait": (settings["acquire_wait"] or 2 * session_s * 1e9) / 1e9,
                    "write_work": settings["write_work"] / 1e9}

            def driver(ens: Any) -> Any:
                return ElectionDriver(ens, cand)
        else:
            def driver(ens: Any) -> Any:
                return ZkRegisterDriver(ens, config.reads, session_s)
        out = run_live_loop(config, ensemble, driver, workload, schedule)
        end = max((e["time"] for e in out.history), default=0)
        out.stats["session_timeout_s"] = session_s
        if not election:
            out.stats["stepdown"] = stepdown_reads(out.history, ensemble.roles, end)
            out.stats["roles"] = list(ensemble.roles)
        return out

    def annotate_results(self, out: Any, checks: dict[str, Any]) -> None:
        """A rejected read answered by a deposed leader: say so in the checker's words."""
        import dataclasses

        from harness.live.zookeeper.stepdown import explain_read

        lin = checks.get("linearizable")
        roles = out.stats.get("roles")
        if lin is None or lin.valid is not False or not roles:
            return
        op = lin.details.get("op") or {}
        if op.get("f") != "read" or op.get("complete_index") is None:
            return
        end = max((e["time"] for e in out.history), default=0)
        why = explain_read(out.history, roles, out.faults, int(op["complete_index"]), end)
        if why:
            checks["linearizable"] = dataclasses.replace(
                lin, explanation=f"{lin.explanation}. {why}", details={**lin.details, "live_cause": why})


SYSTEM = ZooKeeperSpec
