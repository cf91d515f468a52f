"""``harness shrink RUN_DIR [--budget SECONDS] [--jobs N] [--keep CHECKER[:KIND]] [--store DIR]``:
the command line of the shrinker (its arguments, and a summary table of before and after)."""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

from checkers.result import anomaly_names
from harness.config import ConfigError
from harness.shrink.driver import DEFAULT_BUDGET_S, shrink_run
from harness.shrink.passes import sizes

#: longest budget (a week) and most worker processes: past them the number is a mistake
MAX_BUDGET_S = 7 * 86_400.0
MAX_JOBS = 64


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="a failing run directory")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                   help="wall-clock seconds to spend (default %(default)s)")
    p.add_argument("--jobs", type=int, default=None,
                   help="candidate runs at once, in worker processes (default: the cores, at most 4)")
    p.add_argument("--keep", action="append", default=None, metavar="CHECKER[:KIND]",
                   help="what a smaller run must still fail with (repeatable; default: every checker "
                        "and kind the run fails with)")
    p.add_argument("--store", type=Path, default=None,
                   help="write the result to STORE/runs/NAME.shrunk (default: RUN_DIR.shrunk beside the run)")
    p.add_argument("--no-report", action="store_true", help="skip the shrunk run's report.html")


def run(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    if not (math.isfinite(args.budget) and 0 < args.budget <= MAX_BUDGET_S):
        raise ConfigError(f"--budget must be positive seconds, at most {MAX_BUDGET_S:g}, not {args.budget}")
    if args.jobs is not None and not 1 <= args.jobs <= MAX_JOBS:
        raise ConfigError(f"--jobs must be at least 1 and at most {MAX_JOBS}, not {args.jobs}")
    run_dir = Path(args.run_dir)
    out_dir = None
    if args.store is not None:
        out_dir = Path(args.store) / "runs" / (run_dir.resolve().name + ".shrunk")
    t0 = time.monotonic()
    keep = None
    if args.keep:
        keep = [(c, k or None) for c, _, k in (x.partition(":") for x in args.keep)]
    out, sh = shrink_run(run_dir, args.budget, out_dir, log=lambda s: print(s, file=sys.stderr),
                         jobs=args.jobs, keep=keep)
    before, after = sizes(sh.first), sizes(sh.best)
    print(f"shrunk {run_dir}: fails with {', '.join(anomaly_names(sh.target))}; "
          f"{sh.candidates} runs in {time.monotonic() - t0:.1f} s"
          + (" (budget spent)" if sh.out_of_budget else "") + (" (interrupted)" if sh.interrupted else ""))
    print(tabulate([[k, before[k], after[k]] for k in before], headers=["", "before", "after"], tablefmt="simple"))
    print(f"results: {out}")
    if not getattr(args, "no_report", False):
        from reports.run_report import write_run_report

        print(f"report:  {write_run_report(out)}")
    print(f"repro:   harness repro {shlex.quote(str(out))}")
    if sh.interrupted:
        print(f"harness: interrupted; the smallest failing run so far is in {out}", file=sys.stderr)
        return 130
    return 0
