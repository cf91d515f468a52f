"""The guided planner's choices, fed synthetic behaviours (no runs): the fresh-draw chance,
the energy of corpus entries, and that a replayed planner plans what the live one did."""

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


def test_first_batch_is_fresh_and_the_chance_follows_the_yield():
    p = planner()
    lo, hi = guided.P_FRESH
    plan = feed(p, 0, {i: ["common"] + [f"b{i}.{j}" for j in range(10)] for i in range(guided.BATCH)})
    assert all(meta == {"fresh": True} for _, meta in plan.values())
    assert p.p_fresh() == hi  # fresh draws found plenty, mutants are untried
    # fresh draws stall while mutants keep finding: the chance falls to its floor
    q = planner()
    feed(q, 0, {i: [f"b{i}"] for i in range(guided.BATCH)})
    for k in range(1, 8):
        plan = q.plan(k)
        for i, (cfg, m) in plan.items():
            q.observe(i, cfg, ["common"] if "fresh" in m else ["common"] + [f"m{i}.{j}" for j in range(6)], True)
    assert q.p_fresh() == lo
    assert sum(q.yields[False]) > 0 and q.yields[True][guided.BATCH:] == [0] * len(q.yields[True][guided.BATCH:])


def test_energy_is_the_rarest_behaviour_and_fades_with_mutants_made():
    p = planner()
    feed(p, 0, {0: ["common"] + [f"busy{j}" for j in range(50)] + ["shared"], 1: ["common", "quiet"],
                2: ["common", "shared", "twice"], 3: ["common", "twice"]})
    busy, quiet = (next(e for e in p.corpus if e.run == r) for r in (0, 1))
    # one behaviour no other run reached weighs as much as fifty: the busiest run does not win
    assert p.energy(busy) == p.energy(quiet) == 1.0
    shared = next(e for e in p.corpus if e.run == 2)
    assert p.energy(shared) == 0.5
    plan = p.plan(1)
    made = sum(1 for _, m in plan.values() if m.get("parent") == quiet.run)
    for i, (cfg, _) in plan.items():
        p.observe(i, cfg, ["common"], True)
    assert p.picks.get(quiet.run, 0) == made
    assert p.energy(quiet) == 1.0 / (1 + made)


def test_a_replayed_planner_plans_as_the_live_one():
    found = {i: ["common", f"b{i % 11}", f"c{i % 5}"] for i in range(40)}
    live = planner(40)
    plans = [feed(live, k, found) for k in range(5)]
    for k in range(5):
        again = planner(40)
        for j in range(k):
            feed(again, j, found)
        assert again.plan(k) == plans[k]
