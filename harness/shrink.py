"""Shrinking: turn a failing run into a smaller run that fails the same way.

``harness shrink RUN_DIR [--budget SECONDS] [--jobs N] [--keep CHECKER[:KIND]] [--store DIR]``.
The failure to keep is the run's *signature*: the set of (checker, anomaly kind) that
failed in results.json (``checkers.result.failure_signature``: results that do not decide
a run are ignored). A candidate is kept only if its signature still contains every pair of the
original one, or, with ``--keep``, the pairs named (say the one a planted bug is known by).

Each candidate is a run with an explicit ``schedule`` in its config, re-run
deterministically with ``run_test``. A run's cost dominates, so the passes go from cheap
big cuts to fine ones. A fault can change everything after it (which server leads, which
write is in flight), so a failure is often lost by removing an early fault and rarely by
removing a late one: cutting the end comes first.

1. a shorter time limit (the main phase): the first guesses are just after the time the
   anomaly first shows (the checkers name the operation, or, for the quorum checker, the
   shortest prefix of the trace shows it), then a search; episodes that would start after
   the limit are dropped, and ends after it are left to the final heal. This alone
   usually removes most faults, and it makes every later candidate cheaper.

Then, in rounds:

2. inert episodes: one candidate without the episodes that did nothing in the best run
   (by its fault log: a kill of a node already down, a crash point never reached...);
3. the earliest episodes (a search for the fewest last ones that still fail);
4. whole fault families (only one family, or all but one);
5. ddmin (Zeller's delta debugging) over the fault schedule's episodes: a fault's start
   and its end share an ``episode`` and go together, so no candidate restarts a node it
   never killed. The empty schedule is tried first: some bugs need no faults.
6. episode ends: an episode whose end is not needed lasts until the final heal (the main
   phase ends by healing everything, so the start alone is a complete fault);
7. fewer clients, 8. a lower rate (so fewer operations), 9. the time limit again;
10. once a round changes nothing: each episode alone, then each pair (at most
    ``SUBSETS`` candidates), since a schedule ddmin cannot cut may hold a smaller one;
11. still stuck above 3 faults: the rounds again, each candidate also tried with 3, then
    10, then 30 other run seeds (in a fixed order). The schedule is explicit in the
    config, so the seed only moves latencies and the clients' choices; removing a fault
    changes everything after it anyway, and a smaller schedule that fails with another
    seed is a smaller failing run. (Measured: zab-newleader-ack-before-durable 10 -> 4
    faults, kafka-unclean-election 6 -> 2, kafka-no-epoch-fencing 19 -> 9.)

Rounds repeat until one changes nothing or the budget is spent. With ``--jobs``
above 1 a round's candidates run in a process pool, yet the candidate kept is always the
one sequential evaluation would keep (the first in the pass's order that fails the same
way, not whichever finishes first), so the result does not depend on timing; only how far
a spent budget got does. The budget is wall clock of the shrinker (never inside a run):
a candidate still running when it is spent is stopped and does not count.

The result is written as a normal run directory (``RUN_DIR.shrunk``, or
``STORE/runs/NAME.shrunk`` with ``--store``) that ``harness repro`` reproduces, with
``shrink.json`` beside it saying what was reduced.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import itertools
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

from checkers.result import Signature, anomaly_names, checker_results, failure_signature
from harness.config import SECOND, ConfigError, RunConfig
from harness.faults import fault_family
from harness.rng import derive_seed

T = TypeVar("T")

#: default seconds of wall clock for shrinking: a toy run is milliseconds, a 60 s ZAB run
#: about a second, so this allows a few hundred candidates
DEFAULT_BUDGET_S = 300.0

#: longest budget (a week) and most worker processes: past them the number is a mistake
MAX_BUDGET_S = 7 * 86_400.0
MAX_JOBS = 64

#: at most this many small subsets of the episodes are tried once the passes are stuck
SUBSETS = 200


# ----------------------------------------------------------------------------- reductions

#: once the passes stall above this many faults, candidates are also tried with other seeds
RESEED_ABOVE_FAULTS = 3
#: how many other seeds, each time the passes stall again
RESEEDS = (3, 10, 30)


class OutOfBudget(Exception):
    pass


#: ``first(candidates)``: the index of the first candidate, in order, that still fails
#: the same way, or None. A batch oracle lets a pass evaluate candidates in parallel and
#: still choose exactly as sequential evaluation would.
First = Callable[[list], "int | None"]


def _sequential(test: Callable[[Any], bool]) -> First:
    return lambda cands: next((i for i, c in enumerate(cands) if test(c)), None)


def ddmin(items: Sequence[T], test: Callable[[list[T]], bool] | None = None, *,
          first: First | None = None) -> list[T]:
    """A 1-minimal subsequence of ``items`` for which ``test`` holds (``test(items)`` must).

    Instead of ``test``, ``first`` may judge a round's candidates together (subsets first,
    then complements, as Zeller's ddmin tries them one by one)."""
    if first is None:
        assert test is not None
        first = _sequential(test)
    items = list(items)
    if not items:
        return items
    if first([[]]) == 0:
        return []
    n = 2
    while len(items) >= 2:
        chunks = [items[len(items) * k // n: len(items) * (k + 1) // n] for k in range(n)]
        cands = list(chunks)
        if n > 2:  # with two chunks the complements are the chunks
            cands += [[x for j, c in enumerate(chunks) if j != k for x in c] for k in range(n)]
        i = first(cands)
        if i is not None:
            items, n = cands[i], (2 if i < n else max(n - 1, 2))
            continue
        if n >= len(items):
            break
        n = min(2 * n, len(items))
    return items


def shrink_int(value: int, lowest: int, test: Callable[[int], bool] | None = None, *,
               first: First | None = None, width: int = 1, hints: Iterable[int] = ()) -> int:
    """The smallest value found by search in [lowest, value] for which ``test`` holds
    (``test(value)`` must); exact when ``test`` is monotone, a good guess otherwise.

    Bisection; with ``first`` and ``width`` k, each round probes k values at once (a
    (k+1)-ary search). ``hints`` are guesses tried in the first round, beside ``lowest``."""
    if first is None:
        assert test is not None
        first = _sequential(test)
    if value <= lowest:
        return value
    lo, hi = lowest - 1, value  # lo fails (or is below the range), hi holds
    probes = sorted({lowest, *(h for h in hints if lowest < h < value)})
    while True:
        if len(probes) < width:
            a = max(probes, default=lo)
            probes += [a + (hi - a) * k // (width - len(probes) + 1) for k in range(1, width - len(probes) + 1)]
            probes = sorted({p for p in probes if lo < p < hi})
        if not probes:
            return hi
        i = first(probes)
        if i is None:
            lo = probes[-1]
        else:
            hi = probes[i]
            lo = probes[i - 1] if i > 0 else lo
        probes = []


def episodes_of(schedule: list[dict]) -> list[int]:
    return sorted({int(f["episode"]) for f in schedule})


def _starts(schedule: list[dict]) -> dict[int, dict]:
    """episode -> its first fault (the start)."""
    out: dict[int, dict] = {}
    for f in sorted(schedule, key=lambda f: (f["at"], f["episode"])):
        out.setdefault(f["episode"], f)
    return out


def _family(start: dict) -> str:
    """The fault family of an episode's start (a schedule entry), by the registry."""
    return fault_family(start) or "other"


def trim_schedule(schedule: list[dict], time_limit: float) -> list[dict]:
    """The schedule for a shorter main phase: episodes starting after it dropped, and ends
    at or after it dropped too (the final heal at the end of the main phase ends them)."""
    limit = int(time_limit * SECOND)
    starts = _starts(schedule)
    return [f for f in schedule if starts[f["episode"]]["at"] < limit and f["at"] < limit]


def inert_episodes(faults: list[dict]) -> list[int]:
    """Episodes that did nothing in a run, by its fault log: a kill, pause or restart of a
    node already so, a crash point or power cut armed and never reached. Removing them
    should not change the run (a "leader" target drawn when there was none aside)."""
    effect: dict[int, bool] = {}
    for f in faults:
        if "episode" not in f:
            continue
        k = f["kind"]
        if k == "power-off":
            did = bool(f.get("nodes"))  # an armed trigger logs "node"; a cut logs "nodes"
        elif k in ("power-on", "crash-at"):
            did = False  # what they did shows as the restarts they log, or the power-cut
        elif "changed" in f:
            did = bool(f["changed"])
        else:
            did = True  # partitions, heals, clocks, power cuts
        effect[f["episode"]] = effect.get(f["episode"], False) or did
    return sorted(e for e, did in effect.items() if not did)


# ----------------------------------------------------------------------------- when it shows

def anomaly_time(res: Any, target: Signature) -> float | None:
    """A guess at the seconds into the run by which the target anomalies have all shown:
    from the operations the checkers name (history indices), or, for the quorum checker's
    trace properties, the shortest prefix of the trace that shows them. None if no checker
    says (liveness and convergence are judged at the end)."""
    out, checks = res.out, checker_results(res.results)
    if out is None:
        return None
    when = {e["index"]: e["time"] for e in out.history}
    times = []
    trace_kinds = set()
    for checker, kind in target:
        c = checks.get(checker)
        if c is None:
            continue
        if checker == "quorum" and kind != "I9-acked-write-durability":
            trace_kinds.add(kind)
            continue
        # the kind's records; for a failure without kinds (linearizability, liveness) the
        # operations its details name
        recs = list(c.anomalies[kind]) if kind in c.anomalies else [dict(c.details)]
        ts = [t for t in (_record_time(r, when) for r in recs) if t is not None]
        if ts:
            times.append(min(ts))
    if trace_kinds:
        t = _trace_time(out, trace_kinds)
        if t is not None:
            times.append(t)
    return max(times) / SECOND if times else None


def _record_time(rec: Any, when: dict[int, int]) -> int | None:
    """The latest time a checker's record points at: history indices, or times in ns."""
    found: list[int] = []

    def walk(x: Any, key: str = "") -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, k)
        elif isinstance(x, list) and key not in ("prefix", "pending", "unfinished"):
            for v in x:
                walk(v, key)
        elif isinstance(x, int) and not isinstance(x, bool):
            if key in ("index", "complete_index", "indices") and x in when:
                found.append(when[x])
            elif key in ("time", "from", "to"):
                found.append(x)

    walk(rec)
    return max(found) if found else None


def _trace_time(out: Any, kinds: set[str]) -> int | None:
    """The time of the last event of the shortest trace prefix on which the quorum
    checker already finds every kind of ``kinds`` (bisection: a guess, not a proof)."""
    from checkers.quorum import check_quorum
    from harness.checks import _epoch_shift
    from harness.runner import servers_for

    trace, servers, shift = out.trace, servers_for(out.config), _epoch_shift(out)

    def shows(k: int) -> bool:
        return kinds <= set(check_quorum(trace[:k], servers, None, shift).kinds)

    if not trace or not shows(len(trace)):
        return None
    lo, hi = 0, len(trace)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if shows(mid):
            hi = mid
        else:
            lo = mid
    return int(trace[hi - 1]["time"])


# ----------------------------------------------------------------------------- one candidate

class _Stop(BaseException):
    """Raised by the alarm inside a candidate run: past the budget (or the run limit).
    A BaseException, so no ``except Exception`` in a system or checker swallows it."""


def _alarm(signum, frame):  # pragma: no cover - only when a run outlasts the budget
    raise _Stop


def attempt(config: RunConfig, target: Signature, deadline: float | None,
            run_limit_s: float | None) -> tuple[str, Any]:
    """Run ``config`` (in a worker process, or in this one). ("same", RunResult) if it
    fails with every pair of ``target``; ("other", None) if not; ("stopped", None) if it
    ran past ``deadline`` (time.monotonic) or ``run_limit_s`` and was stopped."""
    from harness import runner

    limit = run_limit_s
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            return "stopped", None
        limit = left if limit is None else min(limit, left)
    armed = limit is not None and threading.current_thread() is threading.main_thread()
    old = None
    if armed:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, max(limit, 1e-3))
    try:
        res = runner.run_test(config)
    except _Stop:
        return "stopped", None
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    if res.out is not None and target <= failure_signature(res.results):
        return "same", res
    return "other", None


def _key(config: RunConfig) -> str:
    return json.dumps(config.to_dict(), sort_keys=True)


# ----------------------------------------------------------------------------- shrinker

class Shrinker:
    """Holds the smallest failing run found so far and tries candidates against it."""

    def __init__(self, config: RunConfig, target: Signature, budget_s: float,
                 log: Callable[[str], None] = lambda s: None, jobs: int = 1,
                 run_limit_s: float | None = None):
        self.target = target
        self.t0 = time.monotonic()
        self.deadline = self.t0 + budget_s
        self.log = log
        self.jobs = max(1, int(jobs))
        self.run_limit_s = run_limit_s
        self.tried: dict[str, bool] = {}
        self.candidates = 0
        self.out_of_budget = False
        #: Ctrl-C stopped the passes (the best run so far is still written)
        self.interrupted = False
        self.passes: list[str] = []
        self._pool: cf.ProcessPoolExecutor | None = None
        # other run seeds each candidate is also tried with (0 until the passes stall)
        self.reseeds = 0
        # The original run, re-run with this code: it must still fail the same way. It is
        # run to the end whatever the budget (the result is at worst the original run).
        status, res = attempt(config, target, None, run_limit_s)
        self.candidates += 1
        if status != "same":
            raise ConfigError("the run does not fail the same way when re-run with this code "
                              f"(wanted {', '.join(anomaly_names(target))})")
        self.best = self.first_run = res
        self.tried[_key(config)] = True

    @property
    def first(self) -> Any:
        return self.first_run

    @property
    def config(self) -> RunConfig:
        return self.best.config

    # -------------------------------------------------------------- evaluating candidates
    def _check_budget(self) -> None:
        if time.monotonic() >= self.deadline:
            raise OutOfBudget

    def _record(self, key: str, status: str) -> None:
        if status != "stopped":
            self.tried[key] = status == "same"
            self.candidates += 1

    def _variants(self, cfg: RunConfig) -> list[RunConfig]:
        """``cfg``, then (once the passes have stalled) the same run with ``reseeds`` other
        seeds: the schedule is explicit, so the seed only moves latencies and the clients'
        choices, and a smaller schedule that fails with another seed is a smaller failing run."""
        return [cfg] + [cfg.replace(seed=derive_seed(cfg.seed, "shrink-reseed", i)) for i in range(1, self.reseeds + 1)]

    def first_of(self, configs: list[RunConfig]) -> int | None:
        """The index of the first of ``configs`` (in order) that fails with the target,
        each tried with its seed variants in order; the failing variant becomes the best run."""
        if not self.reseeds:
            return self._first_of(configs)
        flat: list[RunConfig] = []
        owner: list[int] = []
        for i, c in enumerate(configs):
            for v in self._variants(c):
                flat.append(v)
                owner.append(i)
        j = self._first_of(flat)
        return None if j is None else owner[j]

    def _first_of(self, configs: list[RunConfig]) -> int | None:
        """The index of the first of ``configs`` (in order) that fails with the target; it
        becomes the best run. Up to ``jobs`` run at once; a later one that fails the same
        way is kept only once every earlier one has been seen not to."""
        self._check_budget()
        keys = [_key(c) for c in configs]
        best_key = _key(self.best.config)
        decided: dict[int, tuple[str, Any]] = {}
        for i, k in enumerate(keys):
            if k == best_key:
                decided[i] = ("same", self.best)
            elif self.tried.get(k) is False:
                decided[i] = ("other", None)
        if self.jobs == 1:
            for i, cfg in enumerate(configs):
                if i not in decided:
                    self._check_budget()
                    status, res = attempt(cfg, self.target, self.deadline, self.run_limit_s)
                    self._record(keys[i], status)
                    if status == "stopped":
                        raise OutOfBudget
                    decided[i] = (status, res)
                if decided[i][0] == "same":
                    self.best = decided[i][1]
                    return i
            return None
        if self._pool is None:
            from harness.parentdeath import ProcessPool

            self._pool = ProcessPool(self.jobs)  # its workers die with this process, even on SIGKILL
        pending: dict[cf.Future, int] = {}
        nxt = 0
        try:
            while True:
                # the first undecided index; accept the first "same" before it
                for i in range(len(configs)):
                    if i not in decided:
                        break
                    if decided[i][0] == "same":
                        self.best = decided[i][1]
                        return i
                else:
                    return None
                while len(pending) < self.jobs and nxt < len(configs):
                    if nxt not in decided and (nxt not in pending.values()):
                        fut = self._pool.submit(attempt, configs[nxt], self.target, self.deadline, self.run_limit_s)
                        pending[fut] = nxt
                    nxt += 1
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise OutOfBudget
                done, _ = cf.wait(pending, timeout=left, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    status, res = fut.result()
                    self._record(keys[i], status)
                    if status == "stopped":
                        raise OutOfBudget
                    decided[i] = (status, res)
        finally:
            for fut in pending:
                fut.cancel()  # a running one finishes by the deadline; its result is dropped

    def test(self, config: RunConfig) -> bool:
        """Run ``config``; if it fails with the target signature, it becomes the best."""
        return self.first_of([config]) == 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    # -------------------------------------------------------------- passes
    def shrink(self) -> Any:
        """Run the passes until nothing changes or the budget is spent; the best RunResult."""
        passes = (self.shrink_inert, self.shrink_prefix, self.shrink_families, self.shrink_episodes,
                  self.shrink_ends, self.shrink_clients, self.shrink_keys, self.shrink_rate,
                  self.shrink_time_limit)
        try:
            self.shrink_time_limit(hint=True)
            while True:
                before = self.config
                for p in passes:
                    p()
                if self.config == before:
                    self.shrink_subsets()
                    if self.config == before:
                        more = [n for n in RESEEDS if n > self.reseeds]
                        if not more or sizes(self.best)["faults"] <= RESEED_ABOVE_FAULTS:
                            break
                        # Stalled: every smaller schedule changes what follows it (which
                        # server leads, which write is in flight) and the failure with it.
                        # Try each candidate with other seeds as well, more each time.
                        self.reseeds = more[0]
                        self.log(f"stalled at {sizes(self.best)['faults']} faults; trying each candidate "
                                 f"with {self.reseeds} other seeds too")
        except OutOfBudget:
            self.out_of_budget = True
            self.log("budget spent; keeping the smallest failing run so far")
        except KeyboardInterrupt:
            self.interrupted = True
            self.log("interrupted; keeping the smallest failing run so far")
        finally:
            self.close()
        return self.best

    def shrink_time_limit(self, hint: bool = False) -> None:
        cfg = self.config
        top = math.ceil(cfg.time_limit)

        def at(t: int) -> RunConfig:
            if t >= top:
                return cfg
            return cfg.replace(time_limit=float(t), schedule=trim_schedule(cfg.schedule or [], t))

        hints: list[int] = []
        if hint:
            t = anomaly_time(self.best, self.target)
            if t is not None:
                hints = [math.ceil(t + 0.5), math.ceil(t) + 2]
                self.log(f"the anomaly shows by {t:.2f} s")
        t = shrink_int(top, 1, first=lambda ts: self.first_of([at(t) for t in ts]),
                       width=self.jobs, hints=hints)
        self._changed("time limit", cfg.time_limit, self.config.time_limit, cfg)

    def shrink_inert(self) -> None:
        """One candidate: without the episodes that did nothing in the best run."""
        cfg = self.config
        inert = set(inert_episodes(self.best.out.faults))
        eps = episodes_of(cfg.schedule or [])
        if inert & set(eps) and self.test(self._with_episodes(cfg, [e for e in eps if e not in inert])):
            self._changed("inert episodes dropped", len(eps), len(episodes_of(self.config.schedule or [])), cfg)

    def shrink_prefix(self) -> None:
        """Drop the earliest episodes: the fewest last ones that still fail (a search, as
        for the time limit, which drops the latest)."""
        cfg = self.config
        schedule = cfg.schedule or []
        starts = _starts(schedule)
        eps = sorted(starts, key=lambda e: (starts[e]["at"], e))

        def last(k: int) -> RunConfig:
            return cfg if k >= len(eps) else self._with_episodes(cfg, eps[len(eps) - k:])

        shrink_int(len(eps), 0, first=lambda ks: self.first_of([last(k) for k in ks]), width=self.jobs)
        self._changed("earliest episodes dropped", len(eps), len(episodes_of(self.config.schedule or [])), cfg)

    def shrink_families(self) -> None:
        while True:
            cfg = self.config
            schedule = cfg.schedule or []
            starts = _starts(schedule)
            fams = sorted({_family(f) for f in starts.values()})
            if len(fams) < 2:
                return
            only = [[e for e, f in starts.items() if _family(f) == fam] for fam in fams]
            without = [[e for e, f in starts.items() if _family(f) != fam] for fam in fams]
            cands = sorted(only, key=len) + sorted(without, key=len)
            i = self.first_of([self._with_episodes(cfg, eps) for eps in cands])
            if i is None:
                return
            self._changed("families", len(fams), len({_family(starts[e]) for e in cands[i]}), cfg)

    @staticmethod
    def _with_episodes(cfg: RunConfig, keep: Iterable[int]) -> RunConfig:
        ks = set(keep)
        return cfg.replace(schedule=[f for f in (cfg.schedule or []) if f["episode"] in ks])

    def shrink_episodes(self) -> None:
        cfg = self.config
        eps = episodes_of(cfg.schedule or [])
        keep = ddmin(eps, first=lambda cands: self.first_of([self._with_episodes(cfg, c) for c in cands]))
        self._changed("episodes", len(eps), len(keep), cfg)

    def shrink_subsets(self) -> None:
        """Every single episode alone, then every pair: a schedule 1-minimal for ddmin may
        still hold a smaller failing one, since a fault moves everything after it."""
        cfg = self.config
        eps = episodes_of(cfg.schedule or [])
        cands = [[e] for e in eps] + [list(p) for p in itertools.combinations(eps, 2)]
        cands = [c for c in cands if len(c) < len(eps)][:SUBSETS]
        i = self.first_of([self._with_episodes(cfg, c) for c in cands]) if cands else None
        if i is not None:
            self._changed("episodes (small subsets)", len(eps), len(cands[i]), cfg)

    def shrink_ends(self) -> None:
        """Leave an episode's end to the final heal, where its end is not needed."""
        cfg = self.config
        schedule = cfg.schedule or []
        starts = _starts(schedule)
        ends = [i for i, f in enumerate(schedule) if f is not starts[f["episode"]]]

        def without(keep: list[int]) -> RunConfig:
            ks = set(keep)
            return cfg.replace(schedule=[f for i, f in enumerate(schedule) if i not in ends or i in ks])

        keep = ddmin(ends, first=lambda cands: self.first_of([without(c) for c in cands]))
        self._changed("episode ends", len(ends), len(keep), cfg)

    def shrink_clients(self) -> None:
        cfg = self.config
        shrink_int(cfg.clients, 1, first=lambda cs: self.first_of([cfg.replace(clients=c) for c in cs]),
                   width=self.jobs)
        self._changed("clients", cfg.clients, self.config.clients, cfg)

    def shrink_keys(self) -> None:
        """Fewer keys (registers, queue keys): a history about one key reads fastest."""
        cfg = self.config
        shrink_int(cfg.keys, 1, first=lambda ks: self.first_of([cfg.replace(keys=k) for k in ks]),
                   width=self.jobs)
        self._changed("keys", cfg.keys, self.config.keys, cfg)

    def shrink_rate(self) -> None:
        cfg = self.config
        top = math.ceil(cfg.rate)
        shrink_int(top, 1, first=lambda rs: self.first_of([cfg.replace(rate=float(r)) for r in rs]),
                   width=self.jobs)
        self._changed("rate", cfg.rate, self.config.rate, cfg)

    def _changed(self, what: str, before: float, after: float, cfg: RunConfig) -> None:
        if self.config != cfg:
            msg = (f"{what}: {before:g} -> {after:g}; {len(self.config.schedule or [])} faults "
                   f"({self.candidates} runs, {time.monotonic() - self.t0:.1f} s)")
            self.passes.append(msg)
            self.log(msg)


def sizes(res: Any) -> dict[str, Any]:
    schedule = [f.to_json() for f in res.out.schedule]
    return {"faults": len(schedule), "episodes": len(episodes_of(schedule)), "clients": res.config.clients,
            "operations": res.results["stats"]["operations"], "time limit": res.config.time_limit}


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def shrink_run(run_dir: Path, budget_s: float = DEFAULT_BUDGET_S, out_dir: Path | None = None,
               log: Callable[[str], None] = lambda s: None, jobs: int | None = None,
               run_limit_s: float | None = None,
               keep: Iterable[tuple[str, str | None]] | None = None) -> tuple[Path, Shrinker]:
    """Shrink the failing run in ``run_dir``; write the result; (its directory, the shrinker).

    ``jobs`` worker processes (default: the machine's cores, at most 4); ``run_limit_s``
    bounds one candidate's wall clock (a message storm counts as not failing). ``keep``:
    the (checker, kind) pairs a candidate must show, each one the run shows; kind None
    means every kind of that checker the run shows (default: every pair the run shows)."""
    from harness.store import load_config, load_results, write_run

    t0 = time.monotonic()
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    try:
        results = load_results(run_dir)
        schedule = json.loads((run_dir / "schedule.json").read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{run_dir}: incomplete run directory ({e})") from None
    target = signature = failure_signature(results)
    if not target:
        raise ConfigError(f"{run_dir} did not fail (verdict {results.get('valid')}): nothing to shrink")
    if keep is not None:
        keep = list(keep)
        chosen = set()
        for c, k in keep:
            pairs = {p for p in target if p[0] == c and (k is None or p[1] == k)}
            if not pairs:
                raise ConfigError(f"--keep {anomaly_names(frozenset([(c, k)]))[0]}: the run fails with "
                                  f"{', '.join(anomaly_names(target))}")
            chosen |= pairs
        if not chosen:
            raise ConfigError("--keep: nothing to keep")
        target = frozenset(chosen)
    config = config.replace(schedule=schedule)
    out_dir = Path(out_dir) if out_dir is not None else run_dir.with_name(run_dir.name + ".shrunk")
    from harness.store import check_writable

    check_writable(out_dir.parent, "shrink output")  # before the work, not after it
    shrinker = Shrinker(config, target, budget_s - (time.monotonic() - t0), log,
                        jobs=default_jobs() if jobs is None else jobs, run_limit_s=run_limit_s)
    best = shrinker.shrink()
    try:
        write_run(best.out, best.results, directory=out_dir)
    except OSError as e:
        # the work is not thrown away: the shrunk config (explicit schedule) is the run
        raise ConfigError(f"cannot write the shrunk run to {out_dir} ({e.strerror or e}); its config, "
                          f"for a file given to `harness repro`'s config.json: "
                          f"{json.dumps(best.config.to_dict(), separators=(',', ':'))}") from None
    (out_dir / "shrink.json").write_text(json.dumps({
        "from": str(run_dir), "signature": anomaly_names(signature), "kept": anomaly_names(target),
        "candidates": shrinker.candidates,
        "jobs": shrinker.jobs, "seconds": round(time.monotonic() - t0, 1),
        "out_of_budget": shrinker.out_of_budget, "interrupted": shrinker.interrupted, "before": sizes(shrinker.first), "after": sizes(best),
        "passes": shrinker.passes,
    }, indent=1) + "\n")
    return out_dir, shrinker


# ----------------------------------------------------------------------------- CLI

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
    print(f"repro:   harness repro {out}")
    if sh.interrupted:
        print(f"harness: interrupted; the smallest failing run so far is in {out}", file=sys.stderr)
        return 130
    return 0
