"""Pure parts (zxids, sync choice, data tree, messages), the sans-IO rule, determinism."""

from __future__ import annotations

import ast
import pathlib

import pytest
from directsim import MS, ZabSim

from harness.system import get_system
from systems.zab import messages as m
from systems.zab.datatree import BAD_VERSION, NO_NODE, NODE_EXISTS, DataTree, Txn
from systems.zab.server import ZabServer
from systems.zab.sync import DIFF, SNAP, TRUNC, SyncPlan, choose_sync
from systems.zab.zxid import counter_of, epoch_of, make_zxid, max_counter, zxid_runs, zxid_str

ROOT = pathlib.Path(__file__).resolve().parents[2]
BANNED = {"socket", "time", "random", "threading", "asyncio"}


def test_nothing_under_systems_imports_the_world() -> None:
    offenders = []
    files = sorted((ROOT / "systems").rglob("*.py"))
    assert files
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] in BANNED:
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_zxid_layout() -> None:
    z = make_zxid(3, 7)
    assert z == (3 << 32) | 7 and epoch_of(z) == 3 and counter_of(z) == 7
    assert zxid_str(z) == "0x3.7"
    assert epoch_of(make_zxid(5, 255, bits=8), bits=8) == 5
    assert max_counter(8) == 255
    with pytest.raises(ValueError):
        make_zxid(1, 256, bits=8)


def test_zxid_runs_is_an_exact_short_form_of_a_log() -> None:
    log = [make_zxid(1, 1), make_zxid(1, 2), make_zxid(1, 3), make_zxid(3, 1), make_zxid(3, 3)]
    runs = zxid_runs(log)
    assert runs == [[make_zxid(1, 1), make_zxid(1, 3)], [make_zxid(3, 1), make_zxid(3, 1)],
                    [make_zxid(3, 3), make_zxid(3, 3)]]
    assert [x for a, b in runs for x in range(a, b + 1)] == log
    assert zxid_runs([]) == []


H = [make_zxid(1, 1), make_zxid(1, 2), make_zxid(1, 3), make_zxid(2, 1), make_zxid(2, 2)]


@pytest.mark.parametrize(
    "peer_last, history, snap, plan",
    [
        (make_zxid(2, 2), H, 0, SyncPlan(DIFF, make_zxid(2, 2), 5)),  # up to date
        (make_zxid(1, 2), H, 0, SyncPlan(DIFF, make_zxid(1, 2), 2)),  # behind: DIFF
        (0, H, 0, SyncPlan(DIFF, 0, 0)),  # empty follower, full log
        (make_zxid(1, 1), H[2:], make_zxid(1, 2), SyncPlan(SNAP)),  # older than the log
        (make_zxid(1, 2), H[2:], make_zxid(1, 2), SyncPlan(DIFF, make_zxid(1, 2), 0)),
        (make_zxid(1, 4), H, 0, SyncPlan(TRUNC, make_zxid(1, 3), 3)),  # extra txn, same epoch
        (make_zxid(2, 3), H, 0, SyncPlan(TRUNC, make_zxid(2, 2), 5)),  # beyond our last
        (make_zxid(3, 1), H, 0, SyncPlan(SNAP)),  # beyond, another epoch: no TRUNC
        (make_zxid(1, 5), H[:3] + [make_zxid(3, 1)], 0, SyncPlan(TRUNC, make_zxid(1, 3), 3)),
        (make_zxid(2, 1), H[:3] + [make_zxid(3, 1)], 0, SyncPlan(SNAP)),  # crosses epochs
    ],
)
def test_choose_sync(peer_last: int, history: list[int], snap: int, plan: SyncPlan) -> None:
    assert choose_sync(peer_last, history, snap, 32) == plan


def test_data_tree_versions_and_errors() -> None:
    t = DataTree()
    assert t.apply(1, Txn("setData", "/x", "a")).ok
    assert t.get("/x").version == 0 and t.get("/x").czxid == 1
    assert t.apply(2, Txn("setData", "/x", "b", 0)).version == 1
    assert t.apply(3, Txn("setData", "/x", "c", 0)).error == BAD_VERSION
    assert t.apply(4, Txn("setData", "/y", "c", 0)).error == NO_NODE
    assert t.apply(5, Txn("create", "/x", "c")).error == NODE_EXISTS
    assert t.get("/x").data == "b" and t.last_processed_zxid == 5
    with pytest.raises(ValueError):
        t.apply(5, Txn("setData", "/x", "z"))
    copy = DataTree.from_record(t.to_record())
    assert copy.digest() == t.digest() and copy.last_processed_zxid == 5


def test_txn_records_and_digest_survive_json() -> None:
    import json

    txn = Txn("setData", "/x", [1, {"a": 2}], 3, "n1", "c1", 9)
    back = Txn.from_record(json.loads(json.dumps(txn.to_record())))
    assert back == txn and back.digest() == txn.digest()
    assert txn.digest().startswith("setData:/x:")
    assert Txn("setData", "/x", 1).digest() != Txn("setData", "/x", 2).digest()


def test_messages_validate() -> None:
    with pytest.raises(ValueError):
        m.Notification("n1", -1, 1, 1, m.LOOKING)
    with pytest.raises(ValueError):
        m.Notification("n1", 0, 1, 1, "CONFUSED")
    with pytest.raises(ValueError):
        m.ClientOp(1, 1, "frobnicate")
    with pytest.raises(ValueError):
        Txn("setData", "x")


def test_spec_registered() -> None:
    spec = get_system("zab")
    assert spec.name == "zab"
    assert spec.files == ("log", "acceptedEpoch", "currentEpoch", "snapshot")
    s = spec.default_settings()
    for key in ("tick_time", "init_limit", "sync_limit", "finalize_wait", "session_timeout", "client_timeout",
                "counter_bits"):
        assert isinstance(s[key], int)


def run_scenario(seed: int) -> list:
    sim = ZabSim(5, n_clients=2, seed=seed).start()
    sim.wait_stable()
    for i in range(3):
        sim.op("c1", "write", "x", i)
        sim.op("c2", "cas", "x", [i, -i])
        sim.run_for(30 * MS)
    sim.crash(sim.leaders()[0])
    sim.run_for(2000 * MS)
    return [(t.time, t.node, t.kind, sorted(t.fields.items())) for t in sim.traces]


def test_deterministic_given_seed() -> None:
    a, b = run_scenario(11), run_scenario(11)
    assert a == b and len(a) > 50


def test_zxid_rollover_forces_a_new_epoch() -> None:
    sim = ZabSim(3, n_clients=1, settings={"counter_bits": 3, "snap_count": 0}).start()
    leader = sim.wait_stable()
    sim.start_client("c1", server=leader)
    results = [sim.do("c1", "write", "x", i).type for i in range(10)]
    assert results.count("ok") >= 8
    # counters 1..6 are usable in 3 bits; the 7th write forces an election
    assert any(t.fields["reason"] == "zxid counter rollover" for t in sim.traces_of("looking"))
    sim.wait_stable()
    proposals = [t.fields["zxid"] for t in sim.traces_of("propose")]
    assert all(counter_of(z, 3) < max_counter(3) for z in proposals)
    assert {epoch_of(z, 3) for z in proposals} == {1, 2}
    assert sim.do("c1", "read", "x").value == 9


def test_is_leader_only_when_established() -> None:
    spec = get_system("zab")
    sim = ZabSim(3)
    sim.start()
    seen_leading_unestablished = False
    while sim.step():
        for s in sim.live_servers():
            if s.state == "LEADING" and not s.established:
                seen_leading_unestablished = True
                assert not spec.is_leader(s)
        if sim.stable():
            break
    assert seen_leading_unestablished
    assert isinstance(sim.nodes[sim.leaders()[0]], ZabServer)
