"""Seed corpora of guided campaigns (``harness.guided_corpus``): distilling, loading, fitting
an entry to a campaign, ``--corpus`` on the command line, and that a campaign started from a
seed corpus is reproducible and resumes as it would have run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import guided, guided_corpus
from harness.campaign import Campaign
from harness.cli import main
from harness.config import ConfigError, RunConfig
from harness.guided_corpus import adapt, distil, load, resolve, shipped_path, write

BUG = "toy-async-backup-reads"


def toy_entry(seed: int, time_limit: float = 4) -> RunConfig:
    c = Campaign("c", Path("x"), seed, 1, True, RunConfig(system="toy", seed=0, time_limit=time_limit), ())
    return guided.Planner(c)._explicit(c.config_for(0))


def camp_args(store: Path, runs: int, *more: str) -> list[str]:
    return ["campaign", "--system", "toy", "--time-limit", "4", "--runs", str(runs), "--seed", "3",
            "--bug", BUG, "--store", str(store), "--no-report", "--guided", *more]


def cdir(store: Path) -> Path:
    return store / "campaigns" / f"toy-register-seed3-{BUG}"


def index(store: Path) -> list[dict]:
    return sorted((json.loads(x) for x in (cdir(store) / "index.jsonl").read_text().splitlines()),
                  key=lambda e: e["run"])


# ----------------------------------------------------------------------------- distil, files

def test_distil_takes_the_rarest_coverage_first_and_stops_when_nothing_is_added():
    cfgs = [toy_entry(s) for s in range(5)]
    pool = [(cfgs[0], ["a", "b"]), (cfgs[1], ["a", "b", "c"]), (cfgs[2], ["a", "x"]),
            (cfgs[3], ["a"]), (cfgs[4], ["b", "c"])]
    # weights: a 1/4, b 1/3, c 1/2, x 1: run 1 adds 13/12, run 2 adds 5/4 -> run 2 first,
    # then run 1 (b, c), then nothing new
    assert [c for c, _ in distil(pool)] == [cfgs[2], cfgs[1]]
    assert [c for c, _ in distil(pool, size=1)] == [cfgs[2]]
    assert distil([]) == []


def test_a_corpus_file_round_trips_and_bad_ones_are_one_line_errors(tmp_path):
    entries = [(toy_entry(1), ["event:n:x", "step:a"]), (toy_entry(2), ["step:a"])]
    p = tmp_path / "c.json"
    write(p, "toy", "register", entries, "test")
    assert load(p) == ("toy", "register", [(c, sorted(f)) for c, f in entries])
    d = json.loads(p.read_text())
    # an entry without a schedule has its seed's, made explicit
    seeded = {**d, "entries": [{"config": {**d["entries"][0]["config"], "schedule": None}, "behaviours": [0]}]}
    (tmp_path / "s.json").write_text(json.dumps(seeded))
    assert load(tmp_path / "s.json")[2][0][0] == entries[0][0]
    bad = {"not json": "{", "format": json.dumps({**d, "format": "x"}),
           "index": json.dumps({**d, "entries": [{"config": d["entries"][0]["config"], "behaviours": [99]}]}),
           "system": json.dumps({**d, "system": "zab"}),
           "config": json.dumps({**d, "entries": [{"config": {"nodes": "five"}, "behaviours": []}]})}
    for what, text in bad.items():
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(ConfigError) as e:
            load(tmp_path / "bad.json")
        assert "\n" not in str(e.value), what
    with pytest.raises(ConfigError, match="no corpus"):
        load(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="is for toy register"):
        resolve(str(p), RunConfig(system="zab"))
    assert resolve("none", RunConfig(system="zab")) == []


def test_the_shipped_corpora_load_and_fit_a_default_campaign():
    for system, workload in (("zab", "register"), ("zab", "election"), ("kafka", "queue")):
        p = shipped_path(system, workload)
        assert p is not None, (system, workload)
        _, _, entries = load(p)
        assert 8 <= len(entries) <= guided_corpus.CORPUS_SIZE
        base = RunConfig(system=system, workload=workload, seed=0, time_limit=30, bugs=())
        c = Campaign("c", Path("x"), 1, 10, True, base, (), True)
        for cfg, found in entries:
            assert found and cfg.schedule
            assert adapt(cfg, c) == cfg.replace(rate=base.rate, op_timeout=base.op_timeout)
    assert shipped_path("toy", "register") is None


def test_adapt_fits_an_entry_to_what_the_campaign_decides():
    e = toy_entry(7, time_limit=4)
    base = RunConfig(system="toy", seed=0, time_limit=8, bugs=(BUG,), nodes=e.nodes + 2)
    free = adapt(e, Campaign("c", Path("x"), 1, 10, True, base, ()))
    assert free is not None and free.bugs == (BUG,) and free.time_limit == 8 and free.nodes == e.nodes
    assert [f["at"] for f in free.schedule] == [min(8 * 10**9 - 1, 2 * f["at"]) for f in e.schedule]
    # --nodes pinned to another size: the entry's schedule names other servers
    assert adapt(e, Campaign("c", Path("x"), 1, 10, True, base, ("nodes",))) is None
    # --nemesis given: faults of other families leave
    only = RunConfig(system="toy", seed=0, time_limit=4, nemesis=("kill",), nodes=e.nodes)
    fitted = adapt(e, Campaign("c", Path("x"), 1, 10, True, only, None))
    assert fitted is not None and fitted.nemesis == ("kill",)
    assert all(f["kind"] in ("kill", "restart") for f in fitted.schedule)


# ----------------------------------------------------------------------------- planner

def seeded_planner(tmp_path: Path, runs: int = 40) -> guided.Planner:
    entries = [(toy_entry(s), ["common", f"seed{s}"]) for s in range(3)]
    write(tmp_path / "seed.json", "toy", "register", entries, "test")
    base = RunConfig(system="toy", seed=0, time_limit=4)
    return guided.Planner(Campaign("c", tmp_path, 5, runs, True, base, (), True, "all", "seed.json"))


def test_the_first_batch_mutates_the_seed_corpus_in_its_order(tmp_path):
    p = seeded_planner(tmp_path)
    assert p.seeded == 3 and {"seed0", "seed1", "seed2", "common"} == p.seen
    plan = p.plan(0)
    assert [m["corpus"] for _, m in plan.values()] == [i % 3 for i in range(guided.BATCH)]
    for i, (cfg, _) in plan.items():
        assert cfg.seed == p.campaign.run_seed(i) and cfg.schedule is not None
    again = seeded_planner(tmp_path)
    assert again.plan(0) == plan


def test_a_replayed_seeded_planner_plans_as_the_live_one(tmp_path):
    found = {i: ["common", f"b{i % 11}", f"c{i % 5}"] for i in range(40)}
    live = seeded_planner(tmp_path)
    plans = []
    for k in range(5):
        plans.append(live.plan(k))
        for i, (cfg, _) in plans[-1].items():
            live.observe(i, cfg, found[i], True)
    assert any("parent" in m for plan in plans[1:] for _, m in plan.values())
    assert any("corpus" in m for plan in plans[1:] for _, m in plan.values())  # seed entries stay in
    for k in range(5):
        again = seeded_planner(tmp_path)
        for j in range(k):
            for i, (cfg, _) in again.plan(j).items():
                again.observe(i, cfg, found[i], True)
        assert again.plan(k) == plans[k]


# ----------------------------------------------------------------------------- command line

@pytest.fixture(scope="module")
def first(tmp_path_factory) -> Path:
    """A guided toy campaign (no seed corpus for toy): its final corpus.json seeds others."""
    store = tmp_path_factory.mktemp("first")
    assert main(camp_args(store, guided.BATCH + 4, "--jobs", "1", "--seed", "9")) in (0, 1)
    return store


def test_a_guided_campaign_writes_its_distilled_corpus(first):
    d = first / "campaigns" / f"toy-register-seed9-{BUG}"
    system, workload, entries = load(d / "corpus.json")
    assert (system, workload) == ("toy", "register") and 1 <= len(entries) <= guided_corpus.CORPUS_SIZE
    assert load(d) == (system, workload, entries)  # a campaign directory names its corpus.json
    assert not (d / "seed-corpus.json").exists()  # toy ships none


def test_a_campaign_from_a_corpus_is_reproducible_and_resumes_as_it_would_have_run(first, tmp_path, capsys):
    corpus = str(first / "campaigns" / f"toy-register-seed9-{BUG}")
    whole, part = tmp_path / "whole", tmp_path / "part"
    runs = 2 * guided.BATCH + 3
    assert main(camp_args(whole, runs, "--jobs", "1", "--corpus", corpus)) in (0, 1)
    assert main(camp_args(part, guided.BATCH + 2, "--jobs", "2", "--corpus", corpus)) in (0, 1)
    # the campaign plans from its own copy: the source may go
    assert main(["campaign", "--name", cdir(part).name, "--store", str(part), "--resume",
                 "--runs", str(runs), "--jobs", "2", "--no-report"]) in (0, 1)
    one, two = index(whole), index(part)
    assert [(e["seed"], e["valid"], e["history_sha256"], e["guided"]) for e in one] == \
           [(e["seed"], e["valid"], e["history_sha256"], e["guided"]) for e in two]
    assert [e["guided"].get("corpus") for e in one[: guided.BATCH]] == \
           [i % len(load(corpus)[2]) for i in range(guided.BATCH)]
    camp = Campaign.load(cdir(whole))
    assert camp.corpus == "seed-corpus.json"
    e = next(e for e in one if e["run_dir"] and "corpus" in e["guided"])
    capsys.readouterr()
    assert main(["repro", str(cdir(whole) / e["run_dir"])]) in (0, 1)
    assert "identical" in capsys.readouterr().out
    # --corpus none: the first batch is the fresh draws again
    none = tmp_path / "none"
    assert main(camp_args(none, guided.BATCH, "--jobs", "1", "--corpus", "none")) in (0, 1)
    assert all(e["guided"] == {"fresh": True} for e in index(none))
    assert Campaign.load(cdir(none)).corpus is None


@pytest.mark.parametrize("more", [["--corpus", "/no/such/corpus.json"], ["--corpus", "/etc/hostname"]])
def test_a_bad_corpus_is_one_line_and_254(tmp_path, capsys, more):
    assert main(camp_args(tmp_path, 4, *more)) == 254
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not cdir(tmp_path).exists()


def test_corpus_without_guided_is_254(tmp_path, capsys):
    args = [a for a in camp_args(tmp_path, 4, "--corpus", "none") if a != "--guided"]
    assert main(args) == 254
    assert capsys.readouterr().err.count("\n") == 1
