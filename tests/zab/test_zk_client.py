"""The client API of systems/zab/api.py against a live ensemble: znodes, errors, order,
watches, reconnects, close and reopen."""

from __future__ import annotations

from zksim import MS, ZkSim

from systems.zab.api import (
    BAD_VERSION,
    CONNECTION_LOSS,
    DISCONNECTED,
    NO_CHILDREN_FOR_EPHEMERALS,
    NO_NODE,
    NODE_CHILDREN_CHANGED,
    NODE_CREATED,
    NODE_DATA_CHANGED,
    NODE_DELETED,
    NODE_EXISTS,
    NOT_EMPTY,
    SESSION_EXPIRED_ERROR,
    SYNC_CONNECTED,
)


def ok(r):
    assert r.type == "ok", r
    return r.value


def test_znode_operations_results_and_errors() -> None:
    sim = ZkSim(3, n_clients=2).start()
    sim.wait_stable()
    assert ok(sim.call("c1", "create", "/app", data="cfg")) == "/app"
    assert sim.call("c2", "create", "/app", data="x").error == NODE_EXISTS
    assert sim.call("c1", "create", "/none/kid").error == NO_NODE
    assert ok(sim.call("c1", "exists", "/nothing")) is None
    got = ok(sim.call("c2", "getData", "/app"))
    assert got["data"] == "cfg" and got["stat"]["version"] == 0 and got["stat"]["ephemeralOwner"] is None
    assert sim.call("c2", "getData", "/nothing").error == NO_NODE
    stat = ok(sim.call("c2", "setData", "/app", data="v1", version=0))
    assert stat["version"] == 1 and stat["mzxid"] > stat["czxid"] == got["stat"]["czxid"]
    assert sim.call("c1", "setData", "/app", data="v2", version=0).error == BAD_VERSION
    assert sim.call("c1", "setData", "/nothing", data=1).error == NO_NODE  # ZooKeeper's setData
    assert ok(sim.call("c1", "setData", "/app", data="v3")) ["version"] == 2  # -1: any version
    # sequential and ephemeral
    seq = [ok(sim.call("c1", "create", "/app/job-", data=i, sequential=True)) for i in range(3)]
    assert seq == ["/app/job-0000000000", "/app/job-0000000001", "/app/job-0000000002"]
    eph = ok(sim.call("c2", "create", "/app/lock-", ephemeral=True, sequential=True))
    assert eph == "/app/lock-0000000003"
    st = ok(sim.call("c1", "exists", eph))
    assert st["ephemeralOwner"] == sim.session_of("c2") != sim.session_of("c1")
    assert sim.call("c1", "create", eph + "/kid").error == NO_CHILDREN_FOR_EPHEMERALS
    assert ok(sim.call("c1", "getChildren", "/app")) == [p.rsplit("/", 1)[1] for p in seq + [eph]]
    assert ok(sim.call("c1", "exists", "/app"))["cversion"] == 4
    # delete: version, NotEmpty
    assert sim.call("c1", "delete", "/app").error == NOT_EMPTY
    assert sim.call("c1", "delete", seq[0], version=3).error == BAD_VERSION
    assert ok(sim.call("c1", "delete", seq[0], version=0)) is None
    assert sim.call("c1", "delete", seq[0]).error == NO_NODE
    assert ok(sim.call("c1", "sync", "/app")) is None
    # results carry the zxid they were answered at
    r = sim.call("c2", "getChildren", "/app")
    assert dict(r.extra)["zxid"] >= dict(sim.call("c1", "exists", "/app").extra)["zxid"] - 0
    assert sim.events("c1") == [{"type": SYNC_CONNECTED, "path": None}]


def test_pipelined_requests_are_answered_in_order_and_reads_see_earlier_writes() -> None:
    sim = ZkSim(3, n_clients=1).start()
    sim.wait_stable()
    ok(sim.call("c1", "exists", "/"))  # connected
    ops = [
        sim.send("c1", "create", "/p", data=0),
        sim.send("c1", "getData", "/p"),
        sim.send("c1", "setData", "/p", data=1),
        sim.send("c1", "setData", "/p", data=2, version=1),
        sim.send("c1", "getData", "/p"),
        sim.send("c1", "create", "/p", data=9),
        sim.send("c1", "getChildren", "/"),
    ]
    for o in ops:
        sim.wait(o)
    answered = [r.op_id for r in sim.log["c1"] if r.op_id in ops]
    assert answered == ops
    rs = [sim.replies[o][1] for o in ops]
    assert [r.type for r in rs] == ["ok"] * 5 + ["fail", "ok"]
    assert rs[1].value["data"] == 0 and rs[4].value["data"] == 2 and rs[5].error == NODE_EXISTS
    zxids = [dict(r.extra)["zxid"] for r in rs]
    assert zxids == sorted(zxids)


def test_data_child_and_exists_watches_fire_once_before_the_change_is_readable() -> None:
    sim = ZkSim(3, n_clients=2).start()
    sim.wait_stable()
    ok(sim.call("c1", "create", "/w", data=0))
    ok(sim.call("c2", "getData", "/w", watch=True))
    ok(sim.call("c2", "getChildren", "/w", watch=True))
    assert ok(sim.call("c2", "exists", "/w/new", watch=True)) is None
    ok(sim.call("c1", "setData", "/w", data=1))
    ok(sim.call("c1", "setData", "/w", data=2))  # one-shot: no second event
    ok(sim.call("c1", "create", "/w/new"))
    r = sim.call("c2", "getData", "/w")
    assert r.value["data"] == 2
    log = [x.value if x.op_id == -1 else ("answer", x.op_id) for x in sim.log["c2"]]
    i_event = log.index({"type": NODE_DATA_CHANGED, "path": "/w"})
    assert i_event < log.index(("answer", r.op_id))  # the event before the data it announces
    evs = sim.events("c2")[1:]
    assert evs == [
        {"type": NODE_DATA_CHANGED, "path": "/w"},
        {"type": NODE_CREATED, "path": "/w/new"},  # then the parent's, as ZooKeeper
        {"type": NODE_CHILDREN_CHANGED, "path": "/w"},
    ]
    # deletion fires data and child watches on the node itself
    ok(sim.call("c2", "getData", "/w/new", watch=True))
    ok(sim.call("c2", "getChildren", "/w", watch=True))
    ok(sim.call("c1", "delete", "/w/new"))
    sim.run_for(20 * MS)
    assert sim.events("c2")[4:] == [
        {"type": NODE_DELETED, "path": "/w/new"},
        {"type": NODE_CHILDREN_CHANGED, "path": "/w"},
    ]
    assert not sim.events("c1", NODE_DATA_CHANGED)


def test_a_reconnecting_client_reregisters_its_watches() -> None:
    sim = ZkSim(3, n_clients=2).start()
    leader = sim.wait_stable()
    first = next(n for n in sim.servers if n != leader)
    sim.start_client("c1", server=first)
    ok(sim.call("c2", "create", "/a", data=0))
    ok(sim.call("c2", "create", "/b", data=0))
    ok(sim.call("c1", "getData", "/a", watch=True))  # will change while c1 is away
    ok(sim.call("c1", "getData", "/b", watch=True))  # will change after c1 is back
    assert ok(sim.call("c1", "exists", "/c", watch=True)) is None
    session = sim.session_of("c1")
    sim.cut_client("c1", (first,))  # c1's server falls silent for it
    ok(sim.call("c2", "setData", "/a", data=1))
    assert sim.run_until(lambda: bool(sim.events("c1", DISCONNECTED)), 2000 * MS)
    assert sim.run_until(lambda: len(sim.events("c1", SYNC_CONNECTED)) == 2, 2000 * MS)
    assert sim.nodes["c1"].server != first and sim.session_of("c1") == session
    sim.run_for(20 * MS)
    assert sim.events("c1", NODE_DATA_CHANGED) == [{"type": NODE_DATA_CHANGED, "path": "/a"}]
    ok(sim.call("c2", "setData", "/b", data=1))
    ok(sim.call("c2", "create", "/c"))
    sim.run_for(20 * MS)
    assert sim.events("c1")[-2:] == [
        {"type": NODE_DATA_CHANGED, "path": "/b"},
        {"type": NODE_CREATED, "path": "/c"},
    ]
    assert not sim.nodes["c1"].data_watches and not sim.nodes["c1"].exist_watches


def test_connection_loss_outcomes_and_requests_made_while_disconnected() -> None:
    sim = ZkSim(3, n_clients=1).start()
    leader = sim.wait_stable()
    sim.start_client("c1", server=leader)
    ok(sim.call("c1", "create", "/x", data=0))
    sim.isolate(leader)
    w = sim.send("c1", "setData", "/x", data=1)
    r = sim.send("c1", "getData", "/x")  # held behind the write
    rw, rr = sim.wait(w), sim.wait(r)
    assert (rw.type, rw.error) == ("info", CONNECTION_LOSS)  # sent, fate unknown
    assert (rr.type, rr.error) == ("fail", CONNECTION_LOSS)
    # asked while disconnected: waits for the next connection
    later = sim.send("c1", "getData", "/x")
    res = sim.wait(later, 3000 * MS)
    assert res.type == "ok" and res.node != leader


def test_close_ends_the_session_and_reopen_starts_a_new_one() -> None:
    sim = ZkSim(3, n_clients=2).start()
    sim.wait_stable()
    ok(sim.call("c1", "create", "/e", ephemeral=True))
    ok(sim.call("c2", "exists", "/e", watch=True))
    old = sim.session_of("c1")
    assert ok(sim.call("c1", "close")) is None
    sim.run_for(20 * MS)
    assert sim.events("c2", NODE_DELETED) == [{"type": NODE_DELETED, "path": "/e"}]
    assert sim.call("c1", "getData", "/e").error == SESSION_EXPIRED_ERROR
    assert ok(sim.call("c1", "reopen")) is None
    ok(sim.call("c1", "create", "/e", ephemeral=True))
    assert sim.session_of("c1") not in (0, old)
    assert ok(sim.call("c2", "exists", "/e"))["ephemeralOwner"] == sim.session_of("c1")
    deleted = [t.fields for t in sim.traces_of("ephemeral_deleted")]
    assert {(d["session"], d["path"]) for d in deleted} == {(old, "/e")}
    assert len(deleted) == 3  # once per server


def test_duplicated_messages_do_not_duplicate_txns_events_or_answers() -> None:
    sim = ZkSim(3, n_clients=2, duplicate=0.5, seed=3).start()
    sim.wait_stable()
    ok(sim.call("c1", "create", "/d", data=0))
    for i in range(5):
        ok(sim.call("c2", "getData", "/d", watch=True))
        ok(sim.call("c1", "setData", "/d", data=i + 1))
    sim.run_for(50 * MS)
    assert sim.events("c2", NODE_DATA_CHANGED) == [{"type": NODE_DATA_CHANGED, "path": "/d"}] * 5
    assert ok(sim.call("c2", "exists", "/d"))["version"] == 5
    sessions = [t for t in sim.traces_of("deliver", sim.servers[0]) if t.fields["digest"].startswith("createSession")]
    assert len(sessions) == 2
    answers = [r.op_id for r in sim.log["c1"] if r.op_id != -1]
    assert len(answers) == len(set(answers))


def test_deliver_trace_carries_the_znode_and_its_data_after_the_txn() -> None:
    from checkers.session import committed_values

    sim = ZkSim(3, n_clients=1).start()
    sim.wait_stable()
    ok(sim.call("c1", "create", "/k", data="a"))
    ok(sim.call("c1", "setData", "/k", data="b"))
    assert sim.call("c1", "setData", "/k", data="c", version=0).error == BAD_VERSION
    seq = ok(sim.call("c1", "create", "/k/s-", data=1, sequential=True))
    ok(sim.call("c1", "delete", seq))
    assert sim.do("c1", "write", "x", 5).type == "ok"  # the register's put
    sim.run_for(20 * MS)
    for n in sim.servers:
        ds = [t.fields for t in sim.traces_of("deliver", n)]
        assert "path" not in ds[0] and ds[0]["session"] == sim.session_of("c1")  # createSession
        assert [(d["path"], d["data"]) for d in ds[1:]] == [
            ("/k", "a"),
            ("/k", "b"),
            ("/k", "b"),  # a failed version check: the data unchanged
            (seq, 1),
            (seq, None),  # deleted
            ("/x", 5),
        ]
    trace = [{"kind": t.kind, **t.fields} for t in sim.traces]
    values = committed_values(trace)
    assert values["/k"][1] == ["a", "b", "b"] and values["/x"][1] == [5]
