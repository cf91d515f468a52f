"""Configurations with a weaker promise (Kafka's unclean election, a nonzero flush interval):
the explorative swarm draws and records them, ``--set`` pins them, and the checkers judge
a run in one by that promise (permitted kinds reported as allowed, everything else counted)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from harness import swarm
from harness.campaign import Campaign
from harness.checks import run_checkers
from harness.config import RunConfig

MS = 1_000_000
UNCLEAN = "unclean_leader_election_enable"


def kafka_configs(runs: int, settings: dict | None = None, pinned: tuple[str, ...] = ()) -> list[RunConfig]:
    base = RunConfig(system="kafka", workload="queue", seed=0, settings=dict(settings or {}))
    c = Campaign("c", Path("x"), 7, runs, True, base, pinned)
    return [c.config_for(i) for i in range(runs)]


def test_the_swarm_draws_weakened_configurations_deterministically_and_records_them():
    configs = kafka_configs(80)
    assert configs == kafka_configs(80)
    unclean = [x for x in configs if x.settings.get(UNCLEAN) is True]
    lazy = [x for x in configs if x.settings.get("flush_interval", 0) > 0]
    plain = [x for x in configs if UNCLEAN not in x.settings and "flush_interval" not in x.settings]
    assert unclean and lazy and len(plain) > len(configs) // 2
    assert {x.settings["flush_interval"] for x in lazy} <= {200 * MS, 1000 * MS}
    for x in configs:
        # the aids' own streams: drawing weakened configurations moved none of them
        aids = swarm.aid_draw(x.seed, swarm.testing_aids("kafka"))
        assert {k: v for k, v in x.settings.items() if k in aids or k in ("counter_bits", "session_timeout",
                                                                          "replica_lag_time_max")} == aids
        # recorded in the run's config (what `harness repro` replays) and in what it drew
        assert RunConfig.from_dict(x.to_dict()).settings == x.settings
        drew = swarm.drawn(x)["settings"]
        assert (UNCLEAN in drew) == (x.settings.get(UNCLEAN) is True)
        x.validate()


def test_set_pins_a_weakened_configuration_over_the_draw():
    off = kafka_configs(60, {UNCLEAN: False}, ("set:unclean_leader_election_enable",))
    assert all(x.settings[UNCLEAN] is False for x in off)
    assert any(x.settings.get("flush_interval", 0) > 0 for x in off)  # the other one is still drawn
    on = kafka_configs(20, {"flush_interval": 0, UNCLEAN: True},
                       ("set:flush_interval", "set:unclean_leader_election_enable"))
    assert all(x.settings["flush_interval"] == 0 and x.settings[UNCLEAN] is True for x in on)


# ----------------------------------------------------------------------------- judging

def _send(h: list, p: int, value: int, offset: int) -> None:
    h.append({"process": p, "type": "invoke", "f": "send", "key": "k0", "value": value})
    h.append({"process": p, "type": "ok", "f": "send", "key": "k0", "value": value, "offset": offset})


def _poll(h: list, p: int, records: list) -> None:
    h.append({"process": p, "type": "invoke", "f": "poll", "value": None})
    h.append({"process": p, "type": "ok", "f": "poll", "value": {"k0": records}})


def lost_write_run(settings: dict, disagree: bool = False) -> SimpleNamespace:
    """A Kafka run whose acknowledged write 2 (offset 1) was lost and offset 1 reused for
    value 3 (what an unclean election does), optionally with replicas that disagree below
    the high watermark after healing."""
    h: list = []
    _send(h, 0, 1, 0)
    _send(h, 1, 2, 1)
    _send(h, 0, 3, 1)
    _poll(h, 3, [[0, 1], [1, 3]])
    for i, e in enumerate(h):
        e.update(index=i, time=i * 10)

    def ev(t: int, node: str, kind: str, **f) -> dict:
        return {"time": t, "node": node, "kind": kind, "partition": 0, **f}

    trace = [ev(1, "b1", "become-leader", leader_epoch=0, isr=["b1", "b2"], log_end=0, hw=0),
             ev(2, "b1", "commit", offset=1, value="0:k0:2", leader_epoch=0),
             ev(3, "b2", "become-leader", leader_epoch=1, isr=["b2"], log_end=1, hw=1),
             ev(4, "b2", "commit", offset=1, value="1:k0:3", leader_epoch=1)]

    def st(below: str) -> dict:
        return {"0": {"role": "follower", "leader_epoch": 1, "hw": 2, "end": 2, "epochs": [[0, 0]],
                      "below_hw": below, "log": below}}

    digests = {"b1": st("aa"), "b2": st("bb" if disagree else "aa")}
    config = RunConfig(system="kafka", workload="queue", seed=1, time_limit=1.0, settings=settings)
    return SimpleNamespace(config=config, history=h, trace=trace, replica_digests=digests, final_failures=[],
                           stats={}, faults=[])


def test_a_permitted_anomaly_passes_as_allowed_only_under_the_weaker_promise():
    weak = run_checkers(lost_write_run({UNCLEAN: True}))
    for name, kinds in (("durability", {"lost-write", "inconsistent-offsets"}),
                        ("replicas", {"committed-value-changed"})):
        r = weak[name]
        assert r.valid is True and not r.failed and not r.kinds, name
        assert kinds <= set(r.allowed) and all(r.allowed[k] for k in kinds), name
        assert UNCLEAN in r.note and "allowed" in r.explanation
    # the same history in the default configuration: the same anomalies count
    strict = run_checkers(lost_write_run({}))
    assert strict["durability"].failed and {"lost-write", "inconsistent-offsets"} <= set(strict["durability"].kinds)
    assert strict["replicas"].failed and strict["replicas"].kinds == ["committed-value-changed"]
    assert not strict["durability"].allowed.get("lost-write")
    # a nonzero flush interval permits the same
    assert run_checkers(lost_write_run({"flush_interval": 200 * MS}))["durability"].valid is True


def test_each_configuration_permits_only_what_it_was_seen_to_show():
    from harness.system import get_system

    spec = get_system("kafka")
    assert spec.allowed_anomalies(spec.default_settings()) == {}
    unclean = spec.allowed_anomalies({UNCLEAN: True})
    lazy = spec.allowed_anomalies({"flush_interval": 200 * MS})
    assert "duplicate" in unclean["durability"] and "duplicate" not in lazy["durability"]
    for permitted in (unclean, lazy):
        assert set(permitted) == {"durability", "replicas"}
        assert not {"replicas-disagree-after-healing", "two-leaders-one-epoch", "stale-epoch-append",
                    "acked-uncommitted", "acked-below-min-isr"} & set(permitted["replicas"])
        assert not {"aborted-read", "unexpected-value", "int-poll-skip"} & set(permitted["durability"])


def test_what_the_weaker_promise_does_not_permit_still_counts():
    r = run_checkers(lost_write_run({UNCLEAN: True, "flush_interval": 1000 * MS}, disagree=True))["replicas"]
    assert r.failed and r.kinds == ["replicas-disagree-after-healing"]
    assert r.allowed["committed-value-changed"]  # shown beside it, not counted
