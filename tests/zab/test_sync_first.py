"""A follower accepts nothing from its leader before the leader's sync (DIFF, TRUNC, SNAP).

On TCP the sync message and its payload come first on the connection. The simulated
network may drop them across a partition and still deliver what the leader sends after
the heal, so a follower whose DIFF was lost could log the new epoch's first proposal on
top of a log that lacks the payload: an epoch's first proposal looks in order after any
older zxid. A guided campaign found that on the correct ZAB (7 servers, clock skew,
crash points, partitions): n3 missed epoch 7's txns, logged 0x800000001, and the next
leader's DIFF took that as its last zxid, so n3's history skipped epoch 7 (I3
agreement, I9 durability). ``SKEW_RUN`` is that run; with the rule it passes.
"""

from __future__ import annotations

import random

from directsim import persist_all, traces

from harness.node import Send
from harness.runner import run_test
from harness.system import NodeContext
from systems.zab import messages as m
from systems.zab.datatree import Txn
from systems.zab.election import Vote
from systems.zab.server import ZabServer
from systems.zab.zxid import make_zxid

#: a guided campaign's bug-free run that failed I3 before the rule (explicit schedule)
SKEW_RUN_SEED = 8231970815423906158


def following_epoch_3() -> ZabServer:
    """n2 (of n1..n3) with nothing logged, following n1, which leads epoch 3; the epoch
    is accepted and durable, and nothing of the sync has arrived."""
    s = ZabServer(NodeContext("n2", ("n1", "n2", "n3"), random.Random(1), {}, frozenset()))
    s.on_start({}, 0)
    s._decided(Vote("n1", 0, 0, 1), 0)
    persist_all(s, s.on_message("n1", m.LeaderInfo(s.conn, 3), 1))
    return s


def test_a_proposal_before_the_sync_resyncs_and_logs_nothing() -> None:
    s = following_epoch_3()
    eff = s.on_message("n1", m.Proposal(s.conn, make_zxid(3, 1), Txn("setData", "/x", 1)), 2)
    assert [t["reason"] for t in traces(eff, "sync_error")] == ["proposal before the leader's sync"]
    assert s.state == m.LOOKING
    assert not traces(eff, "logged") and s.last_logged_zxid == 0


def test_newleader_before_the_sync_resyncs() -> None:
    s = following_epoch_3()
    eff = s.on_message("n1", m.NewLeader(s.conn, make_zxid(3, 0)), 2)
    assert [t["reason"] for t in traces(eff, "sync_error")] == ["NEWLEADER before the leader's sync"]
    assert s.state == m.LOOKING and not s.newleader_acked


def test_after_the_diff_the_payload_and_newleader_are_taken() -> None:
    s = following_epoch_3()
    c = s.conn
    assert s.on_message("n1", m.Diff(c, 0), 2) == []
    eff = persist_all(s, s.on_message("n1", m.Proposal(c, make_zxid(2, 1), Txn("setData", "/x", 1)), 3))
    assert not traces(eff, "sync_error") and s.last_logged_zxid == make_zxid(2, 1)
    eff = persist_all(s, s.on_message("n1", m.NewLeader(c, make_zxid(3, 0)), 4))
    assert [e.msg for e in eff if isinstance(e, Send)] == [m.Ack(c, make_zxid(3, 0))]


def test_the_rule_is_per_connection() -> None:
    # a DIFF of an earlier connection does not count for the next one
    s = following_epoch_3()
    s.on_message("n1", m.Diff(s.conn, 0), 2)
    s._go_looking(3, "test")
    s._decided(Vote("n1", 0, 0, 2), 4)
    persist_all(s, s.on_message("n1", m.LeaderInfo(s.conn, 4), 5))
    eff = s.on_message("n1", m.Proposal(s.conn, make_zxid(4, 1), Txn("setData", "/x", 1)), 6)
    assert traces(eff, "sync_error") and s.last_logged_zxid == 0


def test_the_guided_campaigns_run_passes() -> None:
    from pathlib import Path

    from harness.store import load_config

    config = load_config(Path(__file__).parent / "data" / "skew-run")
    assert config.seed == SKEW_RUN_SEED and config.bugs == ()
    r = run_test(config)
    assert r.results["valid"] is True, r.checkers["quorum"]
    quorum = r.results["checkers"]["quorum"]
    assert quorum["valid"] and quorum["decides"]
