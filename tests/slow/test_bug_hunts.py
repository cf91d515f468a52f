"""Bug hunts: for each planted ZAB and Kafka bug, a randomized campaign (bench/bugs.py's nemesis for
it) finds a failing run, and the checker that fails is the one the bug names.

Slow (``pytest -m slow tests/slow``): each hunt runs its campaign's seeds in order, up to
``WITHIN[bug]`` of them: the seed count at which ``python bench/bugs.py`` found the first
failure with the code of the time, plus a margin, so a change that makes a bug harder to
find (or a checker blind to it) fails here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_bugs", ROOT / "bench" / "bugs.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_bugs"] = bench
_spec.loader.exec_module(bench)

pytestmark = pytest.mark.slow

#: seeds to run at most: first failure found by bench/bugs.py (campaign seed 1) + margin
WITHIN = {
    "zab-commit-without-quorum": 5,
    "zab-ack-before-fsync": 5,
    "zab-newleader-ack-before-durable": 15,
    "zab-epoch-before-log": 15,
    "zab-no-trunc": 10,
    "zab-volatile-accepted-epoch": 40,
    "zab-vote-by-id-only": 120,
    "zab-vote-order-not-total": 40,
    "zab-propose-only-synced": 5,
    "zab-zxid-overflow": 10,
    "zk-sync-not-quorum": 35,
    "zk-wallclock-session-expiry": 20,
    "zk-reconnect-ignores-lastzxid": 15,
    "zk-ephemeral-lingers": 25,
    "kafka-acks-all-as-one": 5,
    "kafka-unclean-election": 30,
    "kafka-ignore-min-isr": 5,
    "kafka-hw-truncation": 15,
    "kafka-hw-divergence": 120,
    "kafka-epoch-answer-unknown": 70,
    "kafka-premature-isr-join": 30,
    "kafka-no-epoch-fencing": 70,
    "kafka-zombie-controller": 15,
    "kafka-non-idempotent-retry": 5,
    "kafka-producer-state-lost": 10,
    "kafka-commit-before-process": 5,
    "kafka-wallclock-isr-lag": 10,
}

#: bugs no checker catches yet, and why (see the report of bench/bugs.py)
NOT_CAUGHT: dict[str, str] = {}


@pytest.mark.parametrize("bug", sorted(bench.HUNTS))
def test_hunt_finds_bug(bug: str, tmp_path: Path) -> None:
    if bug in NOT_CAUGHT:
        pytest.xfail(NOT_CAUGHT[bug])
    h = bench.HUNTS[bug]
    r = bench.hunt(bug, h, tmp_path, WITHIN[bug], seed=1, jobs=2, run_timeout=120.0, log=lambda s: None)
    assert r["found"] is not None, f"{bug}: no failing run in {WITHIN[bug]} seeds"
    kinds = bench.failure_kinds(Path(r["run_dir"]))
    assert bench.matches(h.expect, kinds), f"{bug}: caught by {kinds}, expected {h.expect}"
    assert bench.control(Path(r["run_dir"]), h.expect), f"{bug}: the failing seed fails without the bug too"
