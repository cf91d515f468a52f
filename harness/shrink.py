"""Shrinking: turn a failing run into a smaller run that fails the same way.

``harness shrink RUN_DIR [--budget SECONDS] [--store DIR]``. The failure to keep is the
run's *signature*: the set of (checker, anomaly kind) that failed in results.json
(checkers marked ``counts: false`` do not decide a run and are ignored). A candidate is
kept only if its signature still contains every pair of the original one.

Passes, repeated until a round changes nothing or the budget is spent:

1. ddmin (Zeller's delta debugging) over the fault schedule's episodes: a fault's start
   and its end share an ``episode`` and go together, so no candidate kills a node it never
   restarts. The empty schedule is tried first: some bugs need no faults.
2. fewer clients, 3. a lower rate (so fewer operations), 4. a shorter time limit (episodes
   that would start after it are dropped, and ends are clamped to it as the generator
   clamps them); each by bisection towards its smallest value.

Every candidate is a run with an explicit ``schedule`` in its config, re-run
deterministically with ``run_test``; so is the result, written as a normal run directory
(``RUN_DIR.shrunk``, or ``STORE/runs/NAME.shrunk`` with ``--store``) that ``harness repro``
reproduces, with ``shrink.json`` beside it saying what was reduced.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from harness.config import SECOND, ConfigError, RunConfig

T = TypeVar("T")

#: default seconds of wall clock for shrinking: a toy run is milliseconds, a 60 s ZAB run
#: about a second, so this allows a few hundred candidates
DEFAULT_BUDGET_S = 300.0

Signature = frozenset  # of (checker name, anomaly kind or None)


# ----------------------------------------------------------------------------- signatures

def _kinds(result: dict) -> list[str | None]:
    for key in ("anomaly", "kind"):
        v = result.get(key)
        if isinstance(v, str):
            return [v]
    for key in ("anomaly_types", "anomaly-types", "anomalies", "violations"):
        v = result.get(key)
        if isinstance(v, dict) and v:
            return sorted(str(k) for k in v)
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            return sorted(set(v))
    return [None]


def failure_signature(results: dict) -> Signature:
    """The (checker, anomaly kind) pairs that failed in a results.json dict."""
    sig = set()
    for name, c in results.get("checkers", {}).items():
        if c.get("valid") is False and c.get("counts", True) is not False:
            sig.update((name, kind) for kind in _kinds(c))
    return frozenset(sig)


def anomaly_names(sig: Signature) -> list[str]:
    """``checker`` or ``checker:kind`` for each pair, sorted."""
    return sorted(c if k is None else f"{c}:{k}" for c, k in sig)


# ----------------------------------------------------------------------------- reductions

class OutOfBudget(Exception):
    pass


def ddmin(items: Sequence[T], test: Callable[[list[T]], bool]) -> list[T]:
    """A 1-minimal subsequence of ``items`` for which ``test`` holds (``test(items)`` must)."""
    items = list(items)
    if items and test([]):
        return []
    n = 2
    while len(items) >= 2:
        chunks = [items[len(items) * k // n: len(items) * (k + 1) // n] for k in range(n)]
        for chunk in chunks:
            if test(chunk):
                items, n = chunk, 2
                break
        else:
            for k in range(n):
                rest = [x for j, c in enumerate(chunks) if j != k for x in c]
                if test(rest):
                    items, n = rest, max(n - 1, 2)
                    break
            else:
                if n >= len(items):
                    break
                n = min(2 * n, len(items))
    return items


def shrink_int(value: int, lowest: int, test: Callable[[int], bool]) -> int:
    """The smallest value found by bisection in [lowest, value] for which ``test`` holds
    (``test(value)`` must); exact when ``test`` is monotone, a good guess otherwise."""
    if value <= lowest:
        return value
    if test(lowest):
        return lowest
    lo, hi = lowest, value
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if test(mid):
            hi = mid
        else:
            lo = mid
    return hi


def episodes_of(schedule: list[dict]) -> list[int]:
    return sorted({int(f["episode"]) for f in schedule})


def trim_schedule(schedule: list[dict], time_limit: float) -> list[dict]:
    """The schedule for a shorter main phase: episodes starting after it dropped, the rest
    ended by its end (heal_all would end them anyway; this keeps the schedule honest)."""
    limit = int(time_limit * SECOND)
    starts: dict[int, int] = {}
    for f in schedule:
        starts[f["episode"]] = min(starts.get(f["episode"], f["at"]), f["at"])
    return [{**f, "at": min(f["at"], limit - 1)} for f in schedule if starts[f["episode"]] < limit]


# ----------------------------------------------------------------------------- shrinker

class Shrinker:
    """Holds the smallest failing run found so far and tries candidates against it."""

    def __init__(self, config: RunConfig, target: Signature, budget_s: float,
                 log: Callable[[str], None] = lambda s: None):
        from harness.runner import run_test

        self._run_test = run_test
        self.target = target
        self.deadline = time.monotonic() + budget_s
        self.log = log
        self.tried: dict[str, bool] = {}
        self.candidates = 0
        self.best = None
        self.out_of_budget = False
        if not self.test(config):
            raise ConfigError("the run does not fail the same way when re-run with this code "
                              f"(wanted {', '.join(anomaly_names(target))})")
        self.first = self.best

    @property
    def config(self) -> RunConfig:
        return self.best.config

    def test(self, config: RunConfig) -> bool:
        """Run ``config``; if it fails with the target signature, it becomes the best."""
        key = json.dumps(config.to_dict(), sort_keys=True)
        # Only outcomes are cached, not runs (a history can be megabytes): a success seen
        # before is run again unless it is the best already.
        if key in self.tried and not (self.tried[key] and config != self.best.config):
            return self.tried[key]
        if self.best is not None and time.monotonic() > self.deadline:
            raise OutOfBudget
        res = self._run_test(config)
        self.candidates += 1
        ok = self.target <= failure_signature(res.results)
        self.tried[key] = ok
        if ok:
            self.best = res
        return ok

    def shrink(self) -> Any:
        """Run the passes until nothing changes or the budget is spent; the best RunResult."""
        passes = (self.shrink_episodes, self.shrink_clients, self.shrink_rate, self.shrink_time_limit)
        try:
            while True:
                before = self.config
                for p in passes:
                    p()
                if self.config == before:
                    break
        except OutOfBudget:
            self.out_of_budget = True
            self.log("budget spent; keeping the smallest failing run so far")
        return self.best

    def shrink_episodes(self) -> None:
        cfg = self.config
        schedule = cfg.schedule or []

        def with_episodes(keep: list[int]) -> RunConfig:
            ks = set(keep)
            return cfg.replace(schedule=[f for f in schedule if f["episode"] in ks])

        keep = ddmin(episodes_of(schedule), lambda eps: self.test(with_episodes(eps)))
        self.test(with_episodes(keep))  # the best already, unless a pass found it earlier
        self._log_change("episodes", len(episodes_of(schedule)), len(keep))

    def shrink_clients(self) -> None:
        cfg = self.config
        n = shrink_int(cfg.clients, 1, lambda c: self.test(cfg.replace(clients=c)))
        self.test(cfg.replace(clients=n))
        self._log_change("clients", cfg.clients, n)

    def shrink_rate(self) -> None:
        cfg = self.config
        top = math.ceil(cfg.rate)
        r = shrink_int(top, 1, lambda r: self.test(cfg.replace(rate=float(r)) if r < top else cfg))
        best = cfg.replace(rate=float(r)) if r < top else cfg
        self.test(best)
        self._log_change("rate", cfg.rate, best.rate)

    def shrink_time_limit(self) -> None:
        cfg = self.config
        top = math.ceil(cfg.time_limit)

        def at(t: int) -> RunConfig:
            if t >= top:
                return cfg
            return cfg.replace(time_limit=float(t), schedule=trim_schedule(cfg.schedule or [], t))

        t = shrink_int(top, 1, lambda t: self.test(at(t)))
        self.test(at(t))
        self._log_change("time limit", cfg.time_limit, at(t).time_limit)

    def _log_change(self, what: str, before: float, after: float) -> None:
        if after != before:
            self.log(f"{what}: {before:g} -> {after:g} ({self.candidates} runs so far)")


def sizes(res: Any) -> dict[str, Any]:
    schedule = [f.to_json() for f in res.out.schedule]
    return {"faults": len(schedule), "episodes": len(episodes_of(schedule)), "clients": res.config.clients,
            "operations": res.results["stats"]["operations"], "time limit": res.config.time_limit}


def shrink_run(run_dir: Path, budget_s: float = DEFAULT_BUDGET_S, out_dir: Path | None = None,
               log: Callable[[str], None] = lambda s: None) -> tuple[Path, Shrinker]:
    """Shrink the failing run in ``run_dir``; write the result; (its directory, the shrinker)."""
    from harness.store import load_config, load_results, write_run

    run_dir = Path(run_dir)
    config = load_config(run_dir)
    try:
        results = load_results(run_dir)
        schedule = json.loads((run_dir / "schedule.json").read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{run_dir}: incomplete run directory ({e})") from None
    target = failure_signature(results)
    if not target:
        raise ConfigError(f"{run_dir} did not fail (verdict {results.get('valid')}): nothing to shrink")
    config = config.replace(schedule=schedule)
    shrinker = Shrinker(config, target, budget_s, log)
    best = shrinker.shrink()
    out_dir = Path(out_dir) if out_dir is not None else run_dir.with_name(run_dir.name + ".shrunk")
    write_run(best.out, best.results, directory=out_dir)
    (out_dir / "shrink.json").write_text(json.dumps({
        "from": str(run_dir), "signature": anomaly_names(target), "candidates": shrinker.candidates,
        "out_of_budget": shrinker.out_of_budget, "before": sizes(shrinker.first), "after": sizes(best),
    }, indent=1) + "\n")
    return out_dir, shrinker


# ----------------------------------------------------------------------------- CLI

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="a failing run directory")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                   help="wall-clock seconds to spend (default %(default)s)")
    p.add_argument("--store", type=Path, default=None,
                   help="write the result to STORE/runs/NAME.shrunk (default: RUN_DIR.shrunk beside the run)")


def run(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    if not args.budget > 0:
        raise ConfigError(f"--budget must be positive, not {args.budget}")
    run_dir = Path(args.run_dir)
    out_dir = None
    if args.store is not None:
        out_dir = Path(args.store) / "runs" / (run_dir.resolve().name + ".shrunk")
    t0 = time.monotonic()
    out, sh = shrink_run(run_dir, args.budget, out_dir, log=lambda s: print(s, file=sys.stderr))
    before, after = sizes(sh.first), sizes(sh.best)
    print(f"shrunk {run_dir}: fails with {', '.join(anomaly_names(sh.target))}; "
          f"{sh.candidates} runs in {time.monotonic() - t0:.1f} s"
          + (" (budget spent)" if sh.out_of_budget else ""))
    print(tabulate([[k, before[k], after[k]] for k in before], headers=["", "before", "after"], tablefmt="simple"))
    print(f"results: {out}")
    print(f"repro:   harness repro {out}")
    return 0
