"""``--system maelstrom``: any program speaking Maelstrom's protocol, run as real processes.

The program is an executable (``--bin PATH``, with ``--bin-arg ARG`` repeatable; the
settings ``bin`` and ``bin_args``) started as ``n1..nN``; the harness is its network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.system import SystemSpec


class MaelstromSpec(SystemSpec):
    name = "maelstrom"
    live = True
    #: Maelstrom's workloads (``workloads/maelstrom.py``)
    WORKLOADS = ("lin-kv", "kafka", "broadcast", "g-counter")
    #: did every node keep to the protocol (``harness.live.maelstrom.problems``)
    checkers = ("protocol",)

    def default_settings(self) -> dict[str, Any]:
        from harness.live.maelstrom.run import DEFAULTS

        return dict(DEFAULTS)

    def make_server(self, ctx: Any) -> Any:
        raise NotImplementedError("Maelstrom programs run live, never in the simulator")

    make_client = make_server

    def is_leader(self, server: Any) -> bool:
        return False

    def fault_families(self) -> tuple[str, ...]:
        """What the live runtime applies to processes; clock faults only with libfaketime."""
        from harness.live.maelstrom.nodes import faketime_lib
        from harness.live.nemesis import LIVE_FAMILIES

        clock = faketime_lib() is not None
        return tuple(f for f in LIVE_FAMILIES if clock or f not in ("clock", "slow"))

    def check_config(self, config: Any) -> None:
        """One-line refusals before anything starts (no --bin, a workload or fault family
        a Maelstrom program cannot take, clock faults without libfaketime)."""
        from harness.live.maelstrom.run import validate

        validate(config)

    def run_live(self, config: Any, workdir: Path) -> Any:
        from harness.live.maelstrom.run import run_live

        return run_live(config, workdir)


SYSTEM = MaelstromSpec
