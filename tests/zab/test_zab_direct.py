"""One server driven by hand, message by message, as h11's tests drive a connection."""

from __future__ import annotations

import random

from directsim import persist_all, synced_follower, traces

from harness.node import Persist, Send
from harness.system import NodeContext
from systems.zab import messages as m
from systems.zab.datatree import Txn
from systems.zab.election import Vote
from systems.zab.server import ZabServer
from systems.zab.zxid import make_zxid

SERVERS = ("n1", "n2", "n3")


def server(node: str = "n1", stored: dict | None = None) -> tuple[ZabServer, list]:
    s = ZabServer(NodeContext(node, SERVERS, random.Random(1), {}))
    return s, s.on_start(stored or {}, 0)


def sends(effects: list, typ: type) -> list:
    return [e for e in effects if isinstance(e, Send) and isinstance(e.msg, typ)]


def leader_in_discovery(stored: dict | None = None) -> ZabServer:
    s, _ = server("n1", stored)
    s._decided(Vote("n1", s.last_logged_zxid, s.current_epoch, 1), 0)
    return s


def test_boot_votes_for_itself() -> None:
    _s, eff = server()
    notes = sends(eff, m.Notification)
    assert {e.dst for e in notes} == {"n2", "n3"}
    assert notes[0].msg == m.Notification("n1", 0, 1, 0, m.LOOKING)
    assert traces(eff, "looking")


def test_leader_persists_accepted_epoch_before_leaderinfo() -> None:
    s = leader_in_discovery()
    eff = s.on_message("n2", m.FollowerInfo(7, make_zxid(3, 0)), 1)
    (p,) = [e for e in eff if isinstance(e, Persist)]
    assert (p.file, p.records, p.mode) == ("acceptedEpoch", (4,), "replace")
    assert not sends(eff, m.LeaderInfo)  # not before the fsync
    eff = s.on_persisted(p.token, 2)
    assert sends(eff, m.LeaderInfo)[0].msg == m.LeaderInfo(7, 4)
    assert traces(eff, "epoch_accepted") == [{"epoch": 4, "persisted": True}]


def test_leader_abandons_when_an_acker_is_more_recent() -> None:
    stored = {"currentEpoch": (2,), "acceptedEpoch": (2,),
              "log": ((make_zxid(2, 1), Txn("setData", "/x").to_record()),)}
    s = leader_in_discovery(stored)
    persist_all(s, s.on_message("n2", m.FollowerInfo(7, make_zxid(2, 0)), 1))
    eff = s.on_message("n2", m.AckEpoch(7, 2, make_zxid(2, 5)), 3)
    assert traces(eff, "abandon") and s.state == m.LOOKING


def test_ack_of_an_already_accepted_epoch_does_not_count() -> None:
    s = leader_in_discovery()
    persist_all(s, s.on_message("n2", m.FollowerInfo(7, make_zxid(0, 0)), 1))
    eff = s.on_message("n2", m.AckEpoch(7, -1, 0), 3)
    assert not [e for e in eff if isinstance(e, Persist)]  # no currentEpoch yet
    assert not s.current_epoch_issued
    eff = persist_all(s, s.on_message("n3", m.FollowerInfo(9, 0), 4))
    eff = s.on_message("n3", m.AckEpoch(9, 0, 0), 5)
    (p,) = [e for e in eff if isinstance(e, Persist)]
    assert (p.file, p.records) == ("currentEpoch", (1,))
    # once currentEpoch is durable both followers are synced, the -1 one too
    eff = s.on_persisted(p.token, 6)
    assert {e.dst for e in sends(eff, m.NewLeader)} == {"n2", "n3"}


def test_follower_acks_newleader_only_after_log_then_epoch_are_durable() -> None:
    s, _ = server("n2")
    s._decided(Vote("n1", 0, 0, 1), 0)
    c = s.conn
    persist_all(s, s.on_message("n1", m.LeaderInfo(c, 2), 1))
    log_writes = s.on_message("n1", m.Diff(c, 0), 2)
    log_writes += s.on_message("n1", m.Proposal(c, make_zxid(1, 1), Txn("setData", "/x", 1)), 2)
    log_writes += s.on_message("n1", m.Proposal(c, make_zxid(1, 2), Txn("setData", "/x", 2)), 2)
    eff = s.on_message("n1", m.NewLeader(c, make_zxid(2, 0)), 3)
    assert traces(eff, "newleader_received")
    assert not [e for e in eff if isinstance(e, Persist)]  # waits for the log first
    # a proposal arriving now waits behind NEWLEADER's ACK
    assert s.on_message("n1", m.Proposal(c, make_zxid(2, 1), Txn("setData", "/x", 3)), 3) == []
    logs = [e for e in log_writes if isinstance(e, Persist)]
    assert [p.file for p in logs] == ["log", "log"]
    eff = s.on_persisted(logs[0].token, 4)
    assert not [e for e in eff if isinstance(e, Persist) and e.file == "currentEpoch"]
    eff = s.on_persisted(logs[1].token, 5)
    (cur,) = [e for e in eff if isinstance(e, Persist) and e.file == "currentEpoch"]
    assert not sends(eff, m.Ack)
    eff = s.on_persisted(cur.token, 6)
    acks = sends(eff, m.Ack)
    assert acks[0].msg == m.Ack(c, make_zxid(2, 0))
    # then the queued proposal is logged, and ACKed once durable
    (p,) = [e for e in eff if isinstance(e, Persist)]
    assert p.records[0][0] == make_zxid(2, 1)
    assert sends(s.on_persisted(p.token, 7), m.Ack)[0].msg == m.Ack(c, make_zxid(2, 1))
    # nothing is applied before UPTODATE
    assert s.last_processed_zxid == 0
    eff = s.on_message("n1", m.UpToDate(c, make_zxid(1, 2)), 8)
    assert [t["zxid"] for t in traces(eff, "deliver")] == [make_zxid(1, 1), make_zxid(1, 2)]
    assert s.serving and s.tree.get("/x").data == 2


def test_follower_resyncs_on_a_gap_in_proposals() -> None:
    s = synced_follower()
    c = s.conn
    persist_all(s, s.on_message("n1", m.Proposal(c, make_zxid(1, 1), Txn("setData", "/x", 1)), 5))
    assert s.on_message("n1", m.Proposal(c, make_zxid(1, 1), Txn("setData", "/x", 1)), 5) == []  # duplicate
    eff = s.on_message("n1", m.Proposal(c, make_zxid(1, 3), Txn("setData", "/x", 3)), 6)
    assert traces(eff, "sync_error") and s.state == m.LOOKING


def test_messages_of_another_connection_are_ignored() -> None:
    s, _ = server("n2")
    s._decided(Vote("n1", 0, 0, 1), 0)
    assert s.on_message("n1", m.LeaderInfo(s.conn + 1, 1), 1) == []
    assert s.on_message("n3", m.LeaderInfo(s.conn, 1), 1) == []
    assert s.accepted_epoch == 0
