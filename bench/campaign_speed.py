"""Runs per second of a campaign with 1 and with 2 local jobs, writing to a throwaway store.

Campaign: ``SYSTEM register``, partition+kill+clock, 10 simulated seconds per run, swarm on.
Target (campaigns issue): at least 10 runs/s with 2 jobs. Usage:

    python bench/campaign_speed.py [--system zab] [--runs 100] [--time-limit 10] [--jobs 1,2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.campaign import Campaign, run_campaign
from harness.config import RunConfig

TARGET_RUNS_PER_S = 10.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--system", default="zab", help="system under test (toy works while zab is unfinished)")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--jobs", default="1,2", help="comma list of job counts to measure")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.system == "toy":
        import toysystem  # noqa: F401
    base = RunConfig(system=args.system, workload="register", nemesis=("partition", "kill", "clock"),
                     time_limit=args.time_limit).validate()
    for jobs in (int(j) for j in args.jobs.split(",")):
        with tempfile.TemporaryDirectory() as store:
            c = Campaign(f"bench-{jobs}", Path(store) / "campaigns" / f"bench-{jobs}", args.seed, args.runs, True, base)
            c.save()
            t0 = time.perf_counter()
            entries = run_campaign(c, jobs=jobs, progress=False)
            wall = time.perf_counter() - t0
        rate = len(entries) / wall
        failed = sum(1 for e in entries if e["valid"] is not True)
        target = f"; target >= {TARGET_RUNS_PER_S:g}" if jobs == 2 else ""
        print(f"{args.system} register, {args.time_limit:g} s simulated, {jobs} job(s): {len(entries)} runs in "
              f"{wall:.2f} s = {rate:.1f} runs/s ({failed} not valid){target}")


if __name__ == "__main__":
    main()
