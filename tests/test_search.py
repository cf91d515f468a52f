"""Search: the explorative default draw, coverage, guided campaigns, --keep, remote workers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness import guided, swarm
from harness.campaign import Campaign
from harness.cli import main
from harness.config import ConfigError, RunConfig
from harness.coverage import behaviours_of
from harness.faults import family_names
from harness.remote import materialize
from harness.store import load_config

BUG = "toy-async-backup-reads"


def camp_args(store: Path, runs: int, *more: str) -> list[str]:
    return ["campaign", "--system", "toy", "--time-limit", "4", "--runs", str(runs), "--seed", "3",
            "--bug", BUG, "--store", str(store), "--no-report", *more]


def cdir(store: Path) -> Path:
    return store / "campaigns" / f"toy-register-seed3-{BUG}"


def index(store: Path) -> list[dict]:
    return [json.loads(x) for x in (cdir(store) / "index.jsonl").read_text().splitlines()]


def outcomes(store: Path) -> dict[int, tuple]:
    return {e["seed"]: (e["run"], e["valid"], e["history_sha256"]) for e in index(store)}


# ----------------------------------------------------------------------------- explore

def test_explorative_draw_varies_every_dimension_and_is_reproducible():
    base = RunConfig(seed=0)
    c = Campaign("c", Path("x"), 5, 60, True, base, ())
    configs = [c.config_for(i) for i in range(60)]
    assert [x.seed for x in configs] == c.seeds()
    assert configs == [c.config_for(i) for i in range(60)]
    assert {x.nodes for x in configs} == set(swarm.NODES)
    assert {x.reads for x in configs} == {"sync", "local"}
    assert len({x.nemesis_interval for x in configs}) > 2
    on = {f for x in configs for f, s in x.swarm.items() if s > 0}
    assert on == set(family_names())  # all seven families, crash points and power included
    assert all(any(s > 0 for s in x.swarm.values()) for x in configs)
    assert any(x.settings.get("counter_bits") in (6, 8) for x in configs)  # a declared testing aid
    assert any("counter_bits" not in x.settings for x in configs)
    for x in configs:
        x.validate()


def test_a_live_system_is_only_drawn_the_families_it_can_take():
    from harness.faults import system_families
    from harness.live.nemesis import LIVE_FAMILIES

    live = system_families("maelstrom")
    assert "crash" not in live and "power" not in live and set(live) <= set(LIVE_FAMILIES)
    assert {"partition", "kill", "pause"} <= set(live)
    assert system_families("zab") == family_names()
    base = RunConfig(system="maelstrom", workload="lin-kv", seed=0, settings={"bin": "/bin/true"})
    c = Campaign("c", Path("x"), 5, 40, True, base, ())
    configs = [c.config_for(i) for i in range(40)]
    assert all(set(x.nemesis) == set(live) for x in configs)
    assert {f for x in configs for f, s in x.swarm.items() if s > 0} == set(live)


def test_what_the_user_pins_is_not_drawn():
    base = RunConfig(seed=0, nodes=3, reads="local", settings={"counter_bits": 10})
    c = Campaign("c", Path("x"), 5, 40, True, base, ("nodes", "reads", "set:counter_bits"))
    for i in range(40):
        x = c.config_for(i)
        assert x.nodes == 3 and x.reads == "local" and x.settings["counter_bits"] == 10


def test_campaign_without_nemesis_explores_and_with_nemesis_does_not(tmp_path):
    assert main(camp_args(tmp_path / "a", 4, "--jobs", "1", "--nodes", "3")) in (0, 1)
    meta = json.loads((cdir(tmp_path / "a") / "campaign.json").read_text())
    assert meta["explore"] == {"pinned": ["nodes"]}
    cfgs = [load_config(cdir(tmp_path / "a") / e["run_dir"]) for e in index(tmp_path / "a")]
    assert all(c.nodes == 3 for c in cfgs)
    assert any(set(c.nemesis) - {"partition", "kill", "clock"} for c in cfgs)
    assert main(camp_args(tmp_path / "b", 2, "--jobs", "1", "--nemesis", "kill")) in (0, 1)
    meta = json.loads((cdir(tmp_path / "b") / "campaign.json").read_text())
    assert "explore" not in meta
    assert all(load_config(cdir(tmp_path / "b") / e["run_dir"]).nemesis == ("kill",) for e in index(tmp_path / "b"))


# ----------------------------------------------------------------------------- coverage

def test_behaviours_abstract_steps_orderings_and_faults():
    trace = [
        {"time": 0, "node": "n1", "kind": "looking", "reason": "start"},
        {"time": 10, "node": "n2", "kind": "looking", "reason": "start"},
        {"time": 100, "node": "n1", "kind": "leader_established"},
        {"time": 120, "node": "n1", "kind": "sync_mode", "mode": "SNAP", "zxid": 7},
        {"time": 130, "node": "n1", "kind": "logged", "zxid": 8},
        {"time": 2_000_000_000, "node": "n2", "kind": "crash", "reason": "crash point truncate"},
    ]
    faults = [{"time": 1_000_000_000, "kind": "kill", "args": ["n2"], "episode": 1},
              {"time": 3_000_000_000, "kind": "restart", "args": ["n2"], "episode": 1}]
    b = behaviours_of(trace, faults)
    assert "event:n:sync_mode=SNAP" in b and "event:n:crash=truncate" in b
    assert "step:n:leading:leader_established>sync_mode=SNAP" in b  # role after the step
    assert "step:n:looking:looking=start>leader_established" in b
    assert "hb:n.looking=start>n.looking=start" in b  # n1 then n2 within the window
    assert "fault:kill:n.crash=truncate" in b and not any(x.startswith("fault:kill:n.looking") for x in b)
    assert not any("logged" in x for x in b if not x.startswith("event:"))  # routine kinds: events only
    assert behaviours_of(trace, []) < b


def test_detail_values_lose_their_numbers_and_node_ids():
    """Kafka's reasons are prose with brokers and offsets in them: two elections for the
    same reason on other brokers, or truncations at other offsets, are one behaviour."""
    def elect(t, node, why):
        return {"time": t, "node": node, "kind": "elect", "why": why, "unclean": False}

    def truncate(t, node, why):
        return {"time": t, "node": node, "kind": "truncate", "why": why}

    one = behaviours_of([elect(0, "b1", "replicas ['b4'] offline"),
                         truncate(5, "b2", "epoch 3: leader has epoch 2 ending at 78")], [])
    two = behaviours_of([elect(0, "b3", "replicas ['b2', 'b5'] offline"),
                         truncate(5, "b1", "epoch 9: leader has epoch 8 ending at 1")], [])
    assert one == two
    assert "event:b:elect=replicas [..] offline,False" in one
    assert "event:b:truncate=epoch N: leader has epoch N ending at N" in one
    other = behaviours_of([elect(0, "b1", "leader b2 offline")], [])  # another reason stays another
    assert "event:b:elect=leader b offline,False" in other and not other & {"event:b:elect=replicas [..] offline,False"}


def test_a_run_records_its_behaviours_and_they_are_deterministic(tmp_path):
    from harness.runner import run_test

    cfg = RunConfig(system="toy", time_limit=4, seed=11, nemesis=("kill",))
    one, two = run_test(cfg, directory=tmp_path / "r"), run_test(cfg)
    saved = json.loads((tmp_path / "r" / "results.json").read_text())["coverage"]["behaviours"]
    assert saved == one.results["coverage"]["behaviours"] == two.results["coverage"]["behaviours"]
    assert saved and saved == sorted(saved)


# ----------------------------------------------------------------------------- guided

@pytest.fixture(scope="module")
def guided_jobs1(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("g1")
    assert main(camp_args(store, 2 * guided.BATCH + 3, "--jobs", "1", "--guided")) in (0, 1)
    return store


def test_guided_is_the_same_on_any_executor_and_after_resume(guided_jobs1, tmp_path):
    runs = 2 * guided.BATCH + 3
    assert main(camp_args(tmp_path, guided.BATCH + 2, "--jobs", "2", "--guided")) in (0, 1)
    assert main(["campaign", "--name", cdir(tmp_path).name, "--store", str(tmp_path), "--resume",
                 "--runs", str(runs), "--jobs", "2", "--no-report"]) in (0, 1)
    assert outcomes(tmp_path) == outcomes(guided_jobs1)


def test_guided_runs_mutate_the_corpus_and_replay(guided_jobs1, capsys):
    entries = sorted(index(guided_jobs1), key=lambda e: e["run"])
    assert all(e["guided"] == {"fresh": True} for e in entries[: guided.BATCH])
    mutants = [e for e in entries if "parent" in e["guided"]]
    assert mutants, "the second batch mutates the first's corpus"
    for e in mutants:
        assert e["guided"]["parent"] < e["run"] // guided.BATCH * guided.BATCH
        assert set(e["guided"]["ops"]) <= set(guided.OPS)
    e = next(e for e in mutants if e["run_dir"])
    cfg = load_config(cdir(guided_jobs1) / e["run_dir"])
    assert cfg.schedule is not None and cfg.seed == e["seed"]
    camp = Campaign.load(cdir(guided_jobs1))
    assert camp.config_for(e["run"]) == cfg
    assert main(["repro", str(cdir(guided_jobs1) / e["run_dir"])]) in (0, 1)
    assert "identical" in capsys.readouterr().out


def test_mutations_keep_schedules_well_formed():
    import random

    base = RunConfig(seed=0, time_limit=20)
    c = Campaign("c", Path("x"), 5, 40, True, base, ())
    p = guided.Planner(c)
    cfg = p._explicit(c.config_for(0))
    rng = random.Random(1)
    for _ in range(200):
        out = p._mutate(rng.choice(guided.OPS), cfg, rng)
        if out is None:
            continue
        out.validate()
        ats = [f["at"] for f in out.schedule]
        assert ats == sorted(ats) and all(0 <= t < 20 * 10**9 for t in ats)
        eps: dict[int, int] = {}
        for f in out.schedule:
            eps[f["episode"]] = eps.get(f["episode"], 0) + 1
        assert set(eps.values()) <= {2}  # every fault keeps its start and its end
        cfg = out


def test_mutants_run_without_harness_errors():
    """Every mutant is a schedule the nemesis can apply: a retargeted clock bump or strobe
    names a server, never "leader" (their appliers do not resolve it)."""
    import random

    from harness.faults import family_names
    from harness.runner import simulate

    base = RunConfig(seed=0, time_limit=4, recovery_time=4, nemesis=family_names(), nemesis_interval=1.0)
    c = Campaign("c", Path("x"), 5, 40, True, base, None)
    p = guided.Planner(c)
    cfg = p._explicit(c.config_for(0))
    bumps = 0
    last = cfg
    for i in range(300):
        out = p._mutate("retarget", cfg, random.Random(i))
        if out is None:
            continue
        last = out
        for f in out.schedule:
            if f["kind"] in ("clock-bump", "clock-strobe"):
                bumps += 1
                assert f["args"][0] != "leader", f
    assert bumps > 0
    cfg = last
    simulate(cfg.validate())  # raises on a fault the nemesis cannot apply


# ----------------------------------------------------------------------------- keep, remote

def test_keep_failures_and_materialize(tmp_path):
    assert main(camp_args(tmp_path, 8, "--jobs", "1", "--keep", "failures")) == 1
    entries = index(tmp_path)
    assert any(e["valid"] is True for e in entries) and any(e["valid"] is False for e in entries)
    for e in entries:
        kept = (cdir(tmp_path) / "runs" / str(e["seed"])).is_dir()
        assert kept == (e["valid"] is not True) and (e["run_dir"] is None) == (not kept)
    ok = next(e for e in entries if e["valid"] is True)
    d = materialize(cdir(tmp_path), ok["seed"])
    assert json.loads((d / "results.json").read_text())["history_sha256"] == ok["history_sha256"]
    # a history that no longer matches the index is an error, not a silent new run
    lines = (cdir(tmp_path) / "index.jsonl").read_text().replace(ok["history_sha256"], "0" * 64)
    (cdir(tmp_path) / "index.jsonl").write_text(lines)
    with pytest.raises(ConfigError, match="different history"):
        materialize(cdir(tmp_path), ok["seed"])


def test_resume_with_keep_failures_does_not_rerun_valid_runs(tmp_path):
    main(camp_args(tmp_path, 6, "--jobs", "1", "--keep", "failures"))
    before = index(tmp_path)
    assert any(e["valid"] is True and e["run_dir"] is None for e in before)
    main(camp_args(tmp_path, 6, "--jobs", "1", "--keep", "failures", "--resume"))
    assert index(tmp_path) == before  # nothing re-run: a valid run not kept is still done


def _comparable(run_dir: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(run_dir.iterdir()):
        if p.name == "results.json":
            r = json.loads(p.read_text())
            r["stats"] = {k: v for k, v in r["stats"].items() if not k.startswith("wall")}
            out[p.name] = json.dumps(r, sort_keys=True).encode()
        elif p.suffix in (".json", ".jsonl"):
            out[p.name] = p.read_bytes()
    return out


def test_dask_workers_without_the_store_give_the_local_campaign(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    local = tmp_path / "local"
    assert main(camp_args(local, 8, "--jobs", "1", "--keep", "failures")) == 1
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    monkeypatch.chdir(client_dir)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        # each worker in its own private working directory: a relative store path written
        # by a worker would land there, not in the client's store
        private = {}
        for w in client.scheduler_info()["workers"]:
            private[w] = tmp_path / f"worker-{len(private)}"
            private[w].mkdir()
            client.run(os.chdir, str(private[w]), workers=[w])
        assert main(camp_args(Path("store"), 8, "--keep", "failures",
                              "--scheduler", cluster.scheduler_address)) == 1
        for d in private.values():
            assert not any(d.iterdir()), "a worker wrote into its working directory"
    remote = client_dir / "store"
    assert outcomes(remote) == outcomes(local)
    failing = [e for e in index(local) if e["valid"] is not True]
    assert failing
    for e in failing:
        assert _comparable(cdir(remote) / e["run_dir"]) == _comparable(cdir(local) / e["run_dir"])
    kept = sorted(p.name for p in (cdir(remote) / "runs").iterdir())
    assert kept == sorted(str(e["seed"]) for e in failing)


def test_coverage_log_numbers_behaviours_once_and_survives_a_torn_line(tmp_path):
    from harness.coverage import CoverageLog

    log = CoverageLog(tmp_path)
    log.append(0, 11, ["b", "a"])
    log.append(1, 12, ["c", "a"])
    with open(tmp_path / "coverage.jsonl", "a") as f:
        f.write('{"run":2,"seed":13,"ids":[0,')  # the harness died writing it
    again = CoverageLog(tmp_path)
    assert again.read() == {11: (0, ["a", "b"]), 12: (1, ["a", "c"])}
    assert len((tmp_path / "behaviours.jsonl").read_text().splitlines()) == 3
    again.append(1, 12, ["z"])  # a re-run seed: the first line wins
    assert CoverageLog(tmp_path).read()[12] == (1, ["a", "c"])
