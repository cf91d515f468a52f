"""Sessions: created through ZAB, kept alive by pings (relayed by followers), expired by the
leader's session tracker on its monotonic clock, surviving leader changes."""

from __future__ import annotations

from zksim import MS, ZkSim

from systems.zab.api import (
    NODE_CHILDREN_CHANGED,
    NODE_DELETED,
    SESSION_EXPIRED,
    SESSION_EXPIRED_ERROR,
    SYNC_CONNECTED,
)

TIMEOUT = 2000 * MS  # the default session timeout (20 ticks)


def ok(r):
    assert r.type == "ok", r
    return r.value


def converged(sim: ZkSim) -> bool:
    return len({str(s.state_digest()) for s in sim.live_servers()}) == 1


def test_expiry_deletes_ephemerals_everywhere_and_fires_other_clients_watches() -> None:
    sim = ZkSim(3, n_clients=2).start()
    leader = sim.wait_stable()
    follower = next(n for n in sim.servers if n != leader)
    sim.start_client("c1", server=follower)  # its pings reach the leader relayed
    ok(sim.call("c2", "create", "/election"))
    me = ok(sim.call("c1", "create", "/election/n_", data="c1", ephemeral=True, sequential=True))
    ok(sim.call("c1", "create", "/owned", ephemeral=True))
    session = sim.session_of("c1")
    ok(sim.call("c2", "exists", me, watch=True))
    ok(sim.call("c2", "getChildren", "/election", watch=True))
    sim.run_for(3 * TIMEOUT)  # idle, but pinging: alive
    assert not sim.traces_of("session_expired")
    sim.crash("c1")  # the client dies: no more pings
    assert sim.run_until(lambda: bool(sim.traces_of("session_expired")), 2 * TIMEOUT)
    (exp,) = [t.fields for t in sim.traces_of("session_expired")]
    assert exp["session"] == session and exp["timeout"] == TIMEOUT
    # measured on the leader's monotonic clock, within a tick of the timeout
    assert exp["idle"] == exp["now"] - exp["last_ping"]
    assert TIMEOUT < exp["idle"] <= TIMEOUT + 100 * MS
    assert sim.run_until(lambda: len(sim.traces_of("ephemeral_deleted")) == 6, 500 * MS)
    assert {(t.fields["session"], t.fields["path"]) for t in sim.traces_of("ephemeral_deleted")} == {
        (session, me),
        (session, "/owned"),
    }
    sim.run_for(20 * MS)
    assert sim.events("c2")[1:] == [
        {"type": NODE_DELETED, "path": me},
        {"type": NODE_CHILDREN_CHANGED, "path": "/election"},
    ]
    assert ok(sim.call("c2", "getChildren", "/election")) == []
    assert converged(sim)
    assert all(session not in s.tree.sessions for s in sim.live_servers())


def test_the_client_learns_of_expiry_when_it_reconnects_then_reopens() -> None:
    sim = ZkSim(3, n_clients=2).start()
    sim.wait_stable()
    ok(sim.call("c1", "create", "/e", ephemeral=True))
    ok(sim.call("c2", "exists", "/e", watch=True))
    old = sim.session_of("c1")
    sim.cut_client("c1")
    assert sim.run_until(lambda: bool(sim.events("c2", NODE_DELETED)), 3 * TIMEOUT)
    assert not sim.events("c1", SESSION_EXPIRED)  # it cannot know yet
    sim.uncut_client("c1")
    assert sim.run_until(lambda: bool(sim.events("c1", SESSION_EXPIRED)), 2 * TIMEOUT)
    assert sim.call("c1", "exists", "/e").error == SESSION_EXPIRED_ERROR
    assert sim.call("c1", "create", "/e", ephemeral=True).error == SESSION_EXPIRED_ERROR
    ok(sim.call("c1", "reopen"))
    ok(sim.call("c1", "create", "/e", ephemeral=True))
    assert sim.session_of("c1") != old
    assert sim.events("c1")[-1] == {"type": SYNC_CONNECTED, "path": None}


def test_pings_keep_a_session_alive_across_a_leader_change() -> None:
    sim = ZkSim(3, n_clients=2).start()
    leader = sim.wait_stable()
    follower = next(n for n in sim.servers if n != leader)
    sim.start_client("c1", server=follower)
    ok(sim.call("c1", "create", "/e", ephemeral=True))
    session = sim.session_of("c1")
    sim.run_for(2 * TIMEOUT)
    sim.crash(leader)
    others = tuple(n for n in sim.servers if n != leader)
    new = sim.wait_stable(others)
    assert new != leader
    sim.run_for(3 * TIMEOUT)  # the new leader tracks the session afresh; pings keep it
    assert not sim.traces_of("session_expired")
    assert sim.nodes[new].session_tracker.is_live(session)
    assert ok(sim.call("c2", "exists", "/e"))["ephemeralOwner"] == session
    assert ok(sim.call("c1", "getData", "/e"))["stat"]["ephemeralOwner"] == session
    assert sim.session_of("c1") == session and not sim.events("c1", SESSION_EXPIRED)


def test_a_new_leader_expires_the_sessions_of_clients_that_died_meanwhile() -> None:
    sim = ZkSim(3, n_clients=2).start()
    leader = sim.wait_stable()
    ok(sim.call("c1", "create", "/e", ephemeral=True))
    session = sim.session_of("c1")
    sim.crash("c1")
    sim.crash(leader)
    new = sim.wait_stable(tuple(n for n in sim.servers if n != leader))
    established = sim.traces_of("leader_established", new)[-1].time
    assert sim.run_until(lambda: bool(sim.traces_of("session_expired", new)), 2 * TIMEOUT)
    exp = sim.traces_of("session_expired", new)[0]
    assert exp.fields["session"] == session
    assert exp.time - established > TIMEOUT  # a full timeout from when it took over
    sim.run_for(50 * MS)
    assert ok(sim.call("c2", "exists", "/e")) is None


def test_session_timeout_is_clamped_to_2_and_20_ticks() -> None:
    sim = ZkSim(3).start()
    sim.wait_stable()
    sim.start_client("short", settings={"session_timeout": 50 * MS})
    sim.start_client("long", settings={"session_timeout": 60_000 * MS})
    ok(sim.call("short", "exists", "/"))
    ok(sim.call("long", "exists", "/"))
    created = {t.fields["session"]: t.fields["timeout"] for t in sim.traces_of("session_created")}
    assert created[sim.session_of("short")] == 200 * MS  # 2 ticks of 100 ms
    assert created[sim.session_of("long")] == 2000 * MS  # 20 ticks
    assert sim.nodes["short"].negotiated_timeout == 200 * MS
    sim.run_for(1000 * MS)  # pings every third of 200 ms keep even the short one alive
    assert not sim.traces_of("session_expired")


def test_expiry_is_measured_on_the_monotonic_clock_not_the_wall_clock() -> None:
    sim = ZkSim(3, n_clients=1).start()
    leader = sim.wait_stable()
    ok(sim.call("c1", "create", "/e", ephemeral=True))
    node = sim.nodes[leader]
    node.on_wallclock(3600 * 10**9, sim.clock(leader))  # the leader's wall clock jumps an hour
    sim.run_for(2 * TIMEOUT)
    assert not sim.traces_of("session_expired")
    assert ok(sim.call("c1", "exists", "/e")) is not None


def test_register_operations_reopen_an_expired_session_themselves() -> None:
    sim = ZkSim(3, n_clients=1).start()
    sim.wait_stable()
    assert sim.do("c1", "write", "x", 1).type == "ok"
    old = sim.session_of("c1")
    sim.cut_client("c1")
    assert sim.run_until(lambda: bool(sim.traces_of("session_expired")), 3 * TIMEOUT)
    sim.run_for(100 * MS)
    sim.uncut_client("c1")
    w = sim.do("c1", "write", "x", 2)
    assert w.type == "ok"
    assert sim.events("c1", SESSION_EXPIRED) and sim.session_of("c1") not in (0, old)
    r = sim.do("c1", "read", "x")
    assert (r.type, r.value) == ("ok", 2) and dict(r.extra)["zxid"] >= dict(w.extra)["zxid"]
