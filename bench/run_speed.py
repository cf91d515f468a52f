"""Wall time and simulated events per second of the standard runs, checking included.

Standard runs (60 simulated seconds, partition+kill+clock, 10 clients):

- ``zab``: ZooKeeper register workload on 5 ZAB servers. Target (issue 2): < 1 s wall.
- ``kafka``: queue workload on 3 ZooKeeper servers (ZAB), 5 brokers, 3 partitions
  (replication factor 3). Target (issue 5): < 2 s wall.

Usage::

    python bench/run_speed.py                       # both standard runs, 5 seeds each
    python bench/run_speed.py --system kafka --seeds 10 --set zookeeper=mini
    python bench/run_speed.py --system toy          # the test suite's toy system
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.config import RunConfig  # noqa: E402
from harness.runner import run_test  # noqa: E402

#: system -> (workload, servers, keys, description, target seconds)
STANDARD = {
    "zab": ("register", 5, 3, "5 ZAB servers, register workload", 1.0),
    "kafka": ("queue", 5, 3, "3 ZooKeeper servers, 5 brokers, 3 partitions, queue workload", 2.0),
    "toy": ("register", 5, 3, "5 toy servers, register workload", 1.0),
}


def bench(system: str, seeds: int, time_limit: float, clients: int, settings: dict) -> float:
    workload, nodes, keys, desc, target = STANDARD[system]
    if system == "toy":
        import toysystem  # noqa: F401
    walls = []
    for seed in range(1, seeds + 1):
        cfg = RunConfig(system=system, workload=workload, nodes=nodes, clients=clients, keys=keys,
                        time_limit=time_limit, seed=seed, nemesis=("partition", "kill", "clock"),
                        settings=settings)
        t0 = time.perf_counter()
        res = run_test(cfg)
        wall = time.perf_counter() - t0
        walls.append(wall)
        s = res.results["stats"]
        print(f"{system} seed {seed}: {wall:.3f} s wall (simulate {s['wall_simulate_s']:.3f}, "
              f"check {s['wall_check_s']:.3f}), {s['events']} events, "
              f"{s['events'] / s['wall_simulate_s']:.0f} events/s, {s['operations']} ops, valid={res.valid}")
    med = statistics.median(walls)
    print(f"standard {system} run ({desc}, {clients} clients, {time_limit:g} s simulated): median {med:.3f} s "
          f"wall, max {max(walls):.3f} s; target < {target:g} s: {'met' if med < target else 'NOT MET'}")
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--system", default="zab,kafka", help="comma list of zab, kafka, toy (default %(default)s)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                    help="system setting, e.g. zookeeper=mini for Kafka (repeatable)")
    args = ap.parse_args()
    settings = {}
    for item in args.settings:
        k, _, v = item.partition("=")
        try:
            settings[k] = json.loads(v)
        except ValueError:
            settings[k] = v
    systems = [s for s in args.system.split(",") if s]
    unknown = [s for s in systems if s not in STANDARD]
    if unknown:
        sys.exit(f"unknown system(s) {', '.join(unknown)}; known: {', '.join(STANDARD)}")
    for system in systems:
        bench(system, args.seeds, args.time_limit, args.clients, settings)


if __name__ == "__main__":
    main()
