"""``--system maelstrom``: any program speaking Maelstrom's protocol, run as real processes.

There is nothing to simulate: the program is an executable (``--bin PATH``, with
``--bin-arg ARG`` repeatable) started as ``n1..nN``, and the harness is its network. The
run itself lives in ``harness.live.maelstrom.run``; this spec only names the system, its
settings and the entry point, so that nothing here does IO.
"""

from __future__ import annotations

from typing import Any

from harness.system import register_system


class MaelstromSpec:
    name = "maelstrom"
    files: tuple[str, ...] = ()
    crash_points: tuple[str, ...] = ()

    def default_settings(self) -> dict:
        from harness.live.maelstrom.run import DEFAULTS

        return dict(DEFAULTS)

    def known_settings(self) -> list[str]:
        return list(self.default_settings())

    def make_server(self, ctx: Any) -> Any:
        raise NotImplementedError("Maelstrom programs run live, never in the simulator")

    make_client = make_server

    def is_leader(self, server: Any) -> bool:
        return False

    def live(self, config: Any, workdir: Any) -> Any:
        from harness.live.maelstrom.run import run_live

        return run_live(config, workdir)


register_system("maelstrom", MaelstromSpec)
