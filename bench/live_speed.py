"""Speed of live runs against a real ZooKeeper ensemble (Debian's 3.8, one JVM a server).

Prints:

- ensemble start-up: from the first ``java`` start until one server leads and the rest
  follow (``srvr``), through the proxy mesh, cold (fresh data directories);
- register throughput: ok operations per second of the register workload with no faults
  and a rate the ensemble cannot keep up with (10 clients pinned round-robin, one
  operation at a time each), for ``--reads sync`` and ``--reads local``;
- the wall time of a standard 60-s live run (5 servers, partition,kill,pause), checking
  included, and how many operations it recorded.

Usage::

    python bench/live_speed.py              # all three (about 2.5 minutes)
    python bench/live_speed.py --quick      # start-up and throughput only, shorter
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from harness.config import RunConfig
from harness.live.zookeeper.ensemble import ZkEnsemble
from harness.live.zookeeper.spec import missing_requirements
from harness.runner import run_test


def startup(nodes: int, times: int) -> list[float]:
    out = []
    for _ in range(times):
        with tempfile.TemporaryDirectory(prefix="zk-bench-") as d:
            e = ZkEnsemble(nodes, Path(d))
            t = time.monotonic()
            try:
                e.start()
                out.append(time.monotonic() - t)
            finally:
                e.stop()
    return out


def throughput(reads: str, seconds: float) -> tuple[float, int]:
    cfg = RunConfig(system="zookeeper", workload="register", nodes=5, clients=10, rate=100_000.0,
                    time_limit=seconds, recovery_time=5.0, nemesis=(), reads=reads, seed=1)
    res = run_test(cfg)
    main = [e for e in res.out.history if e["type"] == "ok" and e["time"] <= seconds * 1e9]
    return len(main) / seconds, len(main)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 60-s run; shorter throughput runs")
    args = ap.parse_args()
    missing = missing_requirements()
    if missing:
        print(f"cannot run live: missing {', '.join(missing)}")
        return 254
    for n in (3, 5):
        ts = startup(n, 2 if args.quick else 3)
        print(f"ensemble start-up, {n} servers: median {statistics.median(ts):.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in ts)})")
    secs = 10.0 if args.quick else 20.0
    for reads in ("sync", "local"):
        ops, n = throughput(reads, secs)
        print(f"register --reads {reads}, 5 servers, 10 clients, no faults: {ops:.0f} ok ops/s ({n} in {secs:g} s)")
    if not args.quick:
        cfg = RunConfig(system="zookeeper", workload="register", nodes=5, time_limit=60.0,
                        nemesis=("partition", "kill", "pause"), reads="sync", seed=1)
        t = time.monotonic()
        res = run_test(cfg)
        wall = time.monotonic() - t
        s = res.results["stats"]
        print(f"60-s live run (5 servers, partition,kill,pause, recovery {cfg.recovery_time:g} s): "
              f"{wall:.1f} s wall, start-up {s['startup_s']:.2f} s, {s['operations']} operations, "
              f"check {s['wall_check_s']:.2f} s, verdict {res.valid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
