"""Fast Leader Election and discovery, driven directly (tests/directsim.py)."""

from __future__ import annotations

import pytest
from directsim import MS, ZabSim

from systems.zab.datatree import Txn
from systems.zab.election import Vote, sid_rank, total_order_predicate
from systems.zab.zxid import epoch_of, make_zxid


def put(path: str, value: int) -> list:
    return list(Txn("setData", path, value, -1, "n0", "c0", value).to_record())


def seed_disk(sim: ZabSim, node: str, accepted: int, current: int, zxids: list[tuple[int, int]]) -> None:
    sim.disk[node]["acceptedEpoch"] = [accepted]
    sim.disk[node]["currentEpoch"] = [current]
    sim.disk[node]["log"] = [[make_zxid(e, c), put("/x", 100 * e + c)] for e, c in zxids]


def test_vote_order_is_epoch_then_zxid_then_sid() -> None:
    rank = sid_rank(("n1", "n2", "n10", "n9"))
    assert rank["n10"] > rank["n9"]  # natural order of sids
    a = Vote("n1", make_zxid(1, 5), 2)
    assert total_order_predicate(Vote("n2", 0, 3), a, rank)  # higher epoch wins
    assert not total_order_predicate(Vote("n2", make_zxid(9, 9), 1), a, rank)
    assert total_order_predicate(Vote("n2", make_zxid(1, 6), 2), a, rank)  # then zxid
    assert total_order_predicate(Vote("n2", make_zxid(1, 5), 2), a, rank)  # then sid
    assert not total_order_predicate(a, a, rank)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_fresh_ensemble_elects_exactly_one_leader(n: int) -> None:
    sim = ZabSim(n).start()
    leader = sim.wait_stable(timeout=2000 * MS)
    assert leader == f"n{n}"  # equal votes: the highest sid wins
    sim.run_for(2000 * MS)  # and it stays so
    assert sim.leaders() == [leader]
    est = sim.traces_of("leader_established")
    assert len(est) == 1 and est[0].fields["epoch"] == 1
    assert all(s.current_epoch == 1 for s in sim.live_servers())
    # every member shows LOOKING peers the same (leader, peerEpoch) (ZOOKEEPER-1732)
    assert {(s.current_vote.leader, s.current_vote.peer_epoch) for s in sim.live_servers()} == {(leader, 1)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_most_recent_server_wins_and_no_txn_lost_3(seed: int) -> None:
    sim = ZabSim(3, seed=seed)
    # n1 holds the newest history (epoch 2); n3 has the highest sid but an old epoch and
    # an extra txn of epoch 1 that was never committed
    seed_disk(sim, "n1", 2, 2, [(1, 1), (1, 2), (2, 1)])
    seed_disk(sim, "n2", 2, 2, [(1, 1), (1, 2)])
    seed_disk(sim, "n3", 1, 1, [(1, 1), (1, 2), (1, 3)])
    sim.start()
    assert sim.wait_stable() == "n1"
    est = sim.traces_of("leader_established")[0]
    assert est.fields["epoch"] == 3
    want = [make_zxid(1, 1), make_zxid(1, 2), make_zxid(2, 1)]
    for n in sim.servers:
        assert [z for z, _ in sim.delivered(n)] == want, n
    modes = {t.fields["peer"]: t.fields["mode"] for t in sim.traces_of("sync_mode")}
    assert modes == {"n2": "DIFF", "n3": "TRUNC"}
    trunc = sim.traces_of("truncate", "n3")[0].fields
    assert trunc == {"to_zxid": make_zxid(1, 2), "removed": [make_zxid(1, 3)]}


def test_most_recent_server_wins_5() -> None:
    sim = ZabSim(5, seed=3)
    seed_disk(sim, "n1", 3, 3, [(1, 1), (3, 1)])
    seed_disk(sim, "n2", 3, 3, [(1, 1), (3, 1), (3, 2)])  # the most recent
    seed_disk(sim, "n3", 3, 3, [(1, 1), (3, 1)])
    seed_disk(sim, "n4", 2, 1, [(1, 1), (1, 2)])
    seed_disk(sim, "n5", 1, 1, [(1, 1)])
    sim.start()
    assert sim.wait_stable() == "n2"
    assert sim.traces_of("leader_established")[0].fields["epoch"] == 4
    for n in sim.servers:
        assert [z for z, _ in sim.delivered(n)] == [make_zxid(1, 1), make_zxid(3, 1), make_zxid(3, 2)]
    # n4 holds (1,2), which no quorum has: truncated within epoch 1
    assert sim.traces_of("truncate", "n4")[0].fields["removed"] == [make_zxid(1, 2)]


def test_minority_cannot_elect() -> None:
    sim = ZabSim(5)
    sim.partition(("n1", "n2"), ("n3", "n4", "n5"))
    sim.start()
    leader = sim.wait_stable(("n3", "n4", "n5"))
    assert leader == "n5"
    sim.run_for(3000 * MS)
    assert sim.leaders() == ["n5"]
    assert sim.nodes["n1"].state == "LOOKING" and sim.nodes["n2"].state == "LOOKING"
    # after healing, the minority joins the existing leader without a new election
    sim.heal()
    sim.wait_stable()
    assert sim.leaders() == ["n5"] and len(sim.traces_of("leader_established")) == 1


def test_restarted_server_joins_existing_leader() -> None:
    sim = ZabSim(3).start()
    leader = sim.wait_stable()
    follower = "n1"
    sim.crash(follower)
    sim.run_for(200 * MS)
    sim.restart(follower)
    sim.wait_stable()
    assert sim.leaders() == [leader]
    assert len(sim.traces_of("leader_established")) == 1  # no new epoch was needed


def test_leader_crash_elects_new_leader_with_higher_epoch() -> None:
    sim = ZabSim(5, n_clients=1).start()
    old = sim.wait_stable()
    for i in range(5):
        assert sim.do("c1", "write", "x", i).type == "ok"
    committed = [t.fields["zxid"] for t in sim.traces_of("commit", old)]
    sim.crash(old)
    new = sim.wait_stable(tuple(n for n in sim.servers if n != old))
    assert new != old
    est = sim.traces_of("leader_established")
    assert epoch_of(est[-1].fields["zxid"]) == 1 and est[-1].fields["epoch"] == 2
    for n in sim.servers:
        if n != old:
            assert [z for z, _ in sim.delivered(n)][: len(committed)] == committed
    assert sim.do("c1", "read", "x").value == 4


def test_leader_steps_down_without_quorum() -> None:
    sim = ZabSim(3).start()
    leader = sim.wait_stable()
    sim.isolate(leader)
    assert sim.run_until(lambda: sim.nodes[leader].state == "LOOKING", 1000 * MS)
    looking = sim.traces_of("looking", leader)[-1].fields
    assert looking["reason"] == "not sufficient followers synced"
    sim.wait_stable(tuple(n for n in sim.servers if n != leader))
