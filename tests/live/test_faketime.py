"""Clock faults on a Maelstrom node: a rate change slows the node's clock from now on,
without throwing it back (libfaketime rescales the time since the process started)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from harness.live.maelstrom.loop import Loop
from harness.live.maelstrom.nodes import ProcNode, faketime_lib
from harness.live.maelstrom.problems import Problems
from harness.live.procs import ProcessController

pytestmark = pytest.mark.skipif(faketime_lib() is None, reason="needs libfaketime (apt-get install faketime)")

CLOCK = "import sys, time\nfor _ in sys.stdin:\n    print(time.monotonic(), flush=True)\n"


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
