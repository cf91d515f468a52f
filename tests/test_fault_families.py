"""The fault-family registry (harness.faults.FAMILIES): every family is complete, and the
generator, the nemesis, --nemesis validation, the shrinker and the report all read it, so
that a family added by one record plus its applier reaches every one of them."""

from __future__ import annotations

import re

import pytest

from harness import faults
from harness.config import SECOND, ConfigError, RunConfig
from harness.faults import FaultFamily, family_names, fault_family, generate_schedule, register_family
from harness.runner import run_test
from harness.shrink import _family
from reports.rundata import FAMILIES, FAMILY_COLOURS, RunData

SERVERS = ["n1", "n2", "n3", "n4", "n5"]


def test_every_family_draws_applies_names_and_colours():
    assert set(family_names()) == {"partition", "kill", "pause", "clock", "crash", "power", "slow"}
    for name in family_names():
        fam = faults.FAMILIES[name]
        assert fam.name == name and fam.opens and fam.ends
        assert re.fullmatch(r"#[0-9a-f]{6}", fam.colour) and len(fam.description) > 20
        assert FAMILY_COLOURS[name] == fam.colour and name in FAMILIES
        # every kind it opens or ends has an applier, and every kind it draws is one of them
        for kind in (*fam.opens, fam.ends):
            assert faults.applier(kind) is not None, (name, kind)
        drawn = set()
        for seed in range(40):
            for f in generate_schedule(seed, [name], SERVERS, 60 * 10**9, 6.0, crash_points=("a", "b")):
                drawn.add(f.kind)
                assert f.kind in fam.apply, (name, f.kind)
                if f.kind in fam.opens:
                    assert fault_family(f.to_json()) == name
        assert set(fam.opens) <= drawn and fam.ends in drawn, (name, drawn)
    # colours tell the lanes apart
    assert len({faults.FAMILIES[n].colour for n in family_names()}) == len(family_names())


def test_shrink_groups_episodes_by_the_registry():
    """The shrinker's families are fault_family's: a slow clock-skew is ``slow`` (not
    ``clock``), a crash-at is ``crash`` (not ``crash-at``)."""
    schedule = [f.to_json() for f in generate_schedule(3, family_names(), SERVERS, 60 * 10**9, 6.0,
                                                       crash_points=("a",))]
    starts = {}
    for f in schedule:
        starts.setdefault(f["episode"], f)
    fams = {_family(f) for f in starts.values()}
    assert fams == set(family_names())
    for f in starts.values():
        assert _family(f) == fault_family(f)


@pytest.fixture
def drop_family():
    """A family no module of the harness knows: it drops a server's messages (here: it
    pauses it) and logs its own kinds."""
    def draw(rng, servers, crash_points, clients):
        node = rng.choice(servers)
        return ("drop-on", (node,)), ("drop-off", (node,))

    def drop_on(nem, f):
        nem.record(f, f.kind, node=f.args[0], changed=nem.sim.pause(f.args[0]))

    def drop_off(nem, f):
        nem.record(f, f.kind, node=f.args[0], changed=nem.sim.resume(f.args[0]))

    fam = register_family(FaultFamily("drop", ("drop-on",), "drop-off", draw,
                                      {"drop-on": drop_on, "drop-off": drop_off}, "#123456",
                                      "a server's messages are dropped for a while"))
    yield fam
    faults.unregister_family("drop")


def test_a_new_family_reaches_generator_nemesis_shrink_and_report(drop_family, tmp_path):
    with pytest.raises(ConfigError):
        RunConfig(system="toy", nemesis=("flood",)).validate()
    cfg = RunConfig(system="toy", nodes=3, time_limit=12, seed=4, nemesis=("drop", "kill"),
                    nemesis_interval=3.0).validate()
    res = run_test(cfg, directory=tmp_path / "run")
    kinds = [r["kind"] for r in res.out.faults]
    assert "drop-on" in kinds and "drop-off" in kinds  # drawn and applied by the nemesis
    assert any(r["kind"] == "drop-on" and r["changed"] for r in res.out.faults)
    assert "drop" in {_family(f.to_json()) for f in res.out.schedule}
    run = RunData(res.directory)
    drop = [w for w in run.windows if w.family == "drop"]
    assert drop and all(w.end > w.start for w in drop)  # opened and closed by its own kinds
    assert "drop" in FAMILIES and FAMILY_COLOURS["drop"] == "#123456"
    from reports.run_report import write_run_report

    page = write_run_report(res.directory).read_text()
    assert ">drop</text>" in page and "#123456" in page  # its lane, in its colour
    assert "a server&#39;s messages are dropped for a while</title>drop</text>" in page  # and its words


def test_a_family_declares_the_shape_an_explicit_schedule_is_checked_against():
    def draw(rng, servers, crash_points, clients):
        return ("lag-on", (rng.choice(servers), 5)), ("lag-off", ())

    register_family(FaultFamily(
        "lag", ("lag-on",), "lag-off", draw, {"lag-on": lambda nem, f: None, "lag-off": lambda nem, f: None},
        "#654321", "a server lags", arguments={"lag-on": ("[node, ms]", lambda a: len(a) == 2 and a[1] > 0)}))
    try:
        good = [{"at": SECOND, "kind": "lag-on", "args": ["n1", 5], "episode": 1},
                {"at": 2 * SECOND, "kind": "lag-off", "args": ["anything"], "episode": 1}]  # not declared: free
        RunConfig(system="toy", nemesis=("lag",), schedule=good).validate()
        bad = [{**good[0], "args": ["n1", 0]}]
        with pytest.raises(ConfigError, match=r"a lag-on takes \[node, ms\]"):
            RunConfig(system="toy", nemesis=("lag",), schedule=bad).validate()
        assert faults.fault_problem(faults.Fault.from_json(bad[0])) == "a lag-on takes [node, ms]"
    finally:
        faults.unregister_family("lag")


def test_a_kind_with_two_appliers_is_refused():
    with pytest.raises(ValueError, match="another applier"):
        register_family(FaultFamily("bad", ("kill",), "restart", lambda *a: None,
                                    {"kill": lambda nem, f: None}, "#000000", "x"))
    assert "bad" not in family_names()
