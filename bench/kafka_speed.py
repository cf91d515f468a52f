"""Wall time of the standard Kafka run, checking included.

Standard run: 3 ZooKeeper servers (ZAB), 5 brokers, 3 partitions (replication factor 3),
10 clients of the queue workload, 60 simulated seconds, partition+kill+clock.
Target: under 2 s wall per run. Usage:

    python bench/kafka_speed.py [--seeds 5] [--time-limit 60] [--set zookeeper=mini]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from harness.config import RunConfig
from harness.runner import run_test


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings")
    args = ap.parse_args()
    settings = {}
    for item in args.settings:
        k, _, v = item.partition("=")
        try:
            settings[k] = json.loads(v)
        except ValueError:
            settings[k] = v
    walls = []
    for seed in range(1, args.seeds + 1):
        cfg = RunConfig(system="kafka", workload="queue", nodes=5, clients=10, keys=3, time_limit=args.time_limit,
                        seed=seed, nemesis=("partition", "kill", "clock"), settings=settings)
        t0 = time.perf_counter()
        res = run_test(cfg)
        wall = time.perf_counter() - t0
        walls.append(wall)
        s = res.results["stats"]
        print(f"seed {seed}: {wall:.3f} s wall (simulate {s['wall_simulate_s']:.3f}, check {s['wall_check_s']:.3f}), "
              f"{s['events']} events, {s['events'] / s['wall_simulate_s']:.0f} events/s, {s['operations']} ops, "
              f"valid={res.valid}")
    print(f"standard Kafka run (3 ZooKeeper, 5 brokers, 3 partitions, 10 clients, {args.time_limit:g} s simulated): "
          f"median {statistics.median(walls):.3f} s wall, max {max(walls):.3f} s; target < 2 s")


if __name__ == "__main__":
    main()
