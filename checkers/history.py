"""Loading Jepsen-style histories and pairing their events into operations.

A history is a list of events, one dict each, in the Jepsen operation model::

    {"index": 0, "time": 1200, "process": 3, "type": "invoke"|"ok"|"fail"|"info",
     "f": "cas", "key": "x", "value": [1, 2], "node": "n2", "error": "..."}

`load_history` reads one from JSON lines (``.jsonl``) or from Jepsen EDN (``.edn``) and
validates the shape of each event; `pair_operations` turns events into `Op` values with
Jepsen/Knossos semantics:

* real-time order is the order of "index" (never "time", which need not be monotone);
  without "index", the order of the file;
* an invoke's value is filled in from its ``ok`` completion (a read's invoke carries
  ``null``, its completion the value read);
* ``fail`` means the operation did not happen: invoke and completion are both dropped;
* ``info`` (indeterminate) and invokes that never complete may take effect at any time
  after the invoke, or never: their return is `INFINITY`;
* events of non-integer processes (Jepsen's ``:nemesis``) are not client operations and
  are ignored; but an ``ok`` or ``fail`` of a string process other than "nemesis" is a
  client whose id is not an integer, and is refused (`HistoryError`) rather than left out.

`pair_records` is the same pairing without the `Op` values (plain tuples of their fields),
for the linearizability checker: on a long history, making an `Op` per operation cost
more than the search. A history whose indices increase and whose events pair cleanly
(the usual one) is paired in one pass; anything else takes the general way, which
names the first problem.

Malformed input raises `HistoryError` with a one-line message naming the file and line.
"""

from __future__ import annotations

import json
import math
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from itertools import pairwise
from pathlib import Path
from typing import Any

__all__ = [
    "HistoryError",
    "Op",
    "INFINITY",
    "load_history",
    "pair_operations",
    "pair_records",
    "pair_records_in_order",
    "freeze",
    "thaw",
]

EVENT_TYPES = frozenset({"invoke", "ok", "fail", "info"})

#: Return position of an operation that may take effect at any time after its invoke.
INFINITY = math.inf


class HistoryError(ValueError):
    """A history file or event list is malformed; the message is one line."""


class FrozenDict(dict[str, Any]):
    """A dict that hashes (by its items), so frozen op values and states can hold maps."""

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def _immutable(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("FrozenDict is immutable")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _immutable  # type: ignore[assignment]


#: completion types only a client writes: an event of one of them from a process that is
#: not an integer (nor Jepsen's nemesis) is a client with a string id, not a nemesis, and
#: is refused rather than silently left out of the check
_CLIENT_ONLY = frozenset({"ok", "fail"})

class JsonBool:
    """A frozen JSON boolean. Python's ``True == 1`` (and ``False == 0``, with equal hashes)
    would make a read of ``true`` match a write of ``1``, and a state of one stand for the
    other in the search's cache; in Jepsen (Clojure ``=``) they differ. Two instances,
    `TRUE` and `FALSE`, equal only to themselves; `thaw` gives the bool back."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __repr__(self) -> str:
        return repr(self.value)

    def __reduce__(self) -> tuple[Any, ...]:  # one object per truth value, across pickling too
        return (freeze, (self.value,))


TRUE, FALSE = JsonBool(True), JsonBool(False)

#: exact types `freeze` returns as they are (checked first: most values are these; not
#: bool, which becomes a `JsonBool`)
_ATOMS = frozenset({str, int, float, type(None)})


def freeze(value: Any) -> Any:
    """Return a hashable copy of a JSON value that compares as Jepsen does: lists ->
    tuples, dicts -> FrozenDict, booleans -> `TRUE`/`FALSE` (never equal to 1 or 0)."""
    if type(value) in _ATOMS:
        return value
    if type(value) is bool:
        return TRUE if value else FALSE
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict) and not isinstance(value, FrozenDict):
        return FrozenDict((k, freeze(v)) for k, v in value.items())
    return value


def thaw(value: Any) -> Any:
    """Return a JSON-able copy of a frozen value (tuples/sets -> lists, maps -> dicts)."""
    if type(value) is JsonBool:
        return value.value
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [thaw(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    if isinstance(value, dict):
        return {k if isinstance(k, str) else json.dumps(thaw(k)): thaw(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True, slots=True)
class Op:
    """One client operation: an invoke and its ok/info completion (or none).

    ``value`` is the argument, filled in from the ok completion as Jepsen does (so a read's
    value is what it read); ``output`` is the completion's value (None for info/pending).
    ``call``/``ret`` are positions in the ordered event list; ``ret`` is `INFINITY` for an
    operation that may take effect at any time after its invoke.
    """

    id: int
    process: int
    f: str
    key: Any
    value: Any
    output: Any
    call: int
    ret: float | int
    type: str  # "ok" | "info"
    invoke_index: int | None
    complete_index: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description of the operation (``ret`` is None when infinite)."""
        return {
            "id": self.id,
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "key": thaw(self.key),
            "value": thaw(self.value),
            "output": thaw(self.output),
            "invoke_index": self.invoke_index,
            "complete_index": self.complete_index,
        }

    def __str__(self) -> str:
        key = "" if self.key is None else f" key={json.dumps(thaw(self.key), ensure_ascii=False)}"
        end: str | float | int
        if self.invoke_index is not None:
            end = "" if self.complete_index is None else self.complete_index
            where = f"index {self.invoke_index}..{end}"
        else:
            end = "" if self.ret == INFINITY else self.ret
            where = f"event {self.call}..{end}"
        return (
            f"op {self.id} (process {self.process}, {where}, {self.type}) "
            f"{self.f}{key} {json.dumps(thaw(self.value), ensure_ascii=False)}"
        )


def _fast_init(cls: type) -> None:
    """Give a frozen slotted dataclass an ``__init__`` that stores each field through its
    slot descriptor: the generated one goes through ``object.__setattr__`` per field (the
    class's own refuses), about twice the cost, and `pair_operations` builds one `Op` per
    operation. Same signature; equality, hashing, ``replace`` and the refusal to assign
    afterwards stay the dataclass's own."""
    names = [f.name for f in fields(cls)]
    ns: dict[str, Any] = {f"_s_{n}": cls.__dict__[n].__set__ for n in names}
    body = "".join(f"    _s_{n}(self, {n})\n" for n in names)
    exec(f"def __init__(self, {', '.join(names)}):\n{body}", ns)  # from the field names, as dataclasses does
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = dict(cls.__dict__["__init__"].__annotations__)
    cls.__init__ = init  # type: ignore[misc]


_fast_init(Op)


# --------------------------------------------------------------------------- loading


def load_history(path: str | Path) -> list[dict[str, Any]]:
    """Read a history from ``.jsonl`` (one JSON event per line) or Jepsen ``.edn``.

    Returns the events as dicts in file order. Raises `HistoryError` on a missing or
    malformed file, naming the file and the line.
    """
    path = Path(path)
    text = read_history_text(path)
    if path.suffix.lower() == ".edn":
        return _load_edn(path, text)
    return _load_jsonl(path, text)


#: the largest history file read (a history is read whole; past this it is a mistake,
#: such as /dev/zero, or needs a machine-sized checker anyway)
MAX_HISTORY_BYTES = 1 << 30


def read_history_text(path: str | Path, error: type[Exception] | None = None) -> str:
    """The text of a history file: a regular file of at most ``MAX_HISTORY_BYTES``, UTF-8.
    Anything else raises ``error`` (default `HistoryError`) with a one-line message."""
    err = error or HistoryError
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise err(f"{path}: no such file") from None
    except OSError as exc:
        raise err(f"{path}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise err(f"{path}: is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise err(f"{path}: not a regular file")
    if st.st_size > MAX_HISTORY_BYTES:
        raise err(f"{path}: {st.st_size} bytes, more than the {MAX_HISTORY_BYTES} a history may have")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_HISTORY_BYTES + 1)
        if len(data) > MAX_HISTORY_BYTES:
            raise err(f"{path}: more than the {MAX_HISTORY_BYTES} bytes a history may have")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise err(f"{path}: cannot read: {exc}") from None


def _check_event(event: Any, where: str) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise HistoryError(f"{where}: event is not an object: {_short(event)}")
    typ = event.get("type")
    if not isinstance(typ, str) or typ not in EVENT_TYPES:
        raise HistoryError(f"{where}: bad or missing \"type\" {_short(typ)} (want invoke, ok, fail or info)")
    if "process" not in event:
        raise HistoryError(f"{where}: missing \"process\"")
    proc = event["process"]
    if isinstance(proc, bool) or not isinstance(proc, (int, str)):
        raise HistoryError(f"{where}: bad \"process\" {_short(proc)} (want an integer or a string)")
    if "index" in event:
        idx = event["index"]
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise HistoryError(f"{where}: bad \"index\" {_short(idx)} (want an integer)")
    if isinstance(proc, int) and not isinstance(event.get("f"), str):
        raise HistoryError(f"{where}: bad or missing \"f\" {_short(event.get('f'))} (want a string)")
    return event


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load_jsonl(path: Path, text: str) -> list[dict[str, Any]]:
    events = []
    loads = json.loads
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = loads(line)
        except ValueError as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise HistoryError(f"{path}:{lineno}: invalid JSON: {msg}") from None
        except RecursionError:
            raise HistoryError(f"{path}:{lineno}: JSON nested too deep") from None
        events.append(_check_event(event, f"{path}:{lineno}"))
    return events


# --------------------------------------------------------------------------- EDN


class _IndependentTuple:
    """Jepsen's independent tuple written as a tagged record."""

    __slots__ = ("key", "value")

    def __init__(self, key: Any, value: Any) -> None:
        self.key, self.value = key, value


def _edn_tags() -> None:
    import edn_format

    def tuple_tag(element: Any) -> _IndependentTuple:
        if isinstance(element, Mapping):
            return _IndependentTuple(_edn_get(element, "key"), _edn_get(element, "value"))
        k, v = element
        return _IndependentTuple(k, v)

    for name in ("jepsen.independent.Tuple", "jepsen.independent/tuple"):
        edn_format.add_tag(name, tuple_tag)
    edn_format.add_tag("jepsen.history.Op", lambda element: element)
    edn_format.add_tag("knossos.op.Op", lambda element: element)


def _edn_get(mapping: Any, name: str) -> Any:
    import edn_format

    return mapping.get(edn_format.Keyword(name), mapping.get(name))


def _from_edn(value: Any) -> Any:
    """EDN data -> JSON-like Python data (keywords and symbols become strings)."""
    import decimal

    import edn_format

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (edn_format.Keyword, edn_format.Symbol)):
        return value.name
    if isinstance(value, _IndependentTuple):
        return _IndependentTuple(_from_edn(value.key), _from_edn(value.value))
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            k = _from_edn(k)
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                k = json.dumps(k, default=str)
            out[k] = _from_edn(v)
        return out
    if isinstance(value, (frozenset, set)):
        return thaw(frozenset(freeze(_from_edn(v)) for v in value))
    if isinstance(value, (list, tuple, Sequence)):
        return [_from_edn(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, edn_format.MetadataValue):
        return _from_edn(value.value)
    return str(value)


def _edn_form_starts(text: str) -> list[int]:
    """Offsets of the top-level forms inside the history (inside the outer vector, if any).

    Only used to name lines in error messages; a small scanner that knows strings,
    comments, characters, tags (``#tag form`` is one form) and ``#_`` discards.
    """
    delimiters = ' \t\r\n,()[]{}";'
    starts: list[int] = []
    depth = 0
    base = None  # depth whose children are events: 1 inside an outer [ ], else 0
    skip_next = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == ";":
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if c in " \t\r\n,":
            i += 1
            continue
        if base is None:
            base = 1 if c in "[(" else 0
            if base:
                depth = 1
                i += 1
                continue
        at_top = depth == base and c not in ")]}"
        if at_top:
            if skip_next:
                skip_next = False
            else:
                starts.append(i)
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif c in "([{":
            depth += 1
            i += 1
        elif c in ")]}":
            depth -= 1
            i += 1
        elif c == "#" and text[i + 1 : i + 2] == "{":
            depth += 1
            i += 2
        elif c == "#" and text[i + 1 : i + 2] == "_":
            if at_top:
                starts.pop()
                skip_next = True  # the discarded form is not an event either
            i += 2
        else:  # an atom, a character literal, or a tag (whose form follows)
            tag = c == "#"
            i += 2 if c == "\\" else 1
            while i < n and text[i] not in delimiters:
                i += 1
            if tag and at_top:
                skip_next = True
    return starts


def _edn_error_text(exc: Exception) -> str:
    args = getattr(exc, "args", ())
    if args and getattr(args[0], "lexpos", None) is not None:
        return f"unexpected {args[0].value!r}"
    return " ".join(str(exc).split()) or type(exc).__name__


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _edn_error_line(text: str, exc: Exception) -> int | None:
    for arg in getattr(exc, "args", ()):
        pos = getattr(arg, "lexpos", None)
        if isinstance(pos, int):
            return _line_of(text, pos)
        if isinstance(arg, str):
            m = re.search(r"lexpos (\d+)", arg)
            if m:
                return _line_of(text, int(m.group(1)))
    # No position: parse the top-level forms one by one to find the bad one.
    import edn_format

    starts = _edn_form_starts(text)
    for a, b in zip(starts, starts[1:] + [len(text)]):
        chunk = text[a:b].rstrip().rstrip("])").rstrip() if b == len(text) else text[a:b]
        try:
            edn_format.loads(chunk)
        except Exception:
            return _line_of(text, a)
    return None


_EDN_TAGS_DONE = False


def _load_edn(path: Path, text: str) -> list[dict[str, Any]]:
    global _EDN_TAGS_DONE
    import edn_format

    if not _EDN_TAGS_DONE:
        _edn_tags()
        _EDN_TAGS_DONE = True
    try:
        forms = edn_format.loads_all(text)
    except Exception as exc:  # edn_format raises several types, some without position
        line = _edn_error_line(text, exc)
        where = f"{path}:{line}" if line else str(path)
        detail = _edn_error_text(exc)
        raise HistoryError(f"{where}: invalid EDN: {detail[:200]}") from None
    if len(forms) == 1 and isinstance(forms[0], Sequence) and not isinstance(forms[0], str):
        forms = list(forms[0])  # one vector of events (Knossos), else one event per form (Jepsen)
    events = [_from_edn(form) for form in forms]
    starts: list[int] | None = None
    independent = _looks_independent(events)
    out = []
    for i, event in enumerate(events):
        if not isinstance(event, dict) or event.get("type") not in EVENT_TYPES or "process" not in event \
                or isinstance(event["process"], bool) or not isinstance(event["process"], (int, str)):
            if starts is None:
                starts = _edn_form_starts(text)
            where = f"{path}:{_line_of(text, starts[i])}" if i < len(starts) else f"{path}: event {i}"
            _check_event(event, where)
        value = event.get("value")
        if isinstance(value, _IndependentTuple):
            event["key"], event["value"] = value.key, value.value
        elif independent and isinstance(event.get("process"), int) and "key" not in event:
            event["key"], event["value"] = value[0], value[1]
        if isinstance(event.get("process"), int) and not isinstance(event.get("f"), str):
            if starts is None:
                starts = _edn_form_starts(text)
            where = f"{path}:{_line_of(text, starts[i])}" if i < len(starts) else f"{path}: event {i}"
            _check_event(event, where)
        out.append(event)
    return out


def _looks_independent(events: list[Any]) -> bool:
    """Plain ``[k v]`` values are Jepsen independent tuples when every client event has one.

    In an independent history *every* op carries a pair (reads ``[k nil]``, writes
    ``[k v]``, cas ``[k [old new]]``). A plain cas value is a pair too, so a history whose
    ops are all cas is read as plain; a txn's first element is a vector, never a key.
    """
    fs = set()
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("process"), int):
            continue
        value = event.get("value")
        if not (isinstance(value, list) and len(value) == 2 and not isinstance(value[0], (list, dict))):
            return False
        fs.add(event.get("f"))
    return bool(fs) and fs != {"cas"}


# --------------------------------------------------------------------------- pairing


def pair_operations(events: Iterable[dict[str, Any]]) -> list[Op]:
    """Pair invokes with completions (Jepsen semantics); return ops ordered by invoke.

    Fail ops are dropped; info ops and invokes never completed get ``ret=INFINITY`` and
    type "info"; non-integer processes are ignored. Raises `HistoryError` on a completion
    without an invoke, an invoke while the same process has one open, or duplicate or
    partial "index" fields.
    """
    return [Op(i, *rec) for i, rec in enumerate(pair_records(events))]


#: what `pair_records` gives for one operation: `Op`'s fields after ``id``, in order
#: (process, f, key, value, output, call, ret, type, invoke_index, complete_index)
OpRecord = tuple[Any, ...]


def pair_records(events: Iterable[dict[str, Any]]) -> list[OpRecord]:
    """`pair_operations` without the `Op` values: each operation's fields after ``id``
    as a plain tuple, in invoke order; an operation's id is its place in the list
    (``Op(i, *records[i])`` is the op). The linearizability checker pairs this way,
    where one `Op` per operation would cost more than its whole search on a long history.
    """
    events = events if type(events) is list else list(events)
    records = pair_records_in_order(events)
    if records is None:
        records = _pair(_in_index_order(events))
    return records


def pair_records_in_order(events: list[Any]) -> list[OpRecord] | None:
    """`pair_records` for the usual history, in one pass: every event is a dict with an
    "index" above the one before, a "process" and a "type", every client event has an
    "f" and a "value" (a "key" may be missing), and the events pair cleanly. None at the
    first thing that is otherwise (`pair_records` then goes the general way, which puts
    the events in order and names the problem): so a caller that gets records also
    knows every event is a dict."""
    atoms = _ATOMS
    frz = freeze
    inf = INFINITY
    open_at: dict[int, int] = {}  # process -> its open invoke's slot
    # one slot per invoke, in order: its position while open, then the operation's
    # record, or None when it failed
    slots: list[Any] = []
    n_failed = 0
    last: float = -inf
    try:
        for pos, event in enumerate(events):
            if type(event) is not dict:
                return None
            idx = event["index"]
            if not last < idx:  # (an index that does not compare with ints raises TypeError)
                return None
            last = idx
            proc = event["process"]
            if type(proc) is not int and (isinstance(proc, bool) or not isinstance(proc, int)):
                if event["type"] in _CLIENT_ONLY and proc != "nemesis":
                    return None  # a client with a string id: `_pair` says so
                continue  # nemesis and other non-client processes
            typ = event["type"]
            if typ == "invoke":
                if proc in open_at:
                    return None
                open_at[proc] = len(slots)
                slots.append(pos)
                continue
            s = open_at.pop(proc)  # (KeyError: no open invoke)
            if typ == "ok" or typ == "info":
                call = slots[s]
                invoke = events[call]
                key = invoke.get("key")
                if key is None:
                    key = event.get("key")
                if type(key) not in atoms:
                    key = frz(key)
                output = event["value"] if typ == "ok" else None
                if output is None:
                    value = invoke["value"]
                    if type(value) not in atoms:
                        value = frz(value)
                else:  # Jepsen fills the invoke's value from its ok completion
                    if type(output) not in atoms:
                        output = frz(output)
                    value = output
                if typ == "ok":
                    slots[s] = (proc, invoke["f"], key, value, output, call, pos, "ok", invoke["index"], idx)
                else:
                    slots[s] = (proc, invoke["f"], key, value, None, call, inf, "info", invoke["index"], idx)
            elif typ == "fail":
                slots[s] = None
                n_failed += 1
            else:
                return None
        for s in open_at.values():  # invoked and never completed: may happen any time later
            call = slots[s]
            invoke = events[call]
            key, value = invoke.get("key"), invoke["value"]
            slots[s] = (invoke["process"], invoke["f"], key if type(key) in atoms else frz(key),
                        value if type(value) in atoms else frz(value), None, call, inf, "info", invoke["index"], None)
    except (KeyError, TypeError, AttributeError):  # a field missing, an event not a dict
        return None
    return [rec for rec in slots if rec is not None] if n_failed else slots


def record_at(events: list[dict[str, Any]], call: int, done: int | None) -> OpRecord:
    """The record `pair_records` gives the operation invoked at ``events[call]`` and
    completed (ok or info) at ``events[done]``, or never (None), in events already in
    order: for a caller that paired them itself and wants the records of a few."""
    rec = _pair([events[call]] if done is None else [events[call], events[done]])[0]
    return (*rec[:5], call, done if rec[7] == "ok" else rec[6], *rec[7:])


def _in_index_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events in real-time order: by "index" when they have one (all or none must)."""
    has_index = [("index" in e) for e in events]
    if any(has_index):
        if not all(has_index):
            missing = has_index.index(False)
            raise HistoryError(f"event {missing}: some events have an \"index\" and this one has not")
        indices = [e["index"] for e in events]
        try:
            in_order = all(a < b for a, b in pairwise(indices))  # the usual case: nothing to sort
        except TypeError:
            in_order = False
        if not in_order:
            order = sorted(range(len(events)), key=indices.__getitem__)
            for a, b in pairwise(order):
                if events[a]["index"] == events[b]["index"]:
                    raise HistoryError(f"duplicate \"index\" {events[a]['index']}")
            events = [events[i] for i in order]
    return events


def _pair(events: list[dict[str, Any]]) -> list[OpRecord]:
    """The pairing of events already in order, whatever they hold: raises `HistoryError`
    at a completion without an invoke or an invoke while its process has one open."""
    open_invokes: dict[int, tuple[int, dict[str, Any]]] = {}
    pairs: list[tuple[int, dict[str, Any], int | None, dict[str, Any] | None]] = []  # (call, invoke, ret, completion)
    slot_of: dict[int, int] = {}
    for pos, event in enumerate(events):
        proc = event.get("process")
        if type(proc) is not int and (isinstance(proc, bool) or not isinstance(proc, int)):
            if event.get("type") in _CLIENT_ONLY and proc != "nemesis":
                raise HistoryError(
                    f"{_where(event, pos)}: {event.get('type')} of process {_short(proc)}, which is not an "
                    "integer: client processes must be integers (events of other processes, such as "
                    "Jepsen's nemesis, are not client operations and would be ignored)"
                )
            continue  # nemesis and other non-client processes
        typ = event.get("type")
        if typ == "invoke":
            if proc in open_invokes:
                raise HistoryError(
                    f"{_where(event, pos)}: process {proc} invokes while its operation at "
                    f"{_where(open_invokes[proc][1], open_invokes[proc][0])} is still open"
                )
            open_invokes[proc] = (pos, event)
            slot_of[proc] = len(pairs)
            pairs.append((pos, event, None, None))
        elif typ in ("ok", "fail", "info"):
            if proc not in open_invokes:
                raise HistoryError(f"{_where(event, pos)}: {typ} for process {proc} with no open invoke")
            call, invoke = open_invokes.pop(proc)
            pairs[slot_of[proc]] = (call, invoke, pos, event)
        else:
            raise HistoryError(f"{_where(event, pos)}: bad type {typ!r}")

    records: list[OpRecord] = []
    append = records.append
    atoms = _ATOMS
    for call, invoke, ret, completion in pairs:
        ctype = completion["type"] if completion is not None else None
        if ctype == "fail":
            continue
        get = invoke.get
        key = get("key")
        if key is None and completion is not None:
            key = completion.get("key")
        value = get("value")
        ret_pos: float | int
        if ctype == "ok":
            assert completion is not None and ret is not None  # an ok has its completion
            output = completion.get("value")
            if output is not None:
                value = output  # Jepsen fills the invoke's value from its ok completion
            typ, ret_pos = "ok", ret
        else:
            output, typ, ret_pos = None, "info", INFINITY
        # the fields of `Op` after id (freeze skipped for plain scalars: the same value)
        append((
            invoke["process"], get("f"),
            key if type(key) in atoms else freeze(key),
            value if type(value) in atoms else freeze(value),
            output if type(output) in atoms else freeze(output),
            call, ret_pos, typ, get("index"),
            completion.get("index") if completion is not None else None,
        ))
    return records


def _where(event: dict[str, Any], pos: int) -> str:
    return f"index {event['index']}" if "index" in event else f"event {pos}"
