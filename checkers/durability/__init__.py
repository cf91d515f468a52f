"""Durability checker for the queue (Kafka) workload, in the vocabulary of Jepsen's Kafka test.

Theory of operation
-------------------
A key is one partition: one totally ordered log, one value per offset. Clients ``send``
values (unique, never retried by the workload) and learn the offset on ``ok``; consumers
``poll`` and get ``{key: [[offset, value], ...]}``; ``assign``/``subscribe`` replace what a
consumer reads; ``commit`` records a position (not judged here). The checker never sees the
brokers: everything it knows about a log comes from these operations.

1. `history.pair_queue_ops` pairs invokes with completions into `QueueOp` values in
   completion order (rebalance events become marks in the same stream).
2. One pass indexes every observation of a log -- an ok send with its offset, each record
   of an ok poll -- into a `orders.KeyLog` per key (offset -> value -> witnesses), every send
   by (key, value), and every polled value by key. Cost: linear in sends plus records.
3. From the logs: ``inconsistent-offsets`` (an offset with two values) and ``duplicate`` (a
   value at two offsets); the sorted known offsets let a skip be recognised by bisection.
4. `polls.order_anomalies` walks each process's operations: ``int-poll-skip`` and
   ``int-nonmonotonic-poll`` inside a poll, ``poll-skip`` and ``nonmonotonic-poll`` between
   a consumer's polls, ``nonmonotonic-send`` between a producer's sends.
5. `reads.read_anomalies` matches reads with sends: ``aborted-read`` (every send of the
   value failed), ``unexpected-value`` (no send carried it), ``lost-write`` (acknowledged,
   never polled, though polls read past its offset). Acknowledged values never polled at
   all are ``unseen``: after a final drain they are lost writes (with a note); without one,
   allowed, since they may only be late.

Verdict: ``False`` if any anomaly outside `ALLOWED_KINDS` appears. ``"unknown"`` when
nothing else is wrong but a final drain was claimed and no poll succeeded at all, so the
unseen writes cannot be judged. Otherwise ``True``. Reassignment follows Jepsen's rule
(docs/anomalies.md, "Reassignment"; see `polls`): an ok or info ``assign``/``subscribe``
forgets the keys it drops and keeps checking the ones it keeps; jumps of a consumer across
a rebalance it was told about (a poll's ``rebalanced`` keys, a ``rebalance`` event) are not
anomalies, and are listed under ``allowed`` so a report can still show them.

Total cost is O(n log n) in the history size: sorting by index, and bisection per record.
"""

from __future__ import annotations

from typing import Any

from checkers.durability.history import KeyTable, QueueHistoryError, QueueOp, key_out, pair_queue_ops
from checkers.durability.orders import MAX_WITNESSES, KeyLog
from checkers.durability.polls import order_anomalies
from checkers.durability.reads import (
    drained_lost_write,
    read_anomalies,
    unseen_anomaly,
    unseen_over_time,
    unseen_sends,
)
from checkers.result import CheckResult

__all__ = ["check_queue", "QueueHistoryError", "KINDS", "ALLOWED_KINDS"]

#: Every anomaly kind, in report order (docs/anomalies.md).
KINDS = (
    "lost-write", "unseen", "duplicate", "inconsistent-offsets", "aborted-read", "poll-skip",
    "nonmonotonic-poll", "int-poll-skip", "int-nonmonotonic-poll", "nonmonotonic-send", "unexpected-value",
)

#: Kinds reported but not counted against the run. ``unseen`` only survives as its own kind
#: when there was no final drain (after one it becomes lost-write), and then it may be late.
ALLOWED_KINDS = frozenset({"unseen"})

_LEADS = {
    "lost-write": ("acknowledged writes no poll ever returned, though polls read past them or a final drain "
                   "read everything"),
    "unseen": ("acknowledged writes no poll returned by the end; with no final drain they may only be late, "
               "so this is allowed"),
    "duplicate": "values sitting at more than one offset of a key",
    "inconsistent-offsets": "offsets of a key holding more than one value",
    "aborted-read": "polls returning values whose send definitely failed",
    "poll-skip": "consumers whose next poll jumped over offsets known to exist, the key staying assigned to them",
    "nonmonotonic-poll": ("consumers whose next poll started at or before where the previous one ended, the key "
                          "staying assigned to them"),
    "int-poll-skip": "polls skipping offsets known to exist between consecutive records of a key",
    "int-nonmonotonic-poll": "polls whose offsets of a key went backwards or repeated",
    "nonmonotonic-send": "producers whose later send to a key landed at an offset before their earlier one",
    "unexpected-value": "polls returning values no one sent to that key",
}


def check_queue(events: list[dict[str, Any]], final_drain: bool = True) -> CheckResult:
    """Check a queue history (events as dicts, in any order; sorted by "index") for every
    anomaly of docs/anomalies.md. ``final_drain`` says the history ends with polls that read
    every key to its end after all faults healed, so that unseen writes are lost writes.

    Returns a `CheckResult`: ``valid`` (True, False or "unknown"), ``anomalies`` ({kind:
    [anomaly, ...]}, each with key, offsets, values, indices and explanation) of the kinds
    that count, ``explanation`` (one sentence per kind found), ``allowed`` (jumps across a
    reassignment by kind, and ``unseen`` writes when they may only be late); ``details``:
    ``unseen`` ({key: count} of acknowledged values never polled), ``unseen_over_time``
    ([{index, time, unseen}]), ``final_drain`` and ``stats``. Raises `QueueHistoryError`
    on malformed input.
    """
    keys = KeyTable()
    stream = pair_queue_ops(events, keys)
    logs: dict[Any, KeyLog] = {}
    sends: dict[Any, dict[Any, list[QueueOp]]] = {}
    polled: dict[Any, dict[Any, list[tuple[Any, int]]]] = {}
    max_polled: dict[Any, tuple[int, Any, int]] = {}
    stats: dict[str, Any] = {"sends": {"ok": 0, "info": 0, "fail": 0}, "polls": {"ok": 0, "info": 0, "fail": 0},
                             "records": 0}

    for op in stream:
        if op.f == "send":
            stats["sends"][op.type] += 1
            sends.setdefault(op.key, {}).setdefault(op.value, []).append(op)
            if op.type == "ok" and op.offset is not None:
                log = logs.get(op.key) or logs.setdefault(op.key, KeyLog(op.key))
                log.observe(op.offset, op.value, op.at)
        elif op.f == "poll":
            stats["polls"][op.type] += 1
            if op.type != "ok" or not op.reads:
                continue
            at = op.at
            for key, records in op.reads.items():
                log = logs.get(key) or logs.setdefault(key, KeyLog(key))
                seen = polled.setdefault(key, {})
                stats["records"] += len(records)
                top = max_polled.get(key)
                for offset, value in records:
                    w = seen.get(value)
                    if w is None:
                        seen[value] = [(offset, at)]
                    elif len(w) < MAX_WITNESSES:
                        w.append((offset, at))
                    if offset is not None:
                        log.observe(offset, value, at)
                        if top is None or offset > top[0]:
                            top = (offset, value, at)
                if top is not None:
                    max_polled[key] = top
    for log in logs.values():
        log.finish()

    found: dict[str, list[Any]] = {}
    for log in logs.values():
        for a in log.inconsistent_offsets():
            found.setdefault("inconsistent-offsets", []).append(a)
        for a in log.duplicates():
            found.setdefault("duplicate", []).append(a)
    ordered, allowed = order_anomalies(stream, logs)
    _merge(found, ordered)
    _merge(found, read_anomalies(sends, polled, max_polled))

    # Acknowledged values no poll returned. Those below a polled offset are lost writes
    # already (read_anomalies); the rest are unseen, and lost after a final drain.
    nothing_polled = stats["polls"]["ok"] == 0
    unseen_counts: dict[Any, int] = {}
    unknown = False
    for key, ops in unseen_sends(sends, polled).items():
        unseen_counts[key_out(key)] = len(ops)
        top = max_polled.get(key)
        for s in ops:
            if top is not None and s.offset is not None and s.offset < top[0]:
                continue
            if final_drain and not nothing_polled:
                found.setdefault("lost-write", []).append(drained_lost_write(s))
            else:
                found.setdefault("unseen", []).append(unseen_anomaly(s))
                unknown |= final_drain

    anomalies = {kind: found[kind] for kind in KINDS if kind in found}
    bad = [kind for kind in anomalies if kind not in ALLOWED_KINDS]
    valid: bool | str = False if bad else ("unknown" if unknown else True)
    return CheckResult(
        valid, _explain(anomalies, allowed, valid, unknown),
        anomalies={kind: anomalies[kind] for kind in bad},
        allowed={kind: [*(anomalies.get(kind, []) if kind in ALLOWED_KINDS else []), *allowed.get(kind, [])]
                 for kind in KINDS if (kind in anomalies and kind in ALLOWED_KINDS) or kind in allowed},
        details={
            "unseen": dict(sorted(unseen_counts.items(), key=lambda kv: str(kv[0]))),
            "unseen_over_time": unseen_over_time(stream),
            "final_drain": final_drain,
            "stats": {"events": len(events), "keys": len(keys), **stats},
        })


def _merge(into: dict[str, list[Any]], more: dict[str, list[Any]]) -> None:
    for kind, items in more.items():
        into.setdefault(kind, []).extend(items)


def _explain(anomalies: dict[str, list[Any]], allowed: dict[str, list[Any]], valid: Any, unknown: bool) -> str:
    if not anomalies:
        text = "No anomalies: every acknowledged write was polled, offsets agree, and polls and sends stayed in order."
    else:
        parts = []
        for kind, items in anomalies.items():
            first = items[0]["explanation"].rstrip(".")
            parts.append(f"{kind} ({len(items)}): {_LEADS[kind]}; e.g. {first}.")
        text = " ".join(parts)
    if unknown:
        text += " A final drain was expected but no poll succeeded, so the unseen writes cannot be judged."
    n_allowed = sum(len(v) for v in allowed.values())
    if n_allowed:
        text += (f" {n_allowed} poll jump(s) across a rebalance the consumer was told about are allowed "
                 f"(see \"allowed\").")
    return text
