"""Two planted bugs that used to escape their checkers, and what catches them now.

- ``zab-vote-order-not-total`` (ZOOKEEPER-1419): the votes cycle, every notification is
  answered by re-broadcasts, and the election's messages multiply. The simulator's storm
  budget (harness/sim.py) stops such a run within a bounded number of events and the
  liveness checker reports the storm. Before the budget the run never ended.
- ``zab-propose-only-synced`` (protocol spec, TLC): the leader skips a follower between
  NEWLEADER and its ACK. Under the bug the follower does what ZooKeeper's does with the
  hole (a gap in proposals is only noted; a COMMIT of a txn it never got is ignored when
  nothing is pending), so its delivered history misses a txn and the quorum checker sees
  it. Before, our follower's loss checks resynced it first.

The run-level cases are the first failing seeds of ``python bench/bugs.py`` (campaign
seed 1): each is checked with and without its bug.
"""

from __future__ import annotations

from directsim import persist_all, synced_follower, traces

from harness.config import RunConfig
from harness.node import Send
from harness.runner import run_test
from harness.sim import STORM_EVENTS
from systems.zab import messages as m
from systems.zab.datatree import Txn
from systems.zab.election import Vote, sid_rank, total_order_predicate
from systems.zab.zxid import make_zxid

VOTE_ORDER = "zab-vote-order-not-total"
PROPOSE = "zab-propose-only-synced"

#: run 19 of the hunt of zab-vote-order-not-total (bench/bugs.py, campaign seed 1)
STORM_RUN = RunConfig(
    nemesis=("power", "partition", "kill"), time_limit=30.0, seed=343007043982809383,
    swarm={"kill": 1.806, "partition": 1.958, "power": 0.706}, bugs=(VOTE_ORDER,),
)
#: run 0 of the hunt of zab-propose-only-synced
HOLE_RUN = RunConfig(
    nemesis=("kill", "crash", "pause"), time_limit=30.0, seed=13299615424501358415,
    swarm={"crash": 1.792, "kill": 1.266, "pause": 1.653}, bugs=(PROPOSE,),
)


# ------------------------------------------------------------- zab-vote-order-not-total

def test_the_buggy_vote_order_has_a_cycle() -> None:
    rank = sid_rank(("n1", "n2", "n3", "n4", "n5"))
    z = make_zxid(1, 7)
    newer, higher_sid = Vote("n1", z, 2), Vote("n5", z, 1)
    bugs = frozenset({VOTE_ORDER})
    # each beats the other: the relation is not an order, so the votes can go round
    assert total_order_predicate(newer, higher_sid, rank, bugs)
    assert total_order_predicate(higher_sid, newer, rank, bugs)
    # the correct order picks the newer epoch, one way only
    assert total_order_predicate(newer, higher_sid, rank)
    assert not total_order_predicate(higher_sid, newer, rank)


def test_vote_cycle_storm_ends_the_run_as_a_liveness_failure() -> None:
    r = run_test(STORM_RUN)
    stats = r.results["stats"]
    storm = stats["storm"]
    # stopped at the storm budget's second look (the first 20,000 events took seconds)
    assert stats["events"] <= 3 * STORM_EVENTS
    assert storm["span_ns"] < 100_000_000 and storm["messages_sent"] > STORM_EVENTS
    # what multiplied is the election's notifications
    by_type = storm["in_flight_by_type"]
    assert by_type["Notification"] > 0.9 * storm["in_flight"] > 10_000
    live = r.checkers["liveness"]
    assert live.valid is False and live.explanation.startswith("message storm: ")
    assert live.kinds == ["message-storm"]
    assert r.valid is False
    # the end state is not judged: the run stopped before healing
    assert r.checkers["convergence"].valid == "unknown"
    assert stats["simulated_ns"] < 31 * 10**9


def test_same_seed_without_the_bug_settles_and_passes() -> None:
    r = run_test(STORM_RUN.replace(bugs=()))
    assert r.valid is True
    assert "storm" not in r.results["stats"]
    assert r.checkers["liveness"].valid is True


# -------------------------------------------------------------- zab-propose-only-synced

def test_with_the_bug_the_follower_applies_the_hole_the_leader_left() -> None:
    s = synced_follower(frozenset({PROPOSE}))
    c = s.conn
    # the leader proposed (1,1) while we were syncing and did not send it to us
    eff = s.on_message("n1", m.Commit(c, make_zxid(1, 1)), 5)
    assert traces(eff, "missing_proposal") == [
        {"zxid": make_zxid(1, 1), "ignored": True}]
    assert not traces(eff, "sync_error") and s.serving  # ignored, as ZooKeeper's commit()
    eff = s.on_message("n1", m.Proposal(c, make_zxid(1, 2), Txn("setData", "/x", 2)), 6)
    assert traces(eff, "proposal_gap") == [
        {"zxid": make_zxid(1, 2), "last": 0}]
    eff = persist_all(s, eff, 7)
    assert [e.msg for e in eff if isinstance(e, Send)] == [m.Ack(c, make_zxid(1, 2))]
    eff = s.on_message("n1", m.Commit(c, make_zxid(1, 2)), 8)
    # (1,2) is delivered without (1,1): the hole is in this server's history
    assert [t["zxid"] for t in traces(eff, "deliver")] == [make_zxid(1, 2)]
    assert s.serving and s.last_processed_zxid == make_zxid(1, 2)


def test_with_the_bug_an_unknown_commit_behind_a_pending_txn_still_resyncs() -> None:
    # ZooKeeper exits when a COMMIT is not for its next pending txn; we resync
    s = synced_follower(frozenset({PROPOSE}))
    c = s.conn
    persist_all(s, s.on_message("n1", m.Proposal(c, make_zxid(1, 2), Txn("setData", "/x", 2)), 5))
    eff = s.on_message("n1", m.Commit(c, make_zxid(1, 1)), 6)
    assert traces(eff, "missing_proposal") == [{"zxid": make_zxid(1, 1)}]
    assert traces(eff, "sync_error") and s.state == m.LOOKING


def test_without_the_bug_the_follower_resyncs_on_either_sign_of_a_hole() -> None:
    s = synced_follower()
    eff = s.on_message("n1", m.Commit(s.conn, make_zxid(1, 1)), 5)
    assert traces(eff, "sync_error")[0]["reason"] == "commit of unknown zxid" and s.state == m.LOOKING
    s = synced_follower()
    eff = s.on_message("n1", m.Proposal(s.conn, make_zxid(1, 2), Txn("setData", "/x", 2)), 5)
    assert traces(eff, "sync_error")[0]["reason"] == "proposal out of order" and s.state == m.LOOKING


def test_propose_only_synced_is_caught_by_the_quorum_checker() -> None:
    r = run_test(HOLE_RUN)
    q = r.checkers["quorum"]
    assert q.valid is False
    assert {"I3-agreement", "I4-local-primary-order"} <= set(q.anomaly_counts)
    kinds = {e["kind"] for e in r.out.trace}
    assert "proposal_gap" in kinds  # the follower took a proposal after a hole
    without = run_test(HOLE_RUN.replace(bugs=()))
    assert without.valid is True
    assert not {"proposal_gap"} & {e["kind"] for e in without.out.trace}
