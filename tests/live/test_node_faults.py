"""Faults on one Maelstrom node's process: a rate change slows the node's clock from now on,
without throwing it back (libfaketime rescales the time since the process started); a
pause before it answered init does not count against its init deadline."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.live.maelstrom.loop import Loop
from harness.live.maelstrom.nodes import ProcNode, faketime_lib
from harness.live.maelstrom.problems import Problems
from harness.live.procs import ProcessController

CLOCK = "import sys, time\nfor _ in sys.stdin:\n    print(time.monotonic(), flush=True)\n"


@pytest.mark.skipif(faketime_lib() is None, reason="needs libfaketime (apt-get install faketime)")
def test_a_slowed_node_clock_does_not_jump_back(tmp_path) -> None:
    with ProcessController() as procs:
        node = ProcNode("n1", [sys.executable, "-c", CLOCK], tmp_path, Loop(), None, procs,  # type: ignore[arg-type]
                        Problems(), ["n1"], 5.0, clock=True)
        node.proc = procs.start("n1", node.argv, env=node.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert node.proc.stdin is not None and node.proc.stdout is not None

        def now() -> float:
            node.proc.stdin.write(b"\n")  # type: ignore[union-attr]
            node.proc.stdin.flush()  # type: ignore[union-attr]
            return float(node.proc.stdout.readline())  # type: ignore[union-attr]

        now()
        time.sleep(1.5)
        before = now()
        assert node.set_clock(0, -900_000)  # x0.1 from now on
        time.sleep(0.05)
        after = now()
        time.sleep(1.0)
        later = now()
    assert after >= before, f"the node's monotonic clock went back {before - after:.2f} s"
    assert later - after < 0.5, f"x0.1 for 1 s advanced the clock {later - after:.2f} s"


def test_a_node_paused_before_answering_init_is_not_blamed_for_the_pause(tmp_path) -> None:
    """The nemesis may pause a node right after its restart: the init deadline counts only
    time the node could run."""
    import random

    from harness.live.maelstrom.clients import AdminClient
    from harness.live.maelstrom.network import Network

    loop, problems = Loop(), Problems()
    net = Network(loop, random.Random(1), problems, 0.0)
    prog = str(Path(__file__).resolve().parent.parent / "maelstrom" / "lin_kv.py")
    with ProcessController() as procs:
        node = ProcNode("n1", [sys.executable, prog], tmp_path, loop, net, procs, problems, ["n1"], 0.5)
        net.add(node, server=True)
        net.add(AdminClient({"n1": node}))
        node.start()
        assert node.pause()  # before a Python program can have answered
        loop.run_until(loop.now + int(1.5e9))  # three init timeouts, paused
        assert not node.ready
        assert node.resume()
        loop.run_until(loop.now + int(3e9), stop=lambda: node.ready)
        ready = node.ready
        node.kill()
    loop.close()
    assert ready, "the resumed node never answered init"
    assert "no-init-ok" not in problems.counts, problems.samples
