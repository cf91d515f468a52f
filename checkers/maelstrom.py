"""Checkers of Maelstrom's small workloads: ``broadcast`` and ``g-counter``.

Both judge final reads: the read each client makes of its own server after every fault
has healed (its invoke carries the value ``"final"``).

- ``check_broadcast``: every acknowledged broadcast value is in every node's final read
  (``lost``); no read, at any time, holds a value nobody broadcast (``unexpected``).
  A value whose broadcast was indefinite may be anywhere or nowhere.
- ``check_counter``: each node's final read lies between the sum of acknowledged adds
  and that sum plus every indefinite add (``final-value-out-of-range``); no read at any
  time exceeds the sum of every add attempted (``read-too-high``) or is negative.
"""

from __future__ import annotations

from typing import Any


def _pairs(history: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(invoke, completion or None) per operation, in invoke order."""
    open_: dict[Any, dict[str, Any]] = {}
    out: list[list[Any]] = []
    where: dict[int, int] = {}
    for ev in history:
        p = ev.get("process")
        if ev.get("type") == "invoke":
            open_[p] = ev
            where[id(ev)] = len(out)
            out.append([ev, None])
        elif p in open_:
            inv = open_.pop(p)
            out[where[id(inv)]][1] = ev
    return [(a, b) for a, b in out]


def _final_reads(pairs: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> dict[str, dict[str, Any]]:
    """node -> its last successful final read"""
    out: dict[str, dict[str, Any]] = {}
    for inv, done in pairs:
        if inv.get("f") == "read" and inv.get("value") == "final" and done is not None and done["type"] == "ok":
            out[str(done.get("node"))] = done
    return out


def check_broadcast(history: list[dict[str, Any]]) -> dict[str, Any]:
    pairs = _pairs(history)
    attempted, acked = set(), {}
    for inv, done in pairs:
        if inv.get("f") == "broadcast":
            attempted.add(inv["value"])
            if done is not None and done["type"] == "ok":
                acked[inv["value"]] = done
    finals = _final_reads(pairs)
    anomalies: dict[str, int] = {}
    lines: list[str] = []
    lost: dict[str, list[Any]] = {}
    focus = None
    for node, ev in sorted(finals.items()):
        held = set(ev.get("value") or [])
        miss = sorted(v for v in acked if v not in held)
        if miss:
            lost[node] = miss
            anomalies["lost"] = anomalies.get("lost", 0) + len(miss)
            v = miss[0]
            focus = acked[v]["index"] if focus is None else focus
            lines.append(f"{node}'s final read (op {ev['index']}) lacks {len(miss)} acknowledged value(s), "
                         f"e.g. {v!r}, acknowledged at op {acked[v]['index']}")
    for inv, done in pairs:
        if inv.get("f") == "read" and done is not None and done["type"] == "ok":
            odd = [v for v in done.get("value") or [] if v not in attempted]
            if odd:
                anomalies["unexpected"] = anomalies.get("unexpected", 0) + len(odd)
                if len(lines) < 6:
                    lines.append(f"read op {done['index']} on {done.get('node')} holds {odd[0]!r}, "
                                 f"which nobody broadcast")
    if anomalies:
        return {"valid": False, "explanation": "; ".join(lines[:3]), "anomalies": anomalies,
                "lost": {k: v[:50] for k, v in lost.items()}, "final_reads": len(finals),
                **({"focus_index": focus} if focus is not None else {})}
    if not finals:
        return {"valid": "unknown", "explanation": "no final read succeeded: nothing to judge"}
    return {"valid": True, "explanation": f"all {len(acked)} acknowledged values are in each of "
            f"{len(finals)} nodes' final reads", "final_reads": len(finals)}


def check_counter(history: list[dict[str, Any]]) -> dict[str, Any]:
    pairs = _pairs(history)
    ok_sum = info_sum = 0
    for inv, done in pairs:
        if inv.get("f") == "add":
            d = int(inv["value"])
            if done is not None and done["type"] == "ok":
                ok_sum += d
            elif done is None or done["type"] == "info":
                info_sum += d
    hi = ok_sum + info_sum
    anomalies: dict[str, int] = {}
    lines: list[str] = []
    focus = None
    for inv, done in pairs:
        if inv.get("f") == "read" and done is not None and done["type"] == "ok":
            v = done.get("value")
            if not isinstance(v, int) or v < 0 or v > hi:
                anomalies["read-too-high"] = anomalies.get("read-too-high", 0) + 1
                focus = done["index"] if focus is None else focus
                if len(lines) < 3:
                    lines.append(f"read op {done['index']} on {done.get('node')} saw {v!r}, more than every "
                                 f"add attempted ({hi})" if isinstance(v, int) and v > hi else
                                 f"read op {done['index']} on {done.get('node')} saw {v!r}, not a count")
    finals = _final_reads(pairs)
    for node, ev in sorted(finals.items()):
        v = ev.get("value")
        if isinstance(v, int) and not ok_sum <= v <= hi:
            anomalies["final-value-out-of-range"] = anomalies.get("final-value-out-of-range", 0) + 1
            focus = ev["index"] if focus is None else focus
            lines.append(f"{node}'s final read (op {ev['index']}) is {v}, outside [{ok_sum}, {hi}] "
                         f"(acknowledged adds, plus indefinite ones)")
    if anomalies:
        return {"valid": False, "explanation": "; ".join(lines[:3]), "anomalies": anomalies,
                "bounds": [ok_sum, hi], "focus_index": focus}
    if not finals:
        return {"valid": "unknown", "explanation": "no final read succeeded: nothing to judge"}
    return {"valid": True, "explanation": f"every final read of {len(finals)} nodes lies within "
            f"[{ok_sum}, {hi}]", "bounds": [ok_sum, hi]}
