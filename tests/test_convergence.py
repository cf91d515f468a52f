"""The convergence check: every server's replicated state is the same after healing, and
when not, the explanation says what differs in words (znodes, sessions, zxids)."""

from __future__ import annotations

from types import SimpleNamespace

from harness.checks import check_convergence


def tree(znodes, sessions=(), zxid=0x500000002):
    return {"zxid": zxid, "tree": {"znodes": [list(z) for z in znodes], "sessions": list(sessions)}}


def out(**digests):
    return SimpleNamespace(replica_digests=digests, stats={})


BASE = [("/", None, 0, 2, 0), ("/x0", 3, 7, 0, 0)]


def test_equal_trees_converge():
    res = check_convergence(out(n1=tree(BASE), n2=tree(BASE), n3=tree(BASE)))
    assert res.valid is True and "3 servers" in res.explanation


def test_a_stray_value_and_a_lingering_ephemeral_are_named():
    stray = [BASE[0], ("/x0", 4, 8, 0, 0), ("/master", "db2", 0, 0, 0x1234)]
    res = check_convergence(out(n1=tree(BASE), n2=tree(BASE), n3=tree(stray, sessions=[0x1234])))
    assert res.valid is False
    text = res.explanation
    assert "n3 differs from n1, n2" in text
    assert "/x0 holds 3 (version 7) on n1, n2 but 4 (version 8) on n3" in text
    assert "/master exists on n3 only" in text and "ephemeral of session 0x1234" in text
    assert "session(s) 0x1234 live on n3 only" in text
    assert [g["servers"] for g in res.details["groups"]] == [["n1", "n2"], ["n3"]]


def test_zxid_and_unknown_state_shapes():
    res = check_convergence(out(n1=tree(BASE), n2=tree(BASE, zxid=0x500000001)))
    assert "last applied zxid 0x500000002 on n1 but 0x500000001 on n2" in res.explanation
    res = check_convergence(out(a={"x": 1}, b={"x": 2}))
    assert res.valid is False and "x is 1 on a but 2 on b" in res.explanation
