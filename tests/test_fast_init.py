"""harness.node.fast_init: the faster __init__ of frozen slotted dataclasses builds the
same values as the dataclass's own, with the same signature, checks and immutability."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass
from typing import Any

import pytest

from harness.node import Persist, Send, Trace, fast_init
from systems.zab import messages as m


def _pair() -> tuple[type, type]:
    def make() -> type:
        @dataclass(frozen=True, slots=True)
        class Op:
            conn: int
            op: str
            path: str = "/"
            data: Any = None

            def __post_init__(self) -> None:
                if self.op == "bad":
                    raise ValueError("bad op")

        return Op

    return make(), fast_init(make())


def test_fast_init_builds_what_the_generated_init_builds() -> None:
    plain, fast = _pair()
    cases: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((1, "get"), {}), ((1, "get", "/x"), {}), ((1,), {"op": "set", "data": (1,)}),
        ((), {"conn": 2, "op": "x", "path": "/y", "data": None}),
    ]
    for args, kw in cases:
        a, b = plain(*args, **kw), fast(*args, **kw)
        assert dataclasses.astuple(a) == dataclasses.astuple(b)
        assert repr(a).split("(", 1)[1] == repr(b).split("(", 1)[1]
        assert hash(a) == hash(b)
    assert inspect.signature(plain) == inspect.signature(fast)


def test_fast_init_keeps_checks_and_immutability() -> None:
    plain, fast = _pair()
    for cls in (plain, fast):
        with pytest.raises(ValueError, match="bad op"):
            cls(1, "bad")
        with pytest.raises(TypeError):
            cls(1)  # a required argument missing
        with pytest.raises(TypeError):
            cls(1, "get", nope=3)
        with pytest.raises(dataclasses.FrozenInstanceError):
            cls(1, "get").conn = 2
    with pytest.raises(ValueError):
        Persist("log", (), None, mode="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        m.Proposal(1, -1, None)  # type: ignore[arg-type]


def test_fast_init_values_compare_hash_and_pickle_as_before() -> None:
    s = Send("n1", m.Ack(7, 3))
    assert s == Send("n1", m.Ack(7, 3)) and hash(s) == hash(Send("n1", m.Ack(7, 3)))
    assert pickle.loads(pickle.dumps(s)) == s
    assert Trace("commit", (("zxid", 1),)).as_dict() == {"zxid": 1}


def test_fast_init_refuses_what_it_cannot_do() -> None:
    @dataclass(slots=True)
    class Mutable:
        x: int

    @dataclass(frozen=True, slots=True)
    class Factory:
        x: list[int] = dataclasses.field(default_factory=list)

    for cls in (Mutable, Factory):
        with pytest.raises(TypeError):
            fast_init(cls)
