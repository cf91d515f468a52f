"""Jepsen EDN export of a run's history: ``history.edn`` beside ``history.jsonl``, in the
shape Knossos and Elle read unchanged (``harness export RUN_DIR``, or ``harness run --edn``).

One op map per line, as Jepsen's store writes it, with the keys ``:index :time :type
:process :f :value``; ``:type`` and ``:f`` are keywords, the rest is data (strings stay
strings, lists become vectors, maps stay maps, null is nil). Process ids are already
Jepsen's (a client whose op ended ``info`` continues as process + concurrency). Any other
field of an event (``:node``, ``:zxid``, ``:error``, ``:token``...) is kept under its own
keyword, which Knossos and Elle ignore. Faults are not client ops and stay in
faults.jsonl. The value of an op, by workload (docs/edn.md):

* a keyed op (the register workload: ``read``, ``write``, ``cas`` on a key) is Jepsen's
  independent tuple ``[key value]``, so ``jepsen.independent/checker`` over Knossos's
  cas-register model reads it: a read ``[k nil]`` / ``[k v]``, a write ``[k v]``, a cas
  ``[k [old new]]``;
* the queue workload's ``send`` and ``poll`` are the micro-op vectors of Jepsen's Kafka
  workload (jepsen.tests.kafka), which Elle's queue checker reads: a send
  ``[[:send k v]]``, completed ``[[:send k [offset v]]]``; a poll ``[[:poll]]``,
  completed ``[[:poll {k [[offset v] ...]}]]``; ``assign`` and ``subscribe`` carry their
  key vector, ``commit`` its value as is;
* anything else (the election workload's acquire, write, release, check) keeps its value.

``read_history_edn`` is the inverse: the events of ``history.jsonl`` back, field for field.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.config import ConfigError

__all__ = ["HISTORY_EDN", "edn_op", "event_of", "history_edn", "read_history_edn", "write_history_edn"]

HISTORY_EDN = "history.edn"
FORMATS = ("edn",)

_FIRST = ("index", "time", "type", "process", "f", "value")
_KEYWORD_VALUES = ("type", "f")
_QUEUE_MOPS = ("send", "poll")
#: workloads whose ops act on a key: their value is an independent tuple [key value]
KEYED_WORKLOADS = ("register",)


def _kw(name: str) -> Any:
    import edn_format

    return edn_format.Keyword(name)


def _data(value: Any) -> Any:
    """JSON data -> EDN data: tuples become vectors (lists); the rest maps one to one."""
    if isinstance(value, (list, tuple)):
        return [_data(v) for v in value]
    if isinstance(value, dict):
        return {k: _data(v) for k, v in value.items()}
    return value


def _edn_value(event: dict[str, Any], workload: str) -> tuple[Any, tuple[str, ...]]:
    """The op's ``:value`` and the event fields it absorbed besides ``value``."""
    f, value = event.get("f"), event.get("value")
    if workload == "queue" and f in _QUEUE_MOPS:
        if f == "send":
            if event.get("type") == "ok" and "offset" in event:  # Jepsen: [offset value]
                return [[_kw("send"), event.get("key"), [event["offset"], _data(value)]]], ("key", "offset")
            return [[_kw("send"), event.get("key"), _data(value)]], ("key",)
        if value is None:
            return [[_kw("poll")]], ()
        return [[_kw("poll"), _data(value)]], ()
    if workload in KEYED_WORKLOADS and "key" in event:
        return [event["key"], _data(value)], ("key",)
    return _data(value), ()


def edn_op(event: dict[str, Any], workload: str) -> dict[str, Any]:
    """One history.jsonl event as a Jepsen op map (keyword keys)."""
    value, absorbed = _edn_value(event, workload)
    op: dict[str, Any] = {}
    for name in _FIRST:
        if name == "value":
            op[_kw("value")] = value
        elif name in event:
            v = event[name]
            op[_kw(name)] = _kw(v) if name in _KEYWORD_VALUES or (name == "process" and isinstance(v, str)) else v
    for name, v in event.items():
        if name not in _FIRST and name not in absorbed:
            op[_kw(name)] = _data(v)
    return op


def history_edn(events: list[dict[str, Any]], workload: str) -> str:
    """The text of history.edn: one op map per line."""
    import edn_format

    return "".join(edn_format.dumps(edn_op(e, workload)) + "\n" for e in events)


def _plain(value: Any) -> Any:
    """EDN data read back -> JSON data (keywords become their names)."""
    import edn_format

    if isinstance(value, edn_format.Keyword):
        return value.name
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value


def event_of(op: Any, workload: str) -> dict[str, Any]:
    """The inverse of ``edn_op``: a Jepsen op map (as edn_format reads it) -> the event,
    its fields in history.jsonl's order."""
    event = {_plain(k): _plain(v) for k, v in op.items()}
    value, f = event.pop("value", None), event.get("f")
    unpacked: dict[str, Any] = {"value": value}
    if workload == "queue" and f in _QUEUE_MOPS:
        mop = value[0]
        if f == "poll":
            unpacked = {"value": mop[1] if len(mop) > 1 else None}
        elif event.get("type") == "ok" and isinstance(mop[2], list) and len(mop[2]) == 2:
            unpacked = {"key": mop[1], "value": mop[2][1], "offset": mop[2][0]}
        else:
            unpacked = {"key": mop[1], "value": mop[2]}
    elif workload in KEYED_WORKLOADS and isinstance(value, list) and len(value) == 2:
        unpacked = {"key": value[0], "value": value[1]}
    out = {n: event.pop(n) for n in ("index", "time", "process", "type", "f") if n in event}
    out.update(unpacked)
    out.update(event)
    return out


def read_history_edn(path: str | Path, workload: str) -> list[dict[str, Any]]:
    """history.edn -> the events of history.jsonl (the inverse of ``history_edn``)."""
    import edn_format

    text = Path(path).read_text(encoding="utf-8")
    return [event_of(op, workload) for op in edn_format.loads_all(text)]


def _workload_of(run_dir: Path) -> str:
    from harness.store import load_config

    return load_config(run_dir).workload  # the one validation every config goes through


def write_history_edn(run_dir: str | Path) -> Path:
    """Write ``run_dir``/history.edn from its history.jsonl; its path."""
    run_dir = Path(run_dir)
    src = run_dir / "history.jsonl"
    if not src.is_file():
        raise ConfigError(f"{run_dir} has no history.jsonl")
    workload = _workload_of(run_dir)
    from checkers.history import HistoryError, load_history

    try:
        events = load_history(src)  # a regular file, each line an event, or one line saying why not
    except HistoryError as exc:
        raise ConfigError(str(exc)) from None
    out = run_dir / HISTORY_EDN
    # written aside and renamed into place: an export cut short (a full disk, a kill)
    # never leaves a truncated history.edn that a checker would then read
    tmp = out.with_name(f".{HISTORY_EDN}.tmp-{os.getpid()}")
    try:
        tmp.write_text(history_edn(events, workload), encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ------------------------------------------------------------------ `harness export`


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="a run directory (holding history.jsonl and config.json)")
    p.add_argument("--format", choices=FORMATS, default="edn", help="edn: Jepsen's history.edn (default)")


def run(args: argparse.Namespace) -> int:
    out = write_history_edn(args.run_dir)
    print(f"wrote {out}")
    return 0
