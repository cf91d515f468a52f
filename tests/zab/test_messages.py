"""systems.zab.messages: each message class, written plainly on `_Message` for a cheaper
import, behaves as the ``@fast_init @dataclass(frozen=True, slots=True)`` class of the
same fields did: constructor, repr, equality, hash, immutability, pickling, checks."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from harness.node import fast_init
from systems.zab import messages as m

CLASSES = [c for c in vars(m).values() if isinstance(c, type) and issubclass(c, m._Message) and c is not m._Message]
#: a valid value for fields whose __post_init__ checks them
VALID = {"state": m.LOOKING, "op": m.GET_DATA}


def _dataclass_of(cls: type) -> type:
    """The frozen, slotted dataclass (with fast_init) of ``cls``'s fields and checks."""
    fields = []
    for p in list(inspect.signature(cls).parameters.values()):
        if p.default is inspect.Parameter.empty:
            fields.append((p.name, Any))
        else:
            fields.append((p.name, Any, dataclasses.field(default=p.default)))
    ns = {"__post_init__": cls.__dict__["__post_init__"]} if "__post_init__" in cls.__dict__ else {}
    ref = dataclasses.make_dataclass(cls.__name__, fields, frozen=True, slots=True, namespace=ns)
    ref.__qualname__ = cls.__qualname__
    return fast_init(ref)


def _args(cls: type, shift: int = 0) -> list[Any]:
    return [VALID.get(name, i + 1 + shift) for i, name in enumerate(inspect.signature(cls).parameters)]


def test_there_are_all_the_messages():
    assert len(CLASSES) == 27 and m.Notification in CLASSES and m.Disconnect in CLASSES


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_a_message_is_what_its_dataclass_was(cls):
    ref = _dataclass_of(cls)
    assert inspect.signature(cls).parameters.keys() == inspect.signature(ref).parameters.keys()
    assert [p.default for p in inspect.signature(cls).parameters.values()] == \
        [p.default for p in inspect.signature(ref).parameters.values()]
    assert cls.__slots__ == ref.__slots__ and cls.__match_args__ == ref.__match_args__
    assert not hasattr(cls(*_args(cls)), "__dict__")
    for shift in (0, 1):
        args = _args(cls, shift)
        a, r = cls(*args), ref(*args)
        assert repr(a) == repr(r)
        assert hash(a) == hash(r) and a == cls(*args) and a != r
        assert (a == cls(*_args(cls, shift + 1))) is (len(args) == sum(n in VALID for n in cls.__slots__))
        assert pickle.loads(pickle.dumps(a)) == a and copy.deepcopy(a) == a and copy.copy(a) == a
        assert repr(pickle.loads(pickle.dumps(a))) == repr(a)
        kw = dict(zip(cls.__slots__, args))
        assert cls(**kw) == a
        for name in cls.__slots__:
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(a, name, 0)
            with pytest.raises(dataclasses.FrozenInstanceError):
                delattr(a, name)
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.other = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        cls(*_args(cls), "one too many")
    match cls(*_args(cls)):
        case cls(first):  # positional patterns follow __match_args__
            assert first == _args(cls)[0]


def test_the_checks_are_kept():
    with pytest.raises(ValueError):
        m.Notification("n1", -1, 1, 1, m.LOOKING)
    with pytest.raises(ValueError):
        m.Notification("n1", 1, 1, 1, "NOPE")
    with pytest.raises(ValueError):
        m.Proposal(1, -1, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        m.ClientOp(1, 1, "nope")
    assert m.ClientOp(1, 1, m.SET_DATA, data=b"x").path == "/"
