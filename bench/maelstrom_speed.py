"""Messages routed per second through the harness's Maelstrom network.

Five processes (``bench/maelstrom_forwarder.py``) each forward every message they get to
the next one of a ring; the bench puts ``--tokens`` messages in circulation and counts
what the router delivers over ``--seconds``. The goal is at least 5,000 messages per
second on 2 cores, so that the harness is never the bottleneck of a tutorial program.
Prints one line per latency setting. Usage::

    python bench/maelstrom_speed.py [--seconds 5] [--tokens 200] [--nodes 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.live.maelstrom.loop import Loop
from harness.live.maelstrom.network import Network
from harness.live.maelstrom.nodes import ProcNode
from harness.live.maelstrom.problems import Problems
from harness.live.procs import ProcessController
from harness.rng import stream

FORWARDER = Path(__file__).resolve().parent / "maelstrom_forwarder.py"


class _Admin:
    name = "c0"
    incarnation = 0

    def __init__(self, nodes: dict) -> None:
        self.nodes = nodes

    def deliver(self, msg: dict, line: bytes | None) -> None:
        if msg["body"].get("type") == "init_ok":
            self.nodes[msg["src"]].init_ok(msg["body"].get("in_reply_to"))


def measure(nodes_n: int, tokens: int, seconds: float, latency_ms: float) -> tuple[float, int]:
    work = Path(tempfile.mkdtemp(prefix="maelstrom-speed-"))
    loop = Loop()
    problems = Problems()
    net = Network(loop, stream(1, "bench"), problems, latency_ms)
    names = [f"n{i + 1}" for i in range(nodes_n)]
    with ProcessController() as procs:
        nodes = {n: ProcNode(n, [sys.executable, str(FORWARDER)], work, loop, net, procs, problems, names, 5.0)
                 for n in names}
        for n in nodes.values():
            net.add(n, server=True)
        net.add(_Admin(nodes))
        for n in nodes.values():
            n.start()
        loop.run_until(loop.now + 5 * 10**9, stop=lambda: all(n.ready for n in nodes.values()))
        if not all(n.ready for n in nodes.values()):
            raise SystemExit(f"forwarders did not start: {problems.to_json()}")
        for i in range(tokens):
            net.send("c0", {"src": "c0", "dest": names[i % nodes_n], "body": {"type": "fwd", "token": i}})
        loop.run_until(loop.now + int(0.5e9))  # warm up
        s0, t0 = net.delivered, time.perf_counter()
        loop.run_until(loop.now + int(seconds * 1e9))
        rate = (net.delivered - s0) / (time.perf_counter() - t0)
        bad = sum(problems.counts.values())
    loop.close()
    return rate, bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--nodes", type=int, default=5)
    a = ap.parse_args()
    print(f"maelstrom network: {a.nodes} forwarding Python nodes, {a.tokens} messages circulating, "
          f"{a.seconds:g} s each (goal >= 5,000 messages/s)")
    for lat in (0.0, 1.0):
        rate, bad = measure(a.nodes, a.tokens, a.seconds, lat)
        print(f"  latency {lat:g} ms: {rate:,.0f} messages routed per second"
              + (f"  ({bad} protocol problems!)" if bad else ""))


if __name__ == "__main__":
    main()
