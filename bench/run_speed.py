"""Wall time and simulated events per second of the standard run, checking included.

Standard run: 5 servers, 10 clients, 60 simulated seconds, partition+kill+clock.
Target (issue 2): under 1 s wall per run. Usage:

    python bench/run_speed.py [--system zab] [--seeds 5] [--time-limit 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.config import RunConfig  # noqa: E402
from harness.runner import run_test  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--system", default="zab")
    ap.add_argument("--workload", default="register")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--clients", type=int, default=10)
    args = ap.parse_args()
    if args.system == "toy":
        import toysystem  # noqa: F401
    rows = []
    for seed in range(1, args.seeds + 1):
        cfg = RunConfig(system=args.system, workload=args.workload, nodes=args.nodes, clients=args.clients,
                        time_limit=args.time_limit, seed=seed, nemesis=("partition", "kill", "clock"))
        t0 = time.perf_counter()
        res = run_test(cfg)
        wall = time.perf_counter() - t0
        s = res.results["stats"]
        rows.append((seed, wall, s["wall_simulate_s"], s["wall_check_s"], s["events"], s["operations"], res.valid))
        print(f"seed {seed}: {wall:.3f} s wall (simulate {s['wall_simulate_s']:.3f}, check {s['wall_check_s']:.3f}), "
              f"{s['events']} events, {s['events'] / s['wall_simulate_s']:.0f} events/s, "
              f"{s['operations']} ops, valid={res.valid}")
    walls = [r[1] for r in rows]
    print(f"standard run ({args.system}, {args.nodes} servers, {args.clients} clients, {args.time_limit:g} s simulated): "
          f"median {statistics.median(walls):.3f} s wall, max {max(walls):.3f} s; target < 1 s")


if __name__ == "__main__":
    main()
