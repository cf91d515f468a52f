"""A shrink whose candidate kills its worker process (as the out-of-memory killer would)
goes on: that candidate is taken as not failing the same way, the others in flight are
run again, and the choice is still the one sequential evaluation makes. Before, the
broken pool ended the shrink in a BrokenProcessPool traceback (exit 255)."""

from __future__ import annotations

import os
import signal

from checkers.result import failure_signature
from harness.config import RunConfig
from harness.runner import run_test
from harness.shrink import executor

KILLER_RATE = 7.0
_real_attempt = executor.attempt


def _attempt_that_may_die(config, target, deadline, run_limit_s):
    if config.rate == KILLER_RATE and os.getpid() != PARENT[0]:
        os.kill(os.getpid(), signal.SIGKILL)
    return _real_attempt(config, target, deadline, run_limit_s)


PARENT = [os.getpid()]


def test_a_candidate_that_kills_its_worker_is_taken_as_not_failing(monkeypatch):
    config = RunConfig(system="toy", time_limit=5, seed=2, bugs=("toy-async-backup-reads",),
                       nemesis=("partition", "kill", "clock", "pause"), nemesis_interval=1.5)
    res = run_test(config)
    assert res.valid is False
    config = config.replace(schedule=[f.to_json() for f in res.out.schedule])
    PARENT[0] = os.getpid()
    monkeypatch.setattr(executor, "attempt", _attempt_that_may_die)  # the workers fork after this
    logs: list[str] = []
    ex = executor.CandidateExecutor(config, failure_signature(res.results), 120, logs.append, jobs=2)
    try:
        # the killer first: it must be decided before any later candidate can be chosen
        candidates = [config.replace(rate=KILLER_RATE), config.replace(clients=1),
                      config.replace(keys=1), config]
        i = ex.first_of(candidates)
        sequential = next(k for k, c in enumerate(candidates)
                          if c.rate != KILLER_RATE and _real_attempt(c, ex.target, None, None)[0] == "same")
        assert i == sequential
        assert any("killed its worker" in line for line in logs), logs
        assert ex.tried[executor._key(candidates[0])] is False
        assert ex.first_of([config.replace(clients=2)]) in (0, None)  # the pool works again
    finally:
        ex.close()
