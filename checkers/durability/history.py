"""Queue histories -> operations: the pairing and normalization the durability checks share.

A queue history is a list of events in Jepsen's operation model (see docs/anomalies.md)::

    {"index": 7, "time": 1200, "process": 3, "type": "invoke", "f": "send", "key": "k1", "value": 7}
    {"index": 9, "time": 1900, "process": 3, "type": "ok", "f": "send", "key": "k1", "value": 7, "offset": 12}
    {"index": 11, "process": 4, "type": "ok", "f": "poll", "value": {"k1": [[12, 7]], "k2": []}}

`pair_queue_ops` orders the events by "index" (file order when some event has none), pairs
each invoke with the next completion of its process and returns `QueueOp` values in
completion order. The rules, as in Jepsen:

* ``ok`` happened, ``fail`` definitely did not happen, ``info`` may or may not have; an
  invoke that never completes counts as ``info``;
* after ``info`` a process id is retired, so per-process sequences simply end there;
* events of non-integer processes (Jepsen's ``:nemesis``) are not client operations; an
  ``ok`` or ``fail`` of a string process other than "nemesis" is a client with a string
  id, and is refused rather than left out;
* an event with ``"f": "rebalance"`` is not an operation either: it marks that its process
  (``"process"``, or each of ``"processes"``) was told its assignment changed. It becomes a
  `QueueOp` with ``f == "rebalance"`` in the stream, and never completes a pending op;
* a completion with no pending invoke is taken as a whole operation (hand-written
  histories often leave invokes out).

Keys are matched by ``str(key)``, since JSON object keys (a poll's value) are always
strings while a send may carry an integer key; results report the first spelling seen.
Values are made hashable (lists -> tuples) for set membership and thawed on output.

Malformed input raises `QueueHistoryError` with a one-line message naming the event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from checkers.history import FALSE, TRUE, JsonBool

__all__ = ["QueueHistoryError", "QueueOp", "KeyTable", "pair_queue_ops", "hashable", "thaw", "show", "show_list",
           "key_out"]

EVENT_TYPES = frozenset({"invoke", "ok", "fail", "info"})
#: the operations of a queue client (docs/anomalies.md); anything else is not a queue history
CLIENT_FS = frozenset({"send", "poll", "commit", "assign", "subscribe"})
_SCALARS = (int, str, float, bool, type(None))


class QueueHistoryError(ValueError):
    """A queue history is malformed; the message is one line."""


def hashable(value: Any) -> Any:
    """A hashable stand-in for a JSON value: lists -> tuples, dicts -> sorted item tuples,
    booleans -> `checkers.history.JsonBool` (Python's True == 1 would make a poll of true
    match a send of 1, in sets and dicts alike)."""
    if isinstance(value, _SCALARS):
        return value if type(value) is not bool else TRUE if value else FALSE
    if isinstance(value, (list, tuple)):
        return tuple(hashable(v) for v in value)
    if isinstance(value, dict):
        return ("__map__",) + tuple(sorted((str(k), hashable(v)) for k, v in value.items()))
    return value


def thaw(value: Any) -> Any:
    """The JSON-able form of a `hashable` value."""
    if isinstance(value, _SCALARS):
        return value
    if type(value) is JsonBool:
        return value.value
    if isinstance(value, tuple):
        if value and value[0] == "__map__":
            return {k: thaw(v) for k, v in value[1:]}
        return [thaw(v) for v in value]
    return value


def show(value: Any) -> str:
    """A value as JSON text, for explanations."""
    try:
        return json.dumps(thaw(value), ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def show_list(xs: list[Any], limit: int = 8) -> str:
    """``1, 2, 3``, or the first ``limit`` items and the count."""
    shown = ", ".join(show(x) for x in xs[:limit])
    return shown + (f", ... ({len(xs)} in all)" if len(xs) > limit else "")


def key_out(key: Any) -> Any:
    """A key as a JSON object key: scalars as they are, anything else as JSON text."""
    return key if isinstance(key, _SCALARS) else json.dumps(thaw(key), ensure_ascii=False)


class KeyTable:
    """Matches keys by their string form; remembers the first spelling seen of each."""

    __slots__ = ("_by_text",)

    def __init__(self) -> None:
        self._by_text: dict[str, Any] = {}

    def canon(self, key: Any) -> Any:
        text = key if isinstance(key, str) else str(thaw(hashable(key)))
        found = self._by_text.get(text)
        if found is None:
            found = self._by_text[text] = hashable(key)
        return found

    def __len__(self) -> int:
        return len(self._by_text)


@dataclass(slots=True, eq=False)
class QueueOp:
    """One client operation (or a rebalance mark), as the checks see it.

    ``index`` is the history index of the completion (None for an invoke that never
    completed); ``at`` is the index to cite. ``reads`` (ok polls only) maps each key to
    its ``(offset, value)`` records in the order returned.
    """

    process: int
    f: str
    type: str
    invoke_index: int | None
    index: int | None
    time: Any = None
    key: Any = None
    value: Any = None
    offset: int | None = None
    reads: dict[Any, list[tuple[int | None, Any]]] | None = None
    keys: list[Any] | None = None
    #: ok polls: the keys whose assignment the group changed during the poll
    rebalanced: frozenset[Any] = frozenset()
    #: a final-drain poll (invoked with value "drain"): it seeks to the committed offsets
    drain: bool = False

    @property
    def at(self) -> int:
        at = self.index if self.index is not None else self.invoke_index
        assert at is not None  # an operation has its invoke, its completion or both
        return at


def _where(event: dict[str, Any], pos: int) -> str:
    return f"event index {event['index']}" if "index" in event else f"event {pos}"


def _int_or_none(x: Any, what: str, where: str) -> int | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, int):
        raise QueueHistoryError(f"{where}: {what} must be an integer, got {x!r:.60}")
    return x


def _order(events: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Events by "index" when they carry one (every event then must, each a distinct
    integer, as the linearizability checker asks), else in file order."""
    with_index = 0
    for pos, e in enumerate(events):
        if not isinstance(e, dict):
            raise QueueHistoryError(f"event {pos}: not an object: {e!r:.60}")
        if "index" in e:
            with_index += 1
            i = e["index"]
            if isinstance(i, bool) or not isinstance(i, int):
                raise QueueHistoryError(f"event {pos}: bad \"index\" {i!r:.40} (want an integer)")
    if not with_index:
        return list(enumerate(events))
    if with_index < len(events):
        pos = next(pos for pos, e in enumerate(events) if "index" not in e)
        raise QueueHistoryError(f"event {pos}: some events have an \"index\" and this one has not")
    pairs = sorted(((e["index"], e) for e in events), key=lambda p: p[0])
    for (a, _), (b, _) in pairwise(pairs):
        if a == b:
            raise QueueHistoryError(f"duplicate \"index\" {a}")
    return pairs


def _rebalanced_processes(event: dict[str, Any]) -> list[int]:
    procs = []
    p = event.get("process")
    if isinstance(p, int) and not isinstance(p, bool):
        procs.append(p)
    more = event.get("processes")
    more = [] if more is None else more
    if not isinstance(more, list):
        raise QueueHistoryError(f"a rebalance's \"processes\" must be a list, got {more!r:.40}")
    for p in more:
        if isinstance(p, int) and not isinstance(p, bool):
            procs.append(p)
    return procs


def _reads(value: Any, keys: KeyTable, where: str) -> dict[Any, list[tuple[int | None, Any]]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise QueueHistoryError(f"{where}: an ok poll's value must be an object {{key: [[offset, value], ...]}}, "
                                f"got {value!r:.60}")
    reads: dict[Any, list[tuple[int | None, Any]]] = {}
    for k, records in value.items():
        if records is None:
            records = []
        if not isinstance(records, list):
            raise QueueHistoryError(f"{where}: poll records of key {k!r} must be a list, got {records!r:.60}")
        out = reads.setdefault(keys.canon(k), [])
        for rec in records:
            if not isinstance(rec, (list, tuple)) or len(rec) != 2:
                raise QueueHistoryError(f"{where}: a poll record must be [offset, value], got {rec!r:.60}")
            out.append((_int_or_none(rec[0], "a polled offset", where), hashable(rec[1])))
    return reads


def pair_queue_ops(events: list[dict[str, Any]], keys: KeyTable | None = None) -> list[QueueOp]:
    """Pair a queue history's events into operations, in completion order.

    Rebalance marks sit in the stream at their own index; operations that never
    completed follow at the end as ``info`` (their ``index`` is None).
    """
    keys = keys if keys is not None else KeyTable()
    stream: list[QueueOp] = []
    pending: dict[int, tuple[dict[str, Any], int]] = {}
    for pos, (index, e) in enumerate(_order(events)):
        where = _where(e, pos)
        typ = e.get("type")
        if typ not in EVENT_TYPES:
            raise QueueHistoryError(f"{where}: bad or missing \"type\" {typ!r:.40} (want invoke, ok, fail or info)")
        f = e.get("f")
        if f == "rebalance":
            for moved in _rebalanced_processes(e):
                stream.append(QueueOp(moved, "rebalance", "info", None, index, e.get("time")))
            continue
        p = e.get("process")
        if isinstance(p, bool) or not isinstance(p, int):
            if "process" not in e:
                raise QueueHistoryError(f"{where}: missing \"process\"")
            if isinstance(p, str):
                if typ in ("ok", "fail") and p != "nemesis":  # only a client completes so
                    raise QueueHistoryError(
                        f"{where}: {typ} of process {p!r:.40}, which is not an integer: client processes "
                        f"must be integers (events of other processes, such as Jepsen's nemesis, are not "
                        f"client operations and would be ignored)")
                continue  # the nemesis, or another non-client actor
            raise QueueHistoryError(f"{where}: bad \"process\" {p!r:.40} (want an integer, or a name "
                                    f"such as \"nemesis\")")
        if f not in CLIENT_FS:
            raise QueueHistoryError(f"{where}: bad or missing \"f\" {f!r:.40} (want "
                                    f"{', '.join(sorted(CLIENT_FS))})")
        if typ == "invoke":
            if p in pending:  # a second invoke: the first never completed
                inv, inv_index = pending.pop(p)
                stream.append(_op(inv, inv_index, None, None, keys, where))
            pending[p] = (e, index)
            continue
        if p in pending:
            inv, inv_index = pending.pop(p)
            stream.append(_op(inv, inv_index, e, index, keys, where))
        else:
            stream.append(_op(None, None, e, index, keys, where))
    for inv, inv_index in pending.values():
        stream.append(_op(inv, inv_index, None, None, keys, f"event index {inv_index}"))
    return stream


def _op(inv: dict[str, Any] | None, inv_index: int | None, done: dict[str, Any] | None, index: int | None,
        keys: KeyTable, where: str) -> QueueOp:
    src = done if done is not None else inv
    assert src is not None
    typ = done["type"] if done is not None else "info"
    f = src["f"]
    op = QueueOp(src["process"], f, typ, inv_index, index, src.get("time"))

    def field(name: str) -> Any:
        if done is not None and done.get(name) is not None:
            return done[name]
        return inv.get(name) if inv is not None else None

    if f == "send":
        key = field("key")
        if key is None:
            raise QueueHistoryError(f"{where}: a send needs a \"key\"")
        op.key = keys.canon(key)
        op.value = hashable(field("value"))
        if typ == "ok" and done is not None:
            op.offset = _int_or_none(done.get("offset"), "a send's offset", where)
    elif f == "poll":
        op.drain = inv is not None and inv.get("value") == "drain"
        if typ == "ok" and done is not None:
            op.reads = _reads(done.get("value"), keys, where)
            moved = done.get("rebalanced")
            if moved is not None:
                if not isinstance(moved, list):
                    raise QueueHistoryError(f"{where}: a poll's \"rebalanced\" must be a list of keys, "
                                            f"got {moved!r:.60}")
                op.rebalanced = frozenset(keys.canon(k) for k in moved)
    elif f in ("assign", "subscribe"):
        value = field("value")
        op.keys = [keys.canon(k) for k in value] if isinstance(value, list) else []
    return op
