"""The ZooKeeper data tree alone: znode kinds, versions, errors, sessions, snapshots."""

from __future__ import annotations

import json

from systems.zab.datatree import (
    BAD_VERSION,
    CLOSE_SESSION,
    CREATE,
    CREATE_SESSION,
    DELETE,
    EPHEMERAL,
    NO_CHILDREN_FOR_EPHEMERALS,
    NO_NODE,
    NODE_EXISTS,
    NOT_EMPTY,
    SEQUENTIAL,
    SESSION_EXPIRED,
    SET_DATA,
    SET_EXISTING,
    DataTree,
    Txn,
)

S1, S2 = 11, 22


class Tree:
    """A DataTree with a zxid counter."""

    def __init__(self) -> None:
        self.t = DataTree()
        self.z = 0

    def __call__(self, type_: str, path: str = "/", data=None, version: int = -1, session: int = 0, flags: int = 0):
        self.z += 1
        return self.t.apply(self.z, Txn(type_, path, data, version, "n1", "c1", self.z, session, flags))


def test_create_delete_versions_and_errors() -> None:
    a = Tree()
    assert a(CREATE, "/a", "x").path == "/a"
    assert a(CREATE, "/a", "y").error == NODE_EXISTS
    assert a(CREATE, "/b/c").error == NO_NODE  # no parent
    assert a(CREATE, "/a/b", 1).ok
    st = a.t.get("/a")
    assert (st.cversion, st.version, st.pzxid) == (1, 0, 4)  # /a/b was zxid 4
    assert a(DELETE, "/a").error == NOT_EMPTY
    assert a(SET_DATA, "/a", "z", version=3).error == BAD_VERSION
    r = a(SET_DATA, "/a", "z", version=0)
    assert r.ok and r.stat["version"] == 1 and r.stat["mzxid"] == a.z
    assert a(DELETE, "/a/b", version=5).error == BAD_VERSION
    assert a(DELETE, "/a/b", version=0).ok
    assert a.t.get("/a").cversion == 2 and a.t.get_children("/a") == []
    assert a(DELETE, "/a").ok and a.t.get("/a") is None
    assert a(DELETE, "/a").error == NO_NODE
    # ZooKeeper's setData of an absent znode fails; the register's put creates it
    assert a(SET_DATA, "/p", 1, flags=SET_EXISTING).error == NO_NODE
    assert a(SET_DATA, "/p", 1).ok and a.t.get("/p").data == 1
    assert a(SET_DATA, "/q", 1, version=0).error == NO_NODE
    assert a.t.last_processed_zxid == a.z


def test_sequential_names_come_from_the_parent_cversion() -> None:
    a = Tree()
    a(CREATE, "/e")
    names = [a(CREATE, "/e/n_", flags=SEQUENTIAL).path for _ in range(3)]
    assert names == ["/e/n_0000000000", "/e/n_0000000001", "/e/n_0000000002"]
    a(DELETE, "/e/n_0000000002")  # a delete bumps cversion too: numbers never repeat
    assert a(CREATE, "/e/n_", flags=SEQUENTIAL).path == "/e/n_0000000004"
    assert a(CREATE, "/e/", flags=SEQUENTIAL).path == "/e/0000000005"
    assert a.t.get_children("/e") == ["0000000005", "n_0000000000", "n_0000000001", "n_0000000004"]


def test_ephemerals_belong_to_a_session_and_go_with_it() -> None:
    a = Tree()
    a(CREATE_SESSION, data=2000, session=S1)
    a(CREATE_SESSION, data=3000, session=S2)
    a(CREATE, "/e")
    r = a(CREATE, "/e/n_", "me", session=S1, flags=EPHEMERAL | SEQUENTIAL)
    assert r.ok and r.stat["ephemeralOwner"] == S1
    assert a(CREATE, "/e/n_0000000000/kid", session=S1).error == NO_CHILDREN_FOR_EPHEMERALS
    a(CREATE, "/mine", session=S2, flags=EPHEMERAL)
    a(CREATE, "/persistent", session=S1)  # not ephemeral: outlives the session
    assert a.t.sessions == {S1: 2000, S2: 3000}
    close = a(CLOSE_SESSION, session=S1)
    assert close.deleted == ("/e/n_0000000000",)
    assert ("deleted", "/e/n_0000000000") in close.triggers and ("children", "/e") in close.triggers
    assert a.t.get("/persistent") is not None and a.t.get("/mine") is not None
    assert a.t.sessions == {S2: 3000}
    # a write of a session that is gone fails, and changes nothing
    assert a(CREATE, "/late", session=S1).error == SESSION_EXPIRED and a.t.get("/late") is None
    a(CLOSE_SESSION, session=S1)  # closing twice is harmless
    assert a(CLOSE_SESSION, session=S2).deleted == ("/mine",)
    assert not a.t.ephemerals


def test_snapshot_round_trip_and_digest_cover_sessions_and_owners() -> None:
    a = Tree()
    a(CREATE_SESSION, data=2000, session=S1)
    a(CREATE, "/e")
    a(CREATE, "/e/x", [1, "a"], session=S1, flags=EPHEMERAL)
    rec = json.loads(json.dumps(a.t.to_record()))
    b = DataTree.from_record(rec)
    assert b.digest() == a.t.digest() and b.last_processed_zxid == a.t.last_processed_zxid
    assert b.ephemerals == {S1: {"/e/x"}} and b.get_children("/e") == ["x"]
    assert b.get("/e/x").stat() == a.t.get("/e/x").stat()
    # a lingering ephemeral (or session) makes digests differ
    c = DataTree.from_record(rec)
    c.sessions.clear()
    assert c.digest() != a.t.digest()
    d = DataTree.from_record(rec)
    d.get("/e/x").ephemeral_owner = 0
    assert d.digest() != a.t.digest()
    # snapshots written before sessions existed still load
    old = (5, (("/", None, 0, 0, 0), ("/x", 3, 1, 2, 4)))
    e = DataTree.from_record(old)
    assert e.get("/x").data == 3 and e.get_children("/") == ["x"] and e.sessions == {}


def test_txn_records_with_and_without_session_fields() -> None:
    t = Txn(CREATE, "/e/n_", "d", -1, "n1", "c1", 4, S1, EPHEMERAL | SEQUENTIAL)
    back = Txn.from_record(json.loads(json.dumps(t.to_record())))
    assert back == t and back.digest() == t.digest()
    plain = Txn(SET_DATA, "/x", 1, -1, "n1", "c1", 3)
    assert len(plain.to_record()) == 7  # the register's txns keep their old record
    assert Txn.from_record(list(plain.to_record())) == plain


def test_txn_digest_is_computed_once_and_the_same_after_pickling() -> None:
    import hashlib
    import pickle

    from systems.zab.datatree import canonical

    t = Txn("setData", "/x1", [1, 2], 3, "n1", "c0", 7, 5, 0)
    want = "setData:/x1:" + hashlib.sha1(canonical(t.to_record()).encode()).hexdigest()[:10]
    assert t.digest() == want and t.digest() == want
    u = pickle.loads(pickle.dumps(t))
    assert u == t and u.digest() == want
    assert Txn("setData", "/x1", [1, 3], 3, "n1", "c0", 7, 5, 0).digest() != want
