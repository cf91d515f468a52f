"""Wall time to build the report (HTML page + PNG plots) of the standard run.

Standard run: 5 servers, 10 clients, 60 simulated seconds, partition+kill+clock, about
2000 operations. Target: under 1 s per report, including a fresh process. The run itself
is simulated first (not timed); then:

- warm: the report is built ``--repeat`` times in this process (imports paid once), with
  the split between loading the run, the plots and the page;
- fresh process: ``harness report RUN_DIR`` is run ``--fresh`` times as a new process each,
  end to end (interpreter start, imports, plots, page), with the plots in two processes
  (``REPORT_JOBS=2``; the default unless the machine is oversubscribed) and in one
  (``REPORT_JOBS=1``). Wall time is the target; CPU time (user+sys of the child) is
  printed too, as it is steadier on a busy machine, along with the load average.

Usage:

    python bench/report_speed.py [--system zab|toy] [--seed 1] [--time-limit 60] [--repeat 3] [--fresh 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.config import RunConfig
from harness.runner import run_test


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--system", default="zab", help="system under test (default %(default)s; toy works too)")
    ap.add_argument("--workload", default="register")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--bug", action="append", default=[], help="planted bug (repeatable), e.g. to time a failing run")
    ap.add_argument("--repeat", type=int, default=3, help="warm builds in this process")
    ap.add_argument("--fresh", type=int, default=7, help="fresh-process builds (harness report RUN_DIR)")
    ap.add_argument("--keep", action="store_true", help="keep the run directory and print its path")
    args = ap.parse_args()
    if args.system == "toy":
        import toysystem  # noqa: F401  (registers the toy system)

    tmp = Path(tempfile.mkdtemp(prefix="report-speed-"))
    cfg = RunConfig(system=args.system, workload=args.workload, nodes=args.nodes, clients=args.clients,
                    time_limit=args.time_limit, seed=args.seed, nemesis=("partition", "kill", "clock"),
                    bugs=tuple(args.bug))
    t0 = time.perf_counter()
    res = run_test(cfg, directory=tmp / "run")
    print(f"run: {args.system}, {args.nodes} servers, {args.clients} clients, {args.time_limit:g} s simulated, "
          f"{res.results['stats']['operations']} ops, valid={res.valid} ({time.perf_counter() - t0:.2f} s to simulate)")

    t_import = time.perf_counter()
    from reports.plots import write_plots
    from reports.run_report import render_run_report, write_run_report
    from reports.rundata import RunData
    t_import = time.perf_counter() - t_import

    totals = []
    for i in range(args.repeat):
        t0 = time.perf_counter()
        run = RunData(res.directory)
        _ = run.operations, run.windows
        t1 = time.perf_counter()
        plots = write_plots(run)
        t2 = time.perf_counter()
        page = render_run_report(run.dir, plots, run=run)
        (run.dir / "report.html").write_text(page, encoding="utf-8")
        t3 = time.perf_counter()
        totals.append(t3 - t0)
        label = "cold" if i == 0 else "warm"
        print(f"report {i + 1} ({label}, in this process): {t3 - t0:.3f} s = load {t1 - t0:.3f} + plots {t2 - t1:.3f} "
              f"({len(plots)} PNGs) + page {t3 - t2:.3f} ({len(page) / 1024:.0f} KiB)")
    # the public entry point, for completeness (same work as above, plots in two processes)
    t0 = time.perf_counter()
    write_run_report(res.directory)
    one = time.perf_counter() - t0
    print(f"imports (reports, matplotlib, jinja2): {t_import:.3f} s, paid once per process")
    print(f"warm: write_run_report {one:.3f} s; median of {args.repeat} builds {statistics.median(totals):.3f} s; "
          f"first build incl. imports {t_import + totals[0]:.3f} s")
    from reports.plots import default_jobs

    print(f"plots here would be drawn in {default_jobs()} process(es) (2 unless the machine is oversubscribed)")
    for jobs in ("2", "1"):
        walls, cpus = fresh_process(res.directory, args.fresh, jobs)
        label = "REPORT_JOBS=2, plots in 2 processes" if jobs == "2" else "REPORT_JOBS=1, one process"
        print(f"fresh process ({label}): median {statistics.median(walls):.3f} s wall "
              f"(min {min(walls):.3f}, max {max(walls):.3f}, {len(walls)} runs), "
              f"median {statistics.median(cpus):.3f} s CPU; target < 1 s")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    if args.keep:
        print(f"kept: {res.directory}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def fresh_process(run_dir: Path, n: int, jobs: str) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``harness report run_dir`` in a new process, ``n`` times."""
    exe = Path(sys.executable).with_name("harness")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from harness.cli import main; "
                                                                  "sys.exit(main(sys.argv[1:]))"]
    env = dict(os.environ)
    env["REPORT_JOBS"] = jobs
    walls, cpus = [], []
    for _ in range(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd + ["report", str(run_dir)], check=True, env=env, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


if __name__ == "__main__":
    main()
