"""Sequential specifications ("models") for the linearizability checker, as in Porcupine.

A model is a state machine over hashable states:

* ``init(initial)`` -> the initial state (``initial`` is what the user passed, e.g. 0);
* ``step(state, op)`` -> ``(ok, new_state)``: may ``op`` (an `checkers.history.Op`) run
  in ``state``, and what state follows. ``op.value`` is the argument filled in from the
  ok completion as Jepsen does (a read's value is what it read); for an info op it is
  the invoke's argument, and a read with a ``None`` value is unconstrained (Knossos
  treats nil reads as unknown);
* ``partition(ops)`` (optional) -> ``{key: ops}`` when the model is a product of
  independent parts (P-compositionality: check each part on its own), or None;
* ``describe(state)`` -> a JSON-able picture of a state, for reports.

States must be hashable and compare by value: the search caches (linearized set, state).
Op values are frozen (lists become tuples) so they can be stored in states as they are.

Adding a model takes a few lines::

    from checkers.linearizable.models import Model, register_model

    @register_model
    class Counter(Model):
        name = "counter"
        description = "add n / read"

        def init(self, initial):
            return 0 if initial is None else initial

        def step(self, state, op):
            if op.f == "add":
                return True, state + op.value
            if op.f == "read":
                return op.value is None or op.value == state, state
            raise self.unsupported(op)

after which ``check(events, "counter")`` and ``--model counter`` know it. For speed a
model may also override ``compile(op)``, returning a function ``state -> new state`` or
`FAIL`, which the search calls instead of ``step`` (the built-in models do).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, ClassVar

from ..history import FrozenDict, Op, freeze, thaw

__all__ = [
    "FAIL",
    "IDENTITY",
    "Model",
    "ModelError",
    "MODELS",
    "register_model",
    "get_model",
    "Register",
    "CasRegister",
    "KV",
    "MultiRegister",
    "Mutex",
    "SetModel",
    "FifoQueue",
    "FrozenDict",
]

#: a model state: hashable (a frozen JSON value, see `freeze`), its shape each model's own
#: (a scalar, a tuple of pairs, a frozenset...), so typed as Any
State = Any


class _Fail:
    __slots__ = ()

    def __repr__(self) -> str:
        return "FAIL"


#: Returned by a compiled step when the operation cannot run in the given state.
FAIL: Any = _Fail()


class ModelError(ValueError):
    """An operation the model does not understand (bad f or malformed value)."""


class Model:
    """Base class: subclasses set ``name`` and define ``init`` and ``step``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: True when `compile` reads nothing of an op but ``f``, ``key`` and ``value`` (the
    #: built-in models): two indeterminate ops alike in those are interchangeable, which
    #: lets the search try only one of them (see `info_class`). A subclass whose
    #: ``compile`` or ``step`` looks at more of the op sets it False.
    pure_compile: ClassVar[bool] = False

    def init(self, initial: Any) -> State:
        return freeze(initial)

    def step(self, state: State, op: Op) -> tuple[bool, State]:
        raise NotImplementedError

    def partition(self, ops: list[Op]) -> dict[Any, list[Op]] | None:
        """Independent parts of the history, or None when it must be checked whole."""
        return None

    def initial_for(self, key: Any, initial: Any) -> Any:
        """The ``initial`` value for partition ``key``: a dict gives one per key. A JSON
        object's keys are strings, so a key that is not one (Jepsen's independent keys are
        integers) is also looked up as its JSON text: ``{"1": 0}`` gives key 1 its 0."""
        if key is not None and isinstance(initial, dict):
            if key in initial or isinstance(key, str):
                return initial.get(key)
            try:
                return initial.get(json.dumps(thaw(key), ensure_ascii=False))
            except (TypeError, ValueError):
                return None
        return initial

    def describe(self, state: State) -> Any:
        """A JSON-able picture of a state."""
        return thaw(state)

    def compile(self, op: Op) -> Callable[[State], State]:
        """A fast ``state -> new_state | FAIL`` for ``op``; default wraps ``step``.

        Called once per operation before the search, so it is also where a model
        rejects operations it does not understand (raise `ModelError`).
        """
        step = self.step

        def run(state: State) -> State:
            ok, new_state = step(state, op)
            return new_state if ok else FAIL

        return run

    def info_class(self, op: Op) -> Hashable | None:
        """What an indeterminate op does, as a hashable value: two info ops of one
        partition with the same class compile to the same function. None: unlike any
        other (the default unless `pure_compile`)."""
        if not self.pure_compile:
            return None
        c = (op.f, op.key, op.value)
        try:
            hash(c)
        except TypeError:
            return None
        return c

    def unsupported(self, op: Op, why: str = "") -> ModelError:
        what = why or f"does not support f={op.f!r}"
        return ModelError(f"model {self.name} {what} ({op})")

    def __repr__(self) -> str:
        return f"<model {self.name}>"


class _Unsupported(Exception):
    """`ValueModel.compile_value` cannot run this op; the argument says why ("" for an
    unknown ``f``)."""


class ValueModel(Model):
    """A model whose steps depend on an op's ``f`` and ``value`` alone (the built-in ones):
    it defines ``compile_value(f, value)``, which the checker calls on paired operations
    without building an `Op` for each (see `RECORD_MODELS`)."""

    pure_compile = True

    def compile_value(self, f: str, value: Any) -> Callable[[State], State]:
        """`compile` for an op with this ``f`` and ``value``; raises `_Unsupported`."""
        raise NotImplementedError

    def compile(self, op: Op) -> Callable[[State], State]:
        try:
            return self.compile_value(op.f, op.value)
        except _Unsupported as exc:
            raise self.unsupported(op, str(exc)) from None

    def step(self, state: State, op: Op) -> tuple[bool, State]:
        new_state = self.compile(op)(state)
        return (False, state) if new_state is FAIL else (True, new_state)


MODELS: dict[str, type[Model]] = {}


def register_model(cls: type[Model]) -> type[Model]:
    """Class decorator: make a model available by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    MODELS[cls.name] = cls
    return cls


def get_model(model: str | Model) -> Model:
    """A model instance from a name (or the instance itself); `ModelError` if unknown."""
    if isinstance(model, Model):
        return model
    try:
        return MODELS[model]()
    except KeyError:
        raise ModelError(f"unknown model {model!r} (known: {', '.join(sorted(MODELS))})") from None


def _by_key(ops: Iterable[Op]) -> dict[Any, list[Op]] | None:
    parts: defaultdict[Any, list[Op]] = defaultdict(list)
    for op in ops:
        parts[op.key].append(op)
    if len(parts) <= 1 and None in parts:
        return None
    return dict(parts)


# --------------------------------------------------------------------------- registers


def _keep(state: State) -> State:
    return state


#: A compiled step that runs in every state and changes nothing (e.g. a read whose value
#: is unknown). The search drops such operations: they linearize anywhere.
IDENTITY = _keep


@register_model
class Register(ValueModel):
    """read / write; a history with "key" fields is one register per key."""

    name = "register"
    description = "register with read/write; per key when ops have a key"
    supports_cas = False

    def partition(self, ops: list[Op]) -> dict[Any, list[Op]] | None:
        return _by_key(ops)

    # The steps below take their values as defaults, not from a closure: one object
    # fewer to make and free per operation (a cell), and a local read instead of a cell's.
    def compile_value(self, f: str, v: Any) -> Callable[[State], State]:
        if f == "read":
            if v is None:
                return _keep

            def read(state: State, v: Any = v) -> State:
                return state if state == v else FAIL

            return read
        if f == "write":

            def write(state: State, v: Any = v) -> State:
                return v

            return write
        if f == "cas" and self.supports_cas:
            if not (isinstance(v, tuple) and len(v) == 2):
                raise _Unsupported("wants a cas value [expected, new]")

            def cas(state: State, expected: Any = v[0], new: Any = v[1]) -> State:
                return new if state == expected else FAIL

            return cas
        raise _Unsupported()


@register_model
class CasRegister(Register):
    """read / write / cas [expected, new]; per key when ops have a key."""

    name = "cas-register"
    description = "register with read/write/cas [from,to]; per key when ops have a key"
    supports_cas = True


@register_model
class KV(ValueModel):
    """String key-value store: read(get) / write(put) / append, each key independent.

    A key never written holds "" (as in Porcupine's kv model), unless ``initial`` is a
    dict giving its value; append concatenates.
    """

    name = "kv"
    description = "string key-value store with read(get)/write(put)/append, per-key register"

    def init(self, initial: Any) -> State:
        return "" if initial is None else freeze(initial)

    def partition(self, ops: list[Op]) -> dict[Any, list[Op]] | None:
        return _by_key(ops)

    def compile_value(self, f: str, v: Any) -> Callable[[State], State]:
        # (values as defaults, as in `Register.compile_value`)
        if f == "append":
            if not isinstance(v, str):
                raise _Unsupported("appends strings only")

            def append(state: State, v: str = v) -> State:
                try:
                    return (state or "") + v
                except TypeError:  # (the rare case: only a key that holds no string gets here)
                    raise ModelError(f"model kv appends to strings only: append {json.dumps(v)} to a key "
                                     f"that holds {json.dumps(thaw(state))}") from None

            return append
        if f == "get" or f == "read":
            if v is None:
                return _keep

            def read(state: State, v: Any = v) -> State:
                return state if state == v else FAIL

            return read
        if f == "put" or f == "write":

            def write(state: State, v: Any = v) -> State:
                return v

            return write
        raise _Unsupported()


@register_model
class MultiRegister(ValueModel):
    """f=txn, value a list of ["read"|"write", key, v] applied atomically.

    The state is a sorted tuple of (key, value) pairs; a key never written is None.
    """

    name = "multi-register"
    description = 'f=txn, value=[["read"|"write", key, v], ...] applied atomically'

    def init(self, initial: Any) -> State:
        if initial is None:
            return ()
        if not isinstance(initial, dict):
            raise ModelError("model multi-register wants an initial object {key: value}")
        return _items(dict(initial))

    def compile_value(self, f: str, txn: Any) -> Callable[[State], State]:
        if f != "txn":
            raise _Unsupported()
        if not isinstance(txn, tuple) or not all(
            isinstance(m, tuple) and len(m) == 3 and m[0] in ("read", "write") for m in txn
        ):
            raise _Unsupported('wants a txn [["read"|"write", key, value], ...]')

        def run(state: State) -> State:
            regs = dict(state)
            for f, k, v in txn:
                if f == "write":
                    regs[k] = v
                elif v is not None and regs.get(k) != v:
                    return FAIL
            return _items(regs)

        return run

    def describe(self, state: State) -> Any:
        return {str(k): thaw(v) for k, v in state}


def _items(regs: dict[str, Any]) -> tuple[Any, ...]:
    try:
        return tuple(sorted(regs.items()))
    except TypeError:
        return tuple(sorted(regs.items(), key=lambda kv: repr(kv[0])))


@register_model
class Mutex(ValueModel):
    """acquire (must be free) / release (must be held); the state is "held"."""

    name = "mutex"
    description = "f=acquire (must be free) / release (must be held); value null"

    def init(self, initial: Any) -> State:
        return bool(initial)

    def compile_value(self, f: str, v: Any) -> Callable[[State], State]:
        if f == "acquire":
            return lambda held: FAIL if held else True
        if f == "release":
            return lambda held: False if held else FAIL
        raise _Unsupported()


@register_model
class SetModel(ValueModel):
    """add v / read returning the whole set (a None read is unconstrained)."""

    name = "set"
    description = "add v / read returning the whole set"

    def init(self, initial: Any) -> State:
        if initial is not None and not isinstance(initial, list):
            raise ModelError(f"model set wants an initial list, got {initial!r:.40}")
        return frozenset(freeze(initial) or ())

    def compile_value(self, f: str, v: Any) -> Callable[[State], State]:
        if f == "add":
            return lambda state: state if v in state else state | {v}
        if f == "read":
            if v is None:
                return _keep
            if not isinstance(v, tuple):
                raise _Unsupported("wants a read value that is a list")
            want = frozenset(v)
            return lambda state: state if state == want else FAIL
        raise _Unsupported()


@register_model
class FifoQueue(ValueModel):
    """enqueue v / dequeue -> v, first in first out.

    A dequeue whose value is None is unconstrained: it takes the head if there is one,
    and on an empty queue it changes nothing.
    """

    name = "fifo-queue"
    description = "enqueue v / dequeue returning the oldest value"

    def init(self, initial: Any) -> State:
        if initial is not None and not isinstance(initial, list):
            raise ModelError(f"model fifo-queue wants an initial list, got {initial!r:.40}")
        return tuple(freeze(initial) or ())

    def compile_value(self, f: str, v: Any) -> Callable[[State], State]:
        if f == "enqueue":
            return lambda queue: queue + (v,)
        if f == "dequeue":
            if v is None:
                return lambda queue: queue[1:]
            return lambda queue: queue[1:] if queue and queue[0] == v else FAIL
        raise _Unsupported()


#: The built-in models, each with whether it is checked key by key: the checker runs them
#: on `checkers.history.pair_records` tuples, with `ValueModel.compile_value`, instead of
#: one `Op` per operation. Exact classes only: a subclass may read more of an op.
RECORD_MODELS: dict[type[Model], bool] = {
    Register: True,
    CasRegister: True,
    KV: True,
    MultiRegister: False,
    Mutex: False,
    SetModel: False,
    FifoQueue: False,
}
