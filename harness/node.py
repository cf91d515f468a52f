"""The sans-IO node interface: inputs in, effects out.

A protocol node (a ZAB server, a ZooKeeper client library, a Kafka broker...) is a plain
object. The simulator (or a unit test, or one day an asyncio driver) calls its input
methods; each returns a list of *effects*, which the driver carries out. A node never
touches sockets, clocks, files or global randomness: everything it learns arrives through
an input, everything it does leaves as an effect. This is how h11 treats HTTP.

Inputs (methods of :class:`Node`):

- ``on_start(stored, now)``: boot. ``stored`` maps each file name to the tuple of records
  the disk kept durably (empty on first boot). A restart after a crash calls a *fresh*
  node object's ``on_start``: no memory survives a crash but the disk.
- ``on_message(src, msg, now)``: a message from node ``src`` arrived.
- ``on_timer(name, now)``: the timer ``name`` fired.
- ``on_client(request, now)``: the harness hands a client node a workload operation
  (:class:`ClientRequest`). Only client-library nodes receive this.
- ``on_persisted(token, now)``: a :class:`Persist` with that token is now durable.
- ``on_wallclock(wall_offset, now)``: the node's wall clock changed (a clock fault).

Clocks. ``now`` is the node's *monotonic* clock in integer nanoseconds: it runs at the
node's (possibly drifting) rate and never jumps, like ``System.nanoTime``. ``SetTimer``
deadlines are on that clock. The node's *wall* clock is ``now + wall_offset``; clock
faults (bump, strobe) move only the wall offset, announced through ``on_wallclock``.
Correct code measures durations on ``now``; a planted wall-clock bug reads
``now + wall_offset`` instead, and clock faults expose it. Virtual time starts at a large
seeded offset, so code that mixes in the real clock fails loudly.

Effects (slotted dataclasses below): ``Send``, ``SetTimer``, ``CancelTimer``,
``Persist``, ``Reply``, ``Trace``. Within one handler's list the driver applies effects
in order; a crash at a named point (a ``Trace`` kind) drops the effects after it. An
effect is a value: it compares and hashes by its fields; never change one once built.
(They are not frozen, unlike the messages and ``ClientRequest``/``ClientResponse``: an
effect is read once, by the driver, as soon as the handler returns, and a frozen slotted
class stores each field through a descriptor call, which for the effects of every
simulated event was 4% of a simulation's instructions.)

Durability is explicit: a ``Persist`` is durable only once ``on_persisted(token)``
arrives. Writes to one file complete in the order they were issued; a crash loses, file by
file, every write that has not completed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

# ------------------------------------------------------------ fast frozen dataclasses

_T = TypeVar("_T")


def fast_init(cls: type[_T]) -> type[_T]:
    """Class decorator, above ``@dataclass(frozen=True, slots=True)``: a faster ``__init__``.

    A frozen dataclass's generated ``__init__`` stores each field with
    ``object.__setattr__(self, name, value)`` (its own ``__setattr__`` refuses), a lookup
    and a generic call per field; the effects and messages of every simulated event are
    built this way, several per event. This one has the same signature (names, order,
    defaults) and stores each field through its slot descriptor, then calls
    ``__post_init__`` if the class has one. Everything else stays the dataclass's own:
    ``__eq__``, ``__hash__``, ``__repr__``, ``fields()``, pickling, and the refusal to
    assign afterwards (``FrozenInstanceError``).
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        # (a mutable slotted dataclass's own __init__ is already the fast one)
        raise TypeError(f"fast_init wants a frozen, slotted dataclass, not {cls!r}")
    ns: dict[str, Any] = {"__name__": cls.__module__}
    args, body = [], []
    for i, f in enumerate(dataclasses.fields(cls)):  # type: ignore[arg-type]
        if not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"fast_init: {cls.__name__}.{f.name} needs the generated __init__")
        if f.default is dataclasses.MISSING:
            args.append(f.name)
        else:
            ns[f"_d{i}"] = f.default
            args.append(f"{f.name}=_d{i}")
        ns[f"_s{i}"] = cls.__dict__[f.name].__set__  # the slot's member descriptor
        body.append(f"    _s{i}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    src = f"def __init__(self, {', '.join(args)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(src, ns)  # generated from the class's own field names, as dataclasses does
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


# ---------------------------------------------------------------------------- effects
# (not frozen: see the module docstring; unsafe_hash keeps them hashable by their fields)


@dataclass(slots=True, unsafe_hash=True)
class Send:
    """Send ``msg`` to node ``dst`` over the (faulty) network."""

    dst: str
    msg: Any


@dataclass(slots=True, unsafe_hash=True)
class SetTimer:
    """Fire ``on_timer(name)`` when the node's monotonic clock reaches ``at``.

    Setting a timer that is already pending replaces it.
    """

    name: str
    at: int


@dataclass(slots=True, unsafe_hash=True)
class CancelTimer:
    name: str


PersistMode = Literal["append", "replace", "truncate"]


@dataclass(slots=True, unsafe_hash=True)
class Persist:
    """Write to the node's file ``file`` and fsync; ``on_persisted(token)`` when durable.

    mode ``append`` adds ``records`` at the end; ``replace`` makes ``records`` the whole
    file (used for small files such as acceptedEpoch, or a snapshot); ``truncate`` keeps
    only the first ``keep`` records (``records`` must be empty). ``token`` may be None
    when the node does not care to hear of completion.
    """

    file: str
    records: tuple[Any, ...] = ()
    token: Any = None
    mode: PersistMode = "append"
    keep: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("append", "replace", "truncate"):
            raise ValueError(f"bad persist mode {self.mode!r}")
        if self.mode == "truncate" and self.records:
            raise ValueError("truncate takes no records")


@dataclass(slots=True, unsafe_hash=True)
class Reply:
    """A client-library node completes a workload operation (see ClientResponse)."""

    response: ClientResponse


@dataclass(slots=True, unsafe_hash=True)
class Trace:
    """A node-internal event for trace.jsonl, read by the safety checkers.

    ``fields`` is a tuple of (name, value) pairs with JSON-able values, kept as a tuple so
    the effect stays hashable and its order deterministic.
    """

    kind: str
    fields: tuple[Any, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return dict(self.fields)


Effect = Send | SetTimer | CancelTimer | Persist | Reply | Trace


def trace(kind: str, **fields: Any) -> Trace:
    """Shorthand: ``trace("commit", zxid=z)``; fields keep keyword order."""
    return Trace(kind, tuple(fields.items()))


# ------------------------------------------------------------------- client operations

OpType = Literal["ok", "fail", "info"]


@fast_init
@dataclass(frozen=True, slots=True)
class ClientRequest:
    """A workload operation handed to a client-library node.

    ``f`` is the operation name (``read``, ``write``, ``cas``...), ``key`` the key or
    None, ``value`` the argument (a cas carries ``[expected, new]``), ``op_id`` a number
    unique within the run that the response must echo.
    """

    op_id: int
    f: str
    key: Any = None
    value: Any = None


@fast_init
@dataclass(frozen=True, slots=True)
class ClientResponse:
    """The outcome of a ClientRequest, Jepsen style.

    ``type`` is ``ok`` (it happened; ``value`` is the result), ``fail`` (it definitely did
    not happen) or ``info`` (unknown). ``node`` names the server that answered, ``extra``
    holds system-specific facts for checkers as (name, value) pairs (e.g. the zxid a read
    saw), written into the history's completion event.
    """

    op_id: int
    type: OpType
    value: Any = None
    error: str | None = None
    node: str | None = None
    extra: tuple[Any, ...] = field(default=())


# ------------------------------------------------------------------------------- node


class Node:
    """Base class with no-op inputs; subclasses override what they handle."""

    #: the node's id ("n1", "c3"...), set by the constructor of subclasses
    node_id: str = ""

    def on_start(self, stored: dict[str, tuple[Any, ...]], now: int) -> list[Effect]:
        return []

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        return []

    def on_timer(self, name: str, now: int) -> list[Effect]:
        return []

    def on_client(self, request: ClientRequest, now: int) -> list[Effect]:
        return []

    def on_persisted(self, token: Any, now: int) -> list[Effect]:
        return []

    def on_wallclock(self, wall_offset: int, now: int) -> list[Effect]:
        return []

    def state_digest(self) -> Any:
        """A JSON-able summary of replicated state, compared across servers after healing."""
        return None
