"""The messages of the primary-backup register (plain frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Request:
    """client -> primary: a register operation (read, write or cas)."""

    op_id: int
    f: str
    key: Any
    value: Any


@dataclass(frozen=True, slots=True)
class Response:
    """primary -> client: the operation committed; type is ok or fail."""

    op_id: int
    type: str
    value: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NotPrimary:
    """a server that is not the serving primary refuses an operation (it did nothing)."""

    op_id: int
    hint: str


@dataclass(frozen=True, slots=True)
class Prepare:
    """primary -> backups: the whole register state at (view, seq); also the heartbeat."""

    view: int
    seq: int
    data: tuple


@dataclass(frozen=True, slots=True)
class Ack:
    """backup -> primary: the state at (view, seq) is durable here."""

    view: int
    seq: int


@dataclass(frozen=True, slots=True)
class ViewChange:
    """anyone -> all: the primary of my view is gone, move to ``view``."""

    view: int


@dataclass(frozen=True, slots=True)
class DoViewChange:
    """server -> primary of ``view``: I promised ``view``; here is my durable state."""

    view: int
    state_view: int
    seq: int
    data: tuple
