"""The client library against a live ensemble: operations, sync reads, failover."""

from __future__ import annotations

from directsim import MS, ZabSim


def test_write_read_cas_round_trip() -> None:
    sim = ZabSim(3, n_clients=2).start()
    sim.wait_stable()
    assert sim.do("c1", "read", "x").value is None  # absent
    w = sim.do("c1", "write", "x", 1)
    assert w.type == "ok" and w.value is None and dict(w.extra)["zxid"] > 0
    r = sim.do("c2", "read", "x")
    assert (r.type, r.value) == ("ok", 1)
    assert dict(r.extra)["zxid"] >= dict(w.extra)["zxid"]
    assert sim.do("c2", "cas", "x", [1, 2]).type == "ok"
    bad = sim.do("c1", "cas", "x", [1, 3])
    assert (bad.type, bad.error) == ("fail", "value mismatch")
    assert sim.do("c1", "read", "x").value == 2
    # cas from "absent" creates the znode; a second one fails
    assert sim.do("c1", "cas", "y", [None, 7]).type == "ok"
    assert sim.do("c2", "cas", "y", [None, 8]).type == "fail"
    assert sim.do("c2", "read", "y").value == 7
    # JSON-able values of any shape
    assert sim.do("c1", "write", "z", [1, "a"]).type == "ok"
    assert sim.do("c2", "read", "z").value == [1, "a"]


def test_cas_losing_race_fails_with_bad_version() -> None:
    sim = ZabSim(3, n_clients=2).start()
    sim.wait_stable()
    assert sim.do("c1", "write", "x", 0).type == "ok"
    a = sim.op("c1", "cas", "x", [0, "a"])
    b = sim.op("c2", "cas", "x", [0, "b"])
    ra, rb = sim.wait(a), sim.wait(b)
    assert sorted([ra.type, rb.type]) == ["fail", "ok"]
    winner = "a" if ra.type == "ok" else "b"
    assert sim.do("c1", "read", "x").value == winner


def test_operations_of_one_client_are_fifo() -> None:
    sim = ZabSim(3, n_clients=1).start()
    sim.wait_stable()
    ops = [sim.op("c1", "write", "x", i) for i in range(5)] + [sim.op("c1", "read", "x")]
    for o in ops:
        sim.wait(o)
    assert [sim.replies[o][1].type for o in ops] == ["ok"] * 6
    assert sim.replies[ops[-1]][1].value == 4
    times = [sim.replies[o][0] for o in ops]
    assert times == sorted(times)


def test_sync_read_sees_a_write_committed_just_before_local_read_may_not() -> None:
    sim = ZabSim(3, n_clients=1).start()
    leader = sim.wait_stable()
    lagging = "n1"
    sim.start_client("c1", server=leader)
    sim.start_client("local", server=lagging, settings={"reads": "local"})
    sim.start_client("synced", server=lagging, settings={"reads": "sync"})
    assert sim.do("local", "read", "x").value is None  # connect both first
    assert sim.do("synced", "read", "x").value is None
    sim.link_latency[(leader, lagging)] = 150 * MS  # the leader's news reach n1 late
    assert sim.do("c1", "write", "x", 1).type == "ok"
    stale = sim.do("local", "read", "x")
    assert (stale.type, stale.value, stale.node) == ("ok", None, lagging)
    fresh = sim.do("synced", "read", "x")
    assert (fresh.type, fresh.value, fresh.node) == ("ok", 1, lagging)


def test_sync_needs_a_quorum_round() -> None:
    sim = ZabSim(3, n_clients=1).start()
    leader = sim.wait_stable()
    sim.start_client("c1", server=leader)
    assert sim.do("c1", "read", "x").value is None
    sim.isolate(leader)  # the leader does not know yet, but cannot confirm a sync
    r = sim.do("c1", "read", "x")
    # the old leader never answers; once it steps down the client fails over
    assert r.node != leader
    assert not [t for t in sim.traces if t.node == leader and t.kind == "sync_done"]


def test_failover_when_server_stops_serving() -> None:
    sim = ZabSim(3, n_clients=1).start()
    leader = sim.wait_stable()
    follower = next(n for n in sim.servers if n != leader)
    sim.start_client("c1", server=follower)
    assert sim.do("c1", "write", "x", 1).type == "ok"
    sim.isolate(follower)
    sim.run_until(lambda: sim.nodes[follower].state == "LOOKING", 2000 * MS)
    r = sim.do("c1", "write", "x", 2)  # refused by the LOOKING server, retried elsewhere
    assert r.type == "ok" and r.node != follower
    assert sim.do("c1", "read", "x").value == 2


def test_read_from_dead_server_fails_write_is_info() -> None:
    sim = ZabSim(3, n_clients=1).start()
    leader = sim.wait_stable()
    follower = next(n for n in sim.servers if n != leader)
    sim.start_client("c1", server=follower)
    assert sim.do("c1", "read", "x").value is None
    sim.crash(follower)
    r = sim.do("c1", "read", "x")
    assert (r.type, r.error) == ("fail", "ConnectionLoss")
    # the client moved on: the next operation goes to a live server
    w = sim.do("c1", "write", "x", 1)
    assert w.type == "ok"
    sim.crash(w.node)
    w2 = sim.do("c1", "write", "x", 2)
    assert w2.type == "info"


def test_session_never_goes_back_in_time() -> None:
    sim = ZabSim(3, n_clients=1).start()
    leader = sim.wait_stable()
    lagging = next(n for n in sim.servers if n != leader)
    sim.start_client("c1", server=leader)
    sim.cut.add((leader, lagging))  # lagging stops hearing (not yet LOOKING)
    w = sim.do("c1", "write", "x", 1)
    assert w.type == "ok"
    client = sim.nodes["c1"]
    client.server, client.connected = lagging, False  # fail over to the lagging server
    r = sim.do("c1", "read", "x")
    assert r.type == "ok" and r.value == 1 and r.node != lagging
    assert dict(r.extra)["zxid"] >= dict(w.extra)["zxid"]
