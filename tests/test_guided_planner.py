"""The guided planner fed synthetic behaviours (no runs): the energy of corpus entries, and
that a replayed planner plans what the live one did."""

from __future__ import annotations

from pathlib import Path

from harness import guided
from harness.campaign import Campaign
from harness.config import RunConfig


def planner(runs: int = 64, seed: int = 5) -> guided.Planner:
    base = RunConfig(system="toy", seed=0, time_limit=4)
    return guided.Planner(Campaign("c", Path("x"), seed, runs, True, base, ()))


def feed(p: guided.Planner, k: int, found: dict[int, list[str]]) -> dict[int, tuple]:
    """Plan batch ``k`` and observe each run with ``found[i]`` (default: nothing new)."""
    plan = p.plan(k)
    for i, (cfg, _) in plan.items():
        p.observe(i, cfg, found.get(i, ["common"]), True)
    return plan


def test_energy_is_the_rarity_of_what_an_entry_reached():
    p = planner()
    feed(p, 0, {0: ["common", "a", "b"], 1: ["common", "a", "c"]})
    first, second = p.corpus
    # "a" was reached twice, "b" and "c" once; "common" by every run of the batch
    n = guided.BATCH
    assert p.energy(first) == p.energy(second) == 1 / n + 1 / 2 + 1
    feed(p, 1, {})
    assert p.energy(first) < 1 / n + 1 / 2 + 1  # what became common fades


def test_a_replayed_planner_plans_as_the_live_one():
    found = {i: ["common", f"b{i % 11}", f"c{i % 5}"] for i in range(40)}
    live = planner(40)
    plans = [feed(live, k, found) for k in range(5)]
    for k in range(5):
        again = planner(40)
        for j in range(k):
            feed(again, j, found)
        assert again.plan(k) == plans[k]
