"""Shrink the first failing run of every planted bug and print how small it got.

    python bench/shrink.py                          # every bug of bench/bugs.py's table
    python bench/shrink.py zab-epoch-before-log --budget 60 --jobs 2
    python bench/shrink.py --store store/bug-hunts --redo
    python bench/shrink.py --from search --store store/search-first   # the search's failures

For each bug: the first failing run of its hunt (``bench/bugs.py``'s campaign in
``STORE/campaigns/hunt-BUG``; hunted here, without shrinking, if it is not there yet),
or, with ``--from search``, the first failure of ``bench/search.py``'s campaign seed
``--campaign-seed`` (the default random campaign, no per-bug settings; the guided one where
random finds none in 300 runs), which is what a user without a hunt table shrinks;
shrunk by ``harness shrink``'s Python API with ``--budget`` seconds and ``--jobs``
worker processes, keeping what caught the bug (the checker and first kind its hunt
names, as bench/bugs.py keeps). The shrunk run is then re-run from its config and its
history compared byte for byte with the one written (what ``harness repro`` does).

Prints, per bug: faults before -> after, operations before -> after, clients and time
limit before -> after, shrink seconds (wall, this shared machine; ``(budget)`` when
the budget ran out), the CPU seconds the shrink and its workers used (the steadier
number on a shared machine: on an idle one with ``--jobs`` cores the wall time is about
CPU / jobs), the load average at the end, candidate runs, whether the shrunk run
reproduces; and at the end how many ended with at most ``--max-faults`` faults (issue
15: 3), how many within the budget, and the median operation count of the shrunk runs
(issue 15: under 200).

Rows are kept in ``STORE/shrink-bench.json`` (``--redo`` shrinks again).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import bugs  # noqa: E402  (bench/bugs.py: the hunts)
from tabulate import tabulate  # noqa: E402

from harness.parentdeath import ProcessPool  # noqa: E402


def first_failure(bug: str, store: Path, runs: int, jobs: int) -> Path | None:
    """The first failing run of ``bug``'s hunt (hunting it now if need be)."""
    h = bugs.HUNTS[bug]
    r = bugs.hunt(bug, h, store, runs, 1, jobs, 300.0, log=lambda s: print(s, file=sys.stderr, flush=True))
    return Path(r["run_dir"]) if r.get("found") is not None else None


def search_failure(bug: str, store: Path, runs: int, jobs: int, seed: int) -> tuple[Path | None, str]:
    """The first failing run of ``bench/search.py``'s campaign seed ``seed`` for ``bug``
    (the default random campaign's; the guided one's if random found none within
    ``runs``), written to ``STORE/search-first/BUG`` once; (its directory, where it came
    from)."""
    import search  # bench/search.py

    from harness.config import RunConfig
    from harness.runner import run_test

    out = store / "search-first" / bug
    source = out / "source.txt"
    if (out / "results.json").exists() and source.exists():
        return out, source.read_text().strip()
    with ProcessPool(jobs) as pool:
        for mode in ("random", "guided"):
            n, cfg = search.first_failure(pool, bug, seed, runs, mode == "guided", 30.0, 120.0)
            if cfg is not None:
                break
    if cfg is None:
        return None, f"none in {runs} runs"
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    assert isinstance(cfg, RunConfig)
    res = run_test(cfg, directory=out)
    if res.valid is not False:  # a run is a function of its config: this cannot happen
        raise RuntimeError(f"{bug}: the search's failing run {n} was valid when written")
    what = f"{mode} campaign seed {seed}, run {n} ({cfg.workload})"
    source.write_text(what + "\n")
    return out, what


def _shrink(run_dir: str, budget_s: float, jobs: int, run_limit_s: float, expect) -> dict:
    """In a child process (bounded memory): shrink, then re-run the result and compare."""
    import resource

    from checkers.result import anomaly_names, failure_signature
    from harness.runner import history_bytes, simulate
    from harness.shrink import shrink_run, sizes
    from harness.store import load_config

    resource.setrlimit(resource.RLIMIT_AS, (bugs.MEMORY_LIMIT, bugs.MEMORY_LIMIT))
    results = json.loads((Path(run_dir) / "results.json").read_text())
    keep = None
    hit = bugs.matches(expect, bugs.kinds_of(results))
    if hit is not None:
        sig = failure_signature(results)
        wanted = next(w for c, w in expect if c == hit[0])
        first = hit[1].split(",")[0] if wanted else None
        keep = {p for p in sig if p[0] == hit[0] and (first is None or p[1] in (first, None))} or None
    out_dir = Path(run_dir + ".shrunk")
    if out_dir.exists():
        shutil.rmtree(out_dir)  # no resuming from an earlier shrink's checkpoint: measured afresh
    t0, cpu0 = time.perf_counter(), _cpu()
    out, sh = shrink_run(Path(run_dir), budget_s, out_dir, jobs=jobs, run_limit_s=run_limit_s, keep=keep)
    seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0
    before, after = sizes(sh.first), sizes(sh.best)
    same = history_bytes(simulate(load_config(out)).history) == (out / "history.jsonl").read_bytes()
    return {"kept": anomaly_names(sh.target), "before": before, "after": after, "seconds": round(seconds, 1),
            "cpu_s": round(cpu, 1), "load": round(os.getloadavg()[0], 1),
            "out_of_budget": sh.out_of_budget, "candidates": sh.candidates, "repro": same, "shrunk_dir": str(out),
            "passes": sh.passes}


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the shrink's workers)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def shrink_one(run_dir: Path, budget_s: float, jobs: int, run_limit_s: float, expect) -> dict:
    with ProcessPool(1) as ex:  # dies with this script, even on SIGKILL
        fut = ex.submit(_shrink, str(run_dir), budget_s, jobs, run_limit_s, expect)
        try:
            return fut.result(timeout=budget_s + 4 * run_limit_s + 120)
        except Exception as e:
            return {"error": f"{type(e).__name__}: {str(e)[:160]}"}


def row(bug: str, r: dict) -> list:
    if "error" in r or "before" not in r:
        return [bug, r.get("error", "no failing run"), "-", "-", "-", "-", "-", "-", "-", "-"]
    b, a = r["before"], r["after"]
    return [bug, f"{b['faults']} -> {a['faults']}", f"{b['operations']} -> {a['operations']}",
            f"{b['clients']} -> {a['clients']}", f"{b['time limit']:g} -> {a['time limit']:g}",
            f"{r['seconds']:.0f}" + (" (budget)" if r["out_of_budget"] else ""), f"{r['cpu_s']:.0f}",
            f"{r['load']:.0f}", r["candidates"],
            "identical" if r["repro"] else "DIFFERENT"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bugs", nargs="*", help="bugs (default: every bug of bench/bugs.py's table)")
    ap.add_argument("--store", type=Path, default=Path("store/bug-hunts"), help="hunt store (default %(default)s)")
    ap.add_argument("--budget", type=float, default=60.0, help="shrink budget, seconds (default %(default)s)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes of a shrink (default %(default)s)")
    ap.add_argument("--runs", type=int, default=200,
                    help="hunt seeds at most, if a hunt is needed (default %(default)s)")
    ap.add_argument("--run-timeout", type=float, default=60.0,
                    help="wall-clock seconds one candidate run may take (default %(default)s)")
    ap.add_argument("--max-faults", type=int, default=3, help="the goal, faults at most (default %(default)s)")
    ap.add_argument("--redo", action="store_true", help="shrink again even if shrink-bench.json has a row")
    ap.add_argument("--from", dest="source", choices=("hunt", "search"), default="hunt",
                    help="the failing run to shrink: the first of bench/bugs.py's hunt (default), or of "
                         "bench/search.py's default random campaign (guided if random finds none), "
                         "with no per-bug settings")
    ap.add_argument("--campaign-seed", type=int, default=1, help="with --from search (default %(default)s)")
    a = ap.parse_args(argv)
    unknown = [b for b in a.bugs if b not in bugs.HUNTS]
    if unknown:
        print(f"unknown bug(s): {', '.join(unknown)}; known: {', '.join(bugs.HUNTS)}", file=sys.stderr)
        return 254
    store: Path = a.store
    store.mkdir(parents=True, exist_ok=True)
    table_path = store / ("shrink-bench.json" if a.source == "hunt" else f"shrink-bench-search-{a.campaign_seed}.json")
    table = json.loads(table_path.read_text()) if table_path.exists() else {}
    names = a.bugs or list(bugs.HUNTS)
    for bug in names:
        if bug in table and not a.redo and table[bug].get("budget") == a.budget:
            continue
        if a.source == "hunt":
            run_dir, source = first_failure(bug, store, a.runs, a.jobs), "hunt"
        else:
            run_dir, source = search_failure(bug, store, 300, a.jobs, a.campaign_seed)
        if run_dir is None:
            r: dict = {"error": f"no failing run in {a.runs} seeds" if a.source == "hunt" else source}
        else:
            print(f"shrinking {bug}: {run_dir}", file=sys.stderr, flush=True)
            r = shrink_one(run_dir, a.budget, a.jobs, a.run_timeout, bugs.HUNTS[bug].expect)
            r["run_dir"] = str(run_dir)
            r["source"] = source
        r["budget"] = a.budget
        table[bug] = r
        table_path.write_text(json.dumps(table, indent=1) + "\n")
        print(tabulate([row(bug, r)], tablefmt="plain"), file=sys.stderr, flush=True)
    done = [(b, table[b]) for b in names if b in table]
    print(tabulate([row(b, r) for b, r in done],
                   headers=["bug", "faults", "operations", "clients", "time limit", "shrink s", "CPU s", "load",
                            "runs", "repro"],
                   tablefmt="github"))
    ok = [r for _, r in done if "after" in r]
    small = sum(1 for r in ok if r["after"]["faults"] <= a.max_faults)
    within = sum(1 for r in ok if r["after"]["faults"] <= a.max_faults and r["seconds"] <= a.budget + 5)
    ops = [r["after"]["operations"] for r in ok]
    print(f"\nshrunk to at most {a.max_faults} faults: {small} of {len(done)} "
          f"({within} within the {a.budget:g} s budget)")
    if ops:
        print(f"median shrunk operations: {statistics.median(ops):g} (before: "
              f"{statistics.median(r['before']['operations'] for r in ok):g}); "
              f"median shrink time {statistics.median(r['seconds'] for r in ok):.0f} s")
    print(f"reproduced identically: {sum(1 for r in ok if r['repro'])} of {len(ok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
