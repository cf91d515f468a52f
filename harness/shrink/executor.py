"""The candidate executor: runs one candidate configuration (in a worker process or in
this one) within the shrinker's wall-clock budget, and judges a batch of candidates in
order, up to ``jobs`` at once, keeping exactly the one sequential evaluation would keep
(the first in order that fails the same way) so the result never depends on timing.

A candidate is a run with an explicit ``schedule`` in its config, re-run
deterministically with ``run_test``; it "fails the same way" when its failure signature
holds every (checker, kind) pair of the target. The passes that propose candidates are
in `harness.shrink.passes`.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, NoReturn

from checkers.result import Signature, anomaly_names, failure_signature
from harness.config import ConfigError, RunConfig
from harness.rng import derive_seed

if TYPE_CHECKING:
    from harness.parentdeath import RenewingPool


class OutOfBudget(Exception):
    pass


class _Stop(BaseException):
    """Raised by the alarm inside a candidate run: past the budget (or the run limit).
    A BaseException, so no ``except Exception`` in a system or checker swallows it."""


def _alarm(signum: int, frame: Any) -> NoReturn:  # pragma: no cover - only when a run outlasts the budget
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
    if armed and limit is not None:
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

class CandidateExecutor:
    """Holds the smallest failing run found so far and tries candidates against it."""

    def __init__(self, config: RunConfig, target: Signature, budget_s: float,
                 log: Callable[[str], None] = lambda s: None, jobs: int = 1,
                 run_limit_s: float | None = None,
                 on_best: Callable[[Any], None] | None = None):
        self.target = target
        #: called with each new best run (the driver checkpoints it to the output directory)
        self.on_best = on_best
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
        self._pool: RenewingPool | None = None
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
        #: the config of every best run so far, oldest first (the original run's first):
        #: what the passes may draw on besides the best run (the re-draws with an earlier
        #: episode do). Not checkpointed: a resumed shrink knows the original run and the
        #: checkpoint's, not the best runs between them
        self.history: list[RunConfig] = [res.config]
        self.tried[_key(config)] = True

    @property
    def first(self) -> Any:
        return self.first_run

    @property
    def config(self) -> RunConfig:
        config: RunConfig = self.best.config
        return config

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
                    self._keep(decided[i][1])
                    return i
            return None
        if self._pool is None:
            from harness.parentdeath import RenewingPool

            # its workers die with this process, even on SIGKILL; a worker killed under a
            # candidate breaks only those in flight (each then runs again alone)
            self._pool = RenewingPool(self.jobs)
        pending: dict[cf.Future[Any], int] = {}
        nxt = 0
        # candidates in flight when a worker died (the out-of-memory killer): each runs
        # again alone, and one that kills its worker alone does not fail the same way
        suspects: list[int] = []
        alone: int | None = None
        try:
            while True:
                # the first undecided index; accept the first "same" before it
                for i in range(len(configs)):
                    if i not in decided:
                        break
                    if decided[i][0] == "same":
                        self._keep(decided[i][1])
                        return i
                else:
                    return None
                if suspects:
                    if not pending:
                        alone = suspects.pop(0)
                        pending[self._submit(configs[alone])] = alone
                else:
                    while len(pending) < self.jobs and nxt < len(configs):
                        if nxt not in decided and (nxt not in pending.values()):
                            pending[self._submit(configs[nxt])] = nxt
                        nxt += 1
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise OutOfBudget
                done, _ = cf.wait(pending, timeout=left, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    try:
                        status, res = fut.result()
                    except BrokenProcessPool:
                        if i != alone:
                            suspects.append(i)
                            continue
                        self.log("a candidate killed its worker process (out of memory?): taken as not failing")
                        status, res = "other", None
                    self._record(keys[i], status)
                    if status == "stopped":
                        raise OutOfBudget
                    decided[i] = (status, res)
        finally:
            for fut in pending:
                fut.cancel()  # a running one finishes by the deadline; its result is dropped

    def _submit(self, config: RunConfig) -> cf.Future[Any]:
        assert self._pool is not None
        return self._pool.submit(attempt, config, self.target, self.deadline, self.run_limit_s)

    def resume(self, config: RunConfig) -> bool:
        """Start from ``config`` (an earlier shrink's checkpoint) if it still fails the same
        way; run to the end whatever the budget, as the original run is."""
        status, res = attempt(config, self.target, None, self.run_limit_s)
        self._record(_key(config), status)
        if status == "same":
            self._keep(res)
        return status == "same"

    def _keep(self, res: Any) -> None:
        """``res`` is the new best run: keep it, and checkpoint it if it is a new one."""
        if res is self.best:
            return
        self.best = res
        self.history.append(res.config)
        if self.on_best is not None:
            self.on_best(res)

    def test(self, config: RunConfig) -> bool:
        """Run ``config``; if it fails with the target signature, it becomes the best."""
        return self.first_of([config]) == 0

    def close(self) -> None:
        if self._pool is not None:
            # shrinking is over (done, out of budget, Ctrl-C): a candidate still running
            # would only be dropped, so it is ended now instead of waited for
            self._pool.kill_workers()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
