"""What was read against what was sent: aborted reads, unexpected values, lost and unseen writes.

* ``aborted-read``: a poll returned a value every send of which definitely failed.
  Values of ``info`` sends (and of sends that never completed) may show up: they may
  have happened.
* ``unexpected-value``: a poll returned a value no send to that key ever carried.
* ``lost-write``: an acknowledged send landed at offset i; polls returned offsets of the
  key above i; no poll ever returned the value. A consumer reading past i should have
  passed it (the rule is Jepsen's: compare with the highest offset any poll returned).
* ``unseen``: acknowledged values no poll returned at all. Without a final drain they may
  just be late, so the kind is reported but allowed; after a final drain that read every
  key to its end they are lost, and the caller turns them into lost writes.

`unseen_over_time` replays the history and counts, after each ok send or poll, the
acknowledged values not yet polled, per key: the series a report plots to tell "late" from
"lost".
"""

from __future__ import annotations

from typing import Any

from checkers.durability.history import QueueOp, key_out, show, show_list, thaw

__all__ = ["read_anomalies", "unseen_sends", "unseen_anomaly", "drained_lost_write", "unseen_over_time", "MAX_POINTS"]

#: Points kept in unseen_over_time. A plot is a few hundred pixels wide; a 100k-event
#: history would otherwise put 100k snapshots into results.json.
MAX_POINTS = 1000

Sends = dict[Any, dict[Any, list[QueueOp]]]        # key -> value -> send ops (every outcome)
Polled = dict[Any, dict[Any, list[tuple[Any, int]]]]  # key -> value -> (offset, poll index), capped


def read_anomalies(sends: Sends, polled: Polled,
                   max_polled: dict[Any, tuple[int, Any, int]]) -> dict[str, list[Any]]:
    """aborted-read, unexpected-value and lost-write (by the offset rule)."""
    found: dict[str, list[Any]] = {}
    sent_to: dict[Any, list[Any]] | None = None  # value -> keys it was sent to, built on first need
    for key, values in polled.items():
        key_sends = sends.get(key, {})
        for value, seen in values.items():
            ss = key_sends.get(value)
            offsets = [o for o, _ in seen]
            poll_indices = [i for _, i in seen]
            if not ss:
                if sent_to is None:
                    sent_to = {}
                    for k, vs in sends.items():
                        for v in vs:
                            sent_to.setdefault(v, []).append(k)
                elsewhere = sent_to.get(value, [])
                note = (f"; it was sent to key(s) {show_list(elsewhere)} instead" if elsewhere else
                        "; no send anywhere carried it")
                found.setdefault("unexpected-value", []).append({
                    "kind": "unexpected-value", "key": thaw(key), "offsets": offsets, "values": [thaw(value)],
                    "indices": sorted(set(poll_indices)),
                    "explanation": f"the poll at index {poll_indices[0]} returned {show(value)} at offset "
                                   f"{show(offsets[0])} of key {show(key)}, a value no one sent to that key{note}.",
                })
            elif all(s.type == "fail" for s in ss):
                found.setdefault("aborted-read", []).append({
                    "kind": "aborted-read", "key": thaw(key), "offsets": offsets, "values": [thaw(value)],
                    "indices": sorted({s.at for s in ss} | set(poll_indices)),
                    "send_indices": [s.at for s in ss], "poll_indices": poll_indices,
                    "explanation": f"the send of {show(value)} to key {show(key)} failed (index {ss[0].at}), "
                                   f"so it never happened, yet the poll at index {poll_indices[0]} returned it "
                                   f"at offset {show(offsets[0])}.",
                })
    for key, sent in sends.items():
        top = max_polled.get(key)
        if top is None:
            continue
        top_o, top_v, top_at = top
        polled_values = polled.get(key, {})
        for value, ss in sent.items():
            if value in polled_values:
                continue
            for s in ss:
                if s.type == "ok" and s.offset is not None and s.offset < top_o:
                    found.setdefault("lost-write", []).append({
                        "kind": "lost-write", "key": thaw(key), "offsets": [s.offset], "values": [thaw(value)],
                        "indices": [s.at, top_at],
                        "max_read": {"offset": top_o, "value": thaw(top_v), "index": top_at},
                        "explanation": f"the send of {show(value)} to key {show(key)} was acknowledged at offset "
                                       f"{s.offset} (index {s.at}) and the poll at index {top_at} read offset "
                                       f"{top_o}, past it, yet no poll ever returned {show(value)}.",
                    })
                    break
    return found


def unseen_sends(sends: Sends, polled: Polled) -> dict[Any, list[QueueOp]]:
    """Per key, the first acknowledged send of each value no poll returned."""
    out: dict[Any, list[QueueOp]] = {}
    for key, values in sends.items():
        seen = polled.get(key, {})
        for value, ss in values.items():
            if value in seen:
                continue
            ok = next((s for s in ss if s.type == "ok"), None)
            if ok is not None:
                out.setdefault(key, []).append(ok)
    return out


def unseen_anomaly(s: QueueOp) -> dict[str, Any]:
    """The ``unseen`` anomaly of one acknowledged value no poll returned."""
    where = f"at offset {s.offset}" if s.offset is not None else "(offset not reported)"
    return {
        "kind": "unseen", "key": thaw(s.key), "offsets": [] if s.offset is None else [s.offset],
        "values": [thaw(s.value)], "indices": [s.at],
        "explanation": f"the send of {show(s.value)} to key {show(s.key)} was acknowledged {where} (index {s.at}) "
                       f"but no poll returned it; with no final drain it may only be late.",
    }


def drained_lost_write(s: QueueOp) -> dict[str, Any]:
    """An unseen value after a final drain, reported as the lost write it is."""
    where = f"at offset {s.offset}" if s.offset is not None else "(offset not reported)"
    return {
        "kind": "lost-write", "key": thaw(s.key), "offsets": [] if s.offset is None else [s.offset],
        "values": [thaw(s.value)], "indices": [s.at],
        "note": "unseen after the final drain: acknowledged, never polled, though the drain read every key",
        "explanation": f"the send of {show(s.value)} to key {show(s.key)} was acknowledged {where} (index {s.at}) "
                       f"but no poll returned it, not even the final drain.",
    }


def unseen_over_time(stream: list[QueueOp], max_points: int = MAX_POINTS) -> list[dict[str, Any]]:
    """``[{"index", "time", "unseen": {key: count}}, ...]`` after ok sends and polls, thinned.

    Past ``max_points`` points the series is cut into stretches and each keeps its peak
    and its last point, so spikes survive thinning; the final point is always kept.
    """
    polled: dict[Any, set[Any]] = {}
    unseen: dict[Any, set[Any]] = {}
    totals: list[int] = []
    changes: list[tuple[QueueOp, list[tuple[Any, int]]]] = []
    total = 0
    for op in stream:
        if op.type != "ok" or op.index is None:
            continue
        change: list[tuple[Any, int]] = []
        if op.f == "send":
            k = op.key
            u = unseen.get(k)
            if u is None:
                u = unseen[k] = set()
                change.append((k, 0))
            if op.value not in polled.get(k, ()) and op.value not in u:
                u.add(op.value)
                total += 1
                change.append((k, 1))
        elif op.f == "poll" and op.reads:
            for k, records in op.reads.items():
                p = polled.setdefault(k, set())
                u = unseen.get(k)
                for _, v in records:
                    p.add(v)
                    if u and v in u:
                        u.discard(v)
                        total -= 1
                        change.append((k, -1))
        else:
            continue
        totals.append(total)
        changes.append((op, change))
    n = len(changes)
    if n <= max_points:
        keep = set(range(n))
    else:
        stretch = -(-n // max(1, max_points // 2))
        keep = {n - 1}
        for start in range(0, n, stretch):
            end = min(n, start + stretch)
            keep.add(max(range(start, end), key=totals.__getitem__))
            keep.add(end - 1)
    out = []
    counts: dict[Any, int] = {}
    for i, (op, change) in enumerate(changes):
        for k, d in change:
            counts[k] = counts.get(k, 0) + d
        if i in keep:
            out.append({"index": op.index, "time": op.time, "unseen": {key_out(k): c for k, c in counts.items()}})
    return out
