"""Order anomalies: how consumers walk a key's log, and where producers' sends land.

One pass over the operations in completion order, each process on its own (a process is
one client, sequential, retired after an ``info``):

* inside one ok poll, consecutive records of a key must move forward (else
  ``int-nonmonotonic-poll``) without jumping over an offset known to exist (else
  ``int-poll-skip``), unless the poll's ``rebalanced`` list names the key (the group
  moved it during the poll, so the poll may hold two stretches of the log);
* a process's next poll that returns records of a key must start after the offset where
  its previous such poll ended (else ``nonmonotonic-poll``) and not jump over a known
  offset (else ``poll-skip``). Polls that return nothing for a key leave the position
  where it was, so they are passed over rather than compared;
* a producer's next ok send to a key must land after its previous one (else
  ``nonmonotonic-send``). Equal offsets are left to inconsistent-offsets.

Reassignment (Jepsen's rule, docs/anomalies.md): an ``assign`` or ``subscribe`` that ended
ok or info keeps a process's memory of the keys in its new value and forgets the others
(for polls and for sends); one that failed, or never completed, changes nothing. A key
kept across it is still checked; a key dropped and taken back starts afresh.

A final-drain poll (invoked with value ``"drain"``) seeks to the group's committed offsets,
so it is compared with nothing before it, as Jepsen's final polls come from fresh clients.

A consumer told that the group moved a key (the poll's ``rebalanced`` list names it, or
a ``rebalance`` event names the process) may legitimately restart from a committed
offset, forward or back. Such a jump is not an anomaly; it is recorded under ``allowed``
with the index of what told it, so a report can still show it.
"""

from __future__ import annotations

from typing import Any

from checkers.durability.history import QueueOp, show, show_list, thaw
from checkers.durability.orders import KeyLog

__all__ = ["order_anomalies", "MAX_SKIPPED"]

#: Skipped records listed per anomaly (the count is always given): a skip over ten thousand
#: offsets is explained by its ends and a handful of examples.
MAX_SKIPPED = 8


def _skip_fields(log: KeyLog, lo: int, hi: int) -> dict[str, Any]:
    n = log.known_between(lo, hi)
    return {"skipped": log.records_between(lo, hi, MAX_SKIPPED), "skipped_count": n, "delta": n + 1}


def order_anomalies(stream: list[QueueOp],
                    logs: dict[Any, KeyLog]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Return ``(anomalies, allowed)``, each ``{kind: [anomaly, ...]}``."""
    found: dict[str, list[Any]] = {}
    allowed: dict[str, list[Any]] = {}
    # process -> key -> [last offset, last value, index of that poll, reassignment (index, f) or None]
    positions: dict[int, dict[Any, list[Any]]] = {}
    # process -> key -> (offset, value, index of that send)
    last_sends: dict[int, dict[Any, tuple[int, Any, int]]] = {}

    for op in stream:
        f = op.f
        if f == "poll":
            if op.type == "ok" and op.reads:
                _poll(op, logs, positions.setdefault(op.process, {}), found, allowed)
        elif f == "send":
            if op.type in ("ok", "info"):
                _send(op, logs, last_sends.setdefault(op.process, {}), found)
        elif f == "rebalance":
            for entry in positions.get(op.process, {}).values():
                if entry[3] is None:
                    entry[3] = (op.at, f)
        elif f in ("assign", "subscribe") and op.type in ("ok", "info"):
            keep = set(op.keys or ())
            for memory in (positions.get(op.process), last_sends.get(op.process)):
                if memory:
                    for key in [k for k in memory if k not in keep]:
                        del memory[key]
    return found, allowed


def _send(op: QueueOp, logs: dict[Any, KeyLog], mine: dict[Any, tuple[int, Any, int]],
          found: dict[str, list[Any]]) -> None:
    offset = op.offset
    if op.type == "info":
        # Jepsen remembers an info send too; where it landed is known only if some poll
        # read its value at one offset
        log = logs.get(op.key)
        at = log.offsets_of(op.value) if log is not None else []
        if len(at) != 1:
            mine.pop(op.key, None)
            return
        offset = at[0]
    if offset is None:
        return
    prev = mine.get(op.key)
    if prev is not None and offset < prev[0]:
        found.setdefault("nonmonotonic-send", []).append({
            "kind": "nonmonotonic-send",
            "key": thaw(op.key),
            "offsets": [prev[0], offset],
            "values": [thaw(prev[1]), thaw(op.value)],
            "indices": [prev[2], op.at],
            "process": op.process,
            "explanation": f"process {op.process} sent {show(op.value)} to key {show(op.key)} "
                           f"(index {op.at}) after {show(prev[1])} (index {prev[2]}), yet it "
                           f"landed at offset {offset}, before the earlier send's {prev[0]}.",
        })
    mine[op.key] = (offset, op.value, op.at)


def _poll(op: QueueOp, logs: dict[Any, KeyLog], mine: dict[Any, list[Any]],
          found: dict[str, list[Any]], allowed: dict[str, list[Any]]) -> None:
    assert op.reads is not None
    p, at = op.process, op.at
    for key, read in op.reads.items():
        records: list[tuple[int, Any]] = [(o, v) for o, v in read if o is not None]
        if not records:
            continue
        log = logs[key]
        k = show(key)
        moved = key in op.rebalanced
        prev_o, prev_v = records[0]
        for o, v in ([] if moved else records[1:]):
            if o <= prev_o:
                found.setdefault("int-nonmonotonic-poll", []).append({
                    "kind": "int-nonmonotonic-poll",
                    "key": thaw(key), "offsets": [prev_o, o], "values": [thaw(prev_v), thaw(v)],
                    "indices": [at], "process": p,
                    "explanation": f"the poll at index {at} (process {p}) returned key {k} offset {o} "
                                   f"({show(v)}) right after offset {prev_o} ({show(prev_v)}): inside one "
                                   f"poll the offsets {'repeat' if o == prev_o else 'go backwards'}.",
                })
            elif log.known_between(prev_o, o):
                extra = _skip_fields(log, prev_o, o)
                found.setdefault("int-poll-skip", []).append({
                    "kind": "int-poll-skip",
                    "key": thaw(key), "offsets": [prev_o, o], "values": [thaw(prev_v), thaw(v)],
                    "indices": [at], "process": p, **extra,
                    "explanation": f"the poll at index {at} (process {p}) returned key {k} offset {prev_o} "
                                   f"then offset {o}, skipping {extra['skipped_count']} offset(s) known to "
                                   f"exist ({show_list([r[0] for r in extra['skipped']])}).",
                })
            prev_o, prev_v = o, v
        first_o, first_v = records[0]
        # a final drain seeks every key to the group's committed offset: it starts afresh,
        # as Jepsen's final polls do with a fresh client
        entry = None if op.drain else mine.get(key)
        if entry is not None:
            last_o, last_v, last_at, reassigned = entry
            if moved and reassigned is None:
                reassigned = (at, "rebalanced poll")
            kind = None
            if first_o <= last_o:
                kind = "nonmonotonic-poll"
                what = (f"began key {k} at offset {first_o} ({show(first_v)}), at or before offset {last_o} "
                        f"({show(last_v)}) where its previous poll (index {last_at}) ended")
                # Jepsen's delta: how far the consumer moved in known offsets (here 0 or less).
                extra = {"delta": -(log.known_between(first_o, last_o) + (first_o < last_o))}
            elif log.known_between(last_o, first_o):
                kind = "poll-skip"
                extra = _skip_fields(log, last_o, first_o)
                what = (f"began key {k} at offset {first_o} ({show(first_v)}) after its previous poll (index "
                        f"{last_at}) ended at offset {last_o}, skipping {extra['skipped_count']} offset(s) "
                        f"known to exist ({show_list([r[0] for r in extra['skipped']])})")
            if kind is not None:
                anomaly = {
                    "kind": kind, "key": thaw(key), "offsets": [last_o, first_o],
                    "values": [thaw(last_v), thaw(first_v)], "indices": [last_at, at], "process": p, **extra,
                }
                if reassigned is None:
                    anomaly["explanation"] = (f"process {p}'s poll at index {at} {what}, the key staying "
                                              f"assigned to it and no rebalance of it between.")
                    found.setdefault(kind, []).append(anomaly)
                else:
                    anomaly["allowed"] = True
                    anomaly["rebalance_index"] = reassigned[0]
                    anomaly["explanation"] = (f"process {p}'s poll at index {at} {what}; allowed, since the "
                                              f"{reassigned[1]} at index {reassigned[0]} told it its "
                                              f"assignment changed.")
                    allowed.setdefault(kind, []).append(anomaly)
        last_o, last_v = records[-1]
        mine[key] = [last_o, last_v, at, None]
