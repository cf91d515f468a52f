"""Broadcast, synchronization (DIFF / TRUNC / SNAP) and recovery from disk."""

from __future__ import annotations

from directsim import MS, ZabSim

from checkers.quorum import check_quorum
from systems.zab.zxid import make_zxid


def zxids(sim: ZabSim, n: str) -> list[int]:
    return [z for z, _ in sim.delivered(n)]


def assert_prefix_consistent(sim: ZabSim) -> None:
    histories = [sim.delivered(n) for n in sim.servers if sim.nodes.get(n) is not None]
    for a in histories:
        for b in histories:
            short, long_ = (a, b) if len(a) <= len(b) else (b, a)
            assert long_[: len(short)] == short


def test_writes_commit_on_quorum_in_the_same_order_everywhere() -> None:
    sim = ZabSim(5, n_clients=3).start()
    leader = sim.wait_stable()
    ops = [sim.op(c, "write", "x", (c, i)) for i in range(10) for c in sim.clients]
    assert sim.run_until(lambda: all(o in sim.replies for o in ops), 10_000 * MS)
    assert all(sim.replies[o][1].type == "ok" for o in ops)
    sim.run_for(100 * MS)
    ref = sim.delivered(leader)
    assert len([d for _, d in ref if d.startswith("setData")]) == 30  # (and 3 createSession)
    for n in sim.servers:
        assert sim.delivered(n) == ref
    # every commit had a quorum of ACKs, the leader's own among them, and came in order
    commits = [t.fields["zxid"] for t in sim.traces_of("commit", leader)]
    assert commits == sorted(commits) == [z for z, _ in ref]
    for t in sim.traces_of("acks_quorum", leader):
        assert len(t.fields["acks"]) >= 3
    # a follower ACKs only what it has logged durably
    for n in sim.servers:
        if n == leader:
            continue
        logged_at = {t.fields["zxid"]: t.time for t in sim.traces_of("logged", n)}
        for t in sim.traces_of("ack_sent", n):
            if t.fields["zxid"] & 0xFFFFFFFF:
                assert logged_at[t.fields["zxid"]] <= t.time


def test_no_commit_without_quorum() -> None:
    sim = ZabSim(3, n_clients=1).start()
    leader = sim.wait_stable()
    sim.start_client("c1", server=leader)
    assert sim.do("c1", "read", "x").type == "ok"  # connected: its session exists
    sim.isolate(leader)
    r = sim.do("c1", "write", "x", 1)
    assert r.type == "info"  # sent, never answered
    (p,) = [t.fields["zxid"] for t in sim.traces_of("propose", leader) if t.fields["digest"].startswith("setData")]
    assert p not in [t.fields["zxid"] for t in sim.traces_of("commit", leader)]
    assert all(p not in [z for z, _ in sim.delivered(n)] for n in sim.servers)


def test_follower_restart_recovers_log_and_rejoins_via_diff() -> None:
    sim = ZabSim(3, n_clients=1, settings={"snap_count": 0}).start()
    leader = sim.wait_stable()
    sim.start_client("c1", server=leader)
    f = next(n for n in sim.servers if n != leader)
    for i in range(3):
        assert sim.do("c1", "write", "x", i).type == "ok"
    sim.run_for(50 * MS)
    sim.crash(f)
    for i in range(3, 6):
        assert sim.do("c1", "write", "x", i).type == "ok"
    sim.restart(f)
    rec = sim.traces_of("recovered", f)[-1].fields
    # (1, 1) is c1's createSession, then the writes
    assert rec["last_zxid"] == make_zxid(1, 4) and rec["current_epoch"] == 1
    sim.wait_stable()
    mode = [t.fields for t in sim.traces_of("sync_mode") if t.fields["peer"] == f][-1]
    assert mode["mode"] == "DIFF" and mode["peer_zxid"] == make_zxid(1, 4)
    sim.run_for(50 * MS)
    assert zxids(sim, f) == [make_zxid(1, i) for i in range(1, 8)]
    assert sim.nodes[f].state_digest() == sim.nodes[leader].state_digest()


def test_returning_server_with_uncommitted_txn_gets_trunc() -> None:
    sim = ZabSim(3, n_clients=2, settings={"snap_count": 0}).start()
    old = sim.wait_stable()
    assert sim.do("c1", "write", "x", 1).type == "ok"
    # the leader logs a proposal nobody else sees
    sim.start_client("c2", server=old)
    assert sim.do("c2", "read", "x").type == "ok"  # connected: its session exists
    logged = len(sim.traces_of("logged", old))
    sim.isolate(old)
    op = sim.op("c2", "write", "x", "phantom")
    assert sim.run_until(lambda: len(sim.traces_of("logged", old)) > logged, 500 * MS)
    phantom = sim.traces_of("propose", old)[-1].fields["zxid"]
    sim.crash(old)
    others = tuple(n for n in sim.servers if n != old)
    sim.heal()
    new = sim.wait_stable(others)
    sim.start_client("c1", server=new)  # c1 may have been on the crashed leader
    for i in range(2, 4):
        assert sim.do("c1", "write", "x", i).type == "ok"
    sim.restart(old)
    sim.wait_stable()
    mode = [t.fields for t in sim.traces_of("sync_mode") if t.fields["peer"] == old][-1]
    # (1, 1) c1's createSession, (1, 2) its write, (1, 3) c2's createSession
    assert mode["mode"] == "TRUNC" and mode["zxid"] == make_zxid(1, 3)
    assert sim.traces_of("truncate", old)[-1].fields["removed"] == [phantom]
    sim.run_for(50 * MS)
    assert_prefix_consistent(sim)
    assert phantom not in zxids(sim, old)
    assert sim.nodes[old].state_digest() == sim.nodes[new].state_digest()
    assert sim.wait(op).type == "info"  # sent to a leader that crashed: unknown
    assert sim.do("c1", "read", "x").value == 3


def test_far_behind_server_gets_snap() -> None:
    sim = ZabSim(3, n_clients=1, settings={"snap_count": 4}).start()
    leader = sim.wait_stable()
    sim.start_client("c1", server=leader)
    f = next(n for n in sim.servers if n != leader)
    assert sim.do("c1", "write", "x", 0).type == "ok"
    sim.run_for(20 * MS)
    sim.crash(f)
    for i in range(1, 12):
        assert sim.do("c1", "write", f"k{i % 3}", i).type == "ok"
    assert sim.traces_of("log_compacted", leader)  # the leader dropped old txns
    sim.restart(f)
    sim.wait_stable()
    mode = [t.fields for t in sim.traces_of("sync_mode") if t.fields["peer"] == f][-1]
    assert mode["mode"] == "SNAP"
    assert sim.traces_of("snapshot_received", f)
    sim.run_for(50 * MS)
    assert sim.nodes[f].state_digest() == sim.nodes[leader].state_digest()
    # and the snapshot is what it recovers from after another crash
    sim.crash(f)
    sim.restart(f)
    rec = sim.traces_of("recovered", f)[-1].fields
    assert rec["snap_zxid"] > 0
    sim.wait_stable()
    sim.run_for(50 * MS)
    assert sim.nodes[f].state_digest() == sim.nodes[leader].state_digest()


def test_whole_ensemble_restart_keeps_committed_txns() -> None:
    sim = ZabSim(3, n_clients=1).start()
    sim.wait_stable()
    for i in range(5):
        assert sim.do("c1", "write", "x", i).type == "ok"
    before = [t.fields["zxid"] for t in sim.traces_of("commit")]
    for n in sim.servers:
        sim.crash(n)
    for n in sim.servers:
        sim.restart(n)
    leader = sim.wait_stable()
    assert sim.traces_of("leader_established")[-1].fields["epoch"] == 2
    sim.run_for(50 * MS)
    for n in sim.servers:
        assert zxids(sim, n)[: len(before)] == before
    assert sim.nodes[leader].tree.get("/x").data == 4
    assert sim.do("c1", "read", "x").value == 4


def test_crash_loses_unsynced_writes_but_not_committed_ones() -> None:
    # slow disks: crash followers right after commits, with writes still in flight
    sim = ZabSim(5, n_clients=2, fsync=8 * MS, seed=7).start()
    sim.wait_stable()
    committed: list[int] = []
    for round_ in range(4):
        ops = [sim.op(c, "write", "x", (round_, c)) for c in sim.clients]
        sim.run_for(12 * MS)
        victim = sim.servers[round_ % 5]
        if sim.nodes.get(victim) is not None:
            sim.crash(victim)
        sim.run_for(100 * MS)
        sim.restart(victim)
        sim.run_until(lambda: all(o in sim.replies for o in ops), 6000 * MS)  # noqa: B023 - called in this iteration
        sim.wait_stable(timeout=10_000 * MS)
    sim.run_for(200 * MS)
    committed = sorted({t.fields["zxid"] for t in sim.traces_of("commit")})
    assert_prefix_consistent(sim)
    for n in sim.servers:
        assert set(committed) <= set(zxids(sim, n)), n
    digests = {str(s.state_digest()) for s in sim.live_servers()}
    assert len(digests) == 1


def _checker_trace(sim: ZabSim) -> list[dict]:
    return [{"time": t.time, "node": t.node, "kind": t.kind, **t.fields} for t in sim.traces]


def test_fsync_done_while_paused_is_durable_and_a_restarted_follower_may_vouch_for_it() -> None:
    """The finding zab-open-quorum-commit: a follower stopped (SIGSTOP) while writing a
    PROPOSAL's record; the fsync completes while it is stopped, so the record is durable,
    but the follower is killed before it runs again and never traces ``logged`` for it.
    Restarted, it reads the record back, is synced by DIFF from it, and its NEWLEADER ACK
    counts for it. That is safe (the record is on disk, and survives a power cut of
    everyone); the quorum checker must see it as durable, from ``recovered``."""
    sim = ZabSim(3, n_clients=1, settings={"snap_count": 0}).start()
    leader = sim.wait_stable()
    sim.start_client("c1", server=leader)
    assert sim.do("c1", "write", "x", 0).type == "ok"
    f, g = [n for n in sim.servers if n != leader]
    sim.cut_link(leader, g)  # g hears no PROPOSAL: f's ACK is the only one that can count
    proposed = len(sim.traces_of("propose", leader))
    op = sim.op("c1", "write", "x", 1)
    sim.run_until(lambda: len(sim.traces_of("propose", leader)) > proposed, 500 * MS, "the PROPOSAL")
    z = sim.traces_of("propose", leader)[-1].fields["zxid"]
    sim.run_until(lambda: sim.nodes[f].log_zxids[-1:] == [z], 500 * MS, "the follower's log write")
    sim.pause(f)  # stopped while its fsync is in flight
    sim.run_until(lambda: [r[0] for r in sim.disk[f].get("log", [])][-1:] == [z], 500 * MS, "the fsync")
    sim.crash(f)  # killed before it ran again: it never learnt the record was durable
    assert z not in [t.fields["zxid"] for t in sim.traces_of("logged", f)]
    assert z not in [t.fields["zxid"] for t in sim.traces_of("commit", leader)]
    sim.restart(f)
    rec = sim.traces_of("recovered", f)[-1].fields
    assert rec["last_zxid"] == z and rec["durable_log"][-1][1] == z
    assert sim.wait(op).type == "ok"
    mode = [t.fields for t in sim.traces_of("sync_mode") if t.fields["peer"] == f][-1]
    assert mode["mode"] == "DIFF" and mode["peer_zxid"] == z
    (quorum,) = [t.fields["acks"] for t in sim.traces_of("acks_quorum", leader) if t.fields["zxid"] == z]
    assert sorted(quorum) == sorted([leader, f])
    assert z not in [t.fields["zxid"] for t in sim.traces_of("logged", f)]  # vouched for from disk alone

    trace = _checker_trace(sim)
    assert check_quorum(trace, list(sim.servers)).valid is True
    # without what the restart read back, the checker cannot tell the record was durable
    blind = [{k: v for k, v in ev.items() if k != "durable_log"} for ev in trace]
    res = check_quorum(blind, list(sim.servers))
    assert res.valid is False and res.anomalies["quorum-commit"][0]["not_durable"] == [f]

    # and it is durable: after a power cut of everyone it is still there, everywhere
    sim.heal()
    sim.run_for(50 * MS)
    for n in sim.servers:
        sim.crash(n)
    for n in sim.servers:
        sim.restart(n)
    new = sim.wait_stable()
    sim.run_for(50 * MS)
    assert all(z in zxids(sim, n) for n in sim.servers)
    sim.start_client("c1", server=new)
    assert sim.do("c1", "read", "x").value == 1
