"""Performance under faults: availability and latency by what was going on.

Each operation is put in the periods it was *invoked* in: "no fault" (the main phase with
no fault active), each fault family with a fault active then (an operation invoked during
a partition and a kill counts for both), and "after healing" (the recovery period and the
final reads). For each period: how many operations, what fraction the system served (ok,
or a refusal that is an answer, such as a cas whose value differed), and the latency of
the ok ones (median and 99th percentile). It answers "how unavailable was ZooKeeper while
partitioned, and for how long did a kill stall writes", which one number for the whole run
cannot. Informational: it never decides a run.

A fault is active from the first record of its episode in the fault log to the last one
(a partition to its heal, a kill to its restart, a power cut to the last server's
restart); ``heal-all`` ends every fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from checkers.result import CheckResult
from harness.faults import fault_family

NO_FAULT = "no fault"
AFTER = "after healing"


def fault_intervals(faults: Iterable[dict[str, Any]]) -> list[tuple[str, int, int | None]]:
    """(family, start, end or None) of every fault episode, in start order."""
    episodes: dict[Any, list[Any]] = {}
    order: list[Any] = []
    for rec in faults:
        t, kind = rec.get("time"), rec.get("kind")
        if not isinstance(t, int):
            continue
        if kind == "heal-all":
            for open_ep in episodes.values():
                if open_ep[2] is None:
                    open_ep[2] = t
            continue
        key = rec.get("episode")
        if key is None:
            continue
        ep = episodes.get(key)
        if ep is None:
            fam = fault_family(rec)
            if fam is None:
                continue
            episodes[key] = [fam, t, None]
            order.append(key)
        elif kind == "power-cut":
            ep[1] = t  # a power cut armed at a crash point starts when it fires
        else:
            ep[2] = t  # the last record of the episode ends it (heal, restart, resume...)
    return [(episodes[k][0], episodes[k][1], episodes[k][2]) for k in order]


def _percentile(sorted_values: list[int], q: float) -> int | None:
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def check_perf(history: list[dict[str, Any]], faults: list[dict[str, Any]], main_end_ns: int,
               semantic_errors: frozenset[Any] = frozenset()) -> CheckResult:
    """Availability and latency per period (see the module docstring): ``details`` has
    ``by_period`` (one row per period) and ``fault_episodes``. Never decides a run."""
    intervals = fault_intervals(faults)
    invokes: dict[Any, dict[str, Any]] = {}
    stats: dict[str, dict[str, Any]] = {}

    def row(name: str) -> dict[str, Any]:
        return stats.setdefault(name, {"ops": 0, "served": 0, "latencies": []})

    for ev in history:
        p, t = ev.get("process"), ev.get("type")
        if t == "invoke":
            invokes[p] = ev
            continue
        if t not in ("ok", "fail", "info") or p not in invokes:
            continue
        inv = invokes.pop(p)
        at = inv["time"]
        if at >= main_end_ns:
            periods = [AFTER]
        else:
            periods = sorted({fam for fam, s, e in intervals if s <= at and (e is None or at < e)}) or [NO_FAULT]
        served = t == "ok" or (t == "fail" and ev.get("error") in semantic_errors)
        for name in periods:
            r = row(name)
            r["ops"] += 1
            r["served"] += served
            if t == "ok":
                r["latencies"].append(ev["time"] - at)
    out_rows = []
    for name in [NO_FAULT] + sorted(k for k in stats if k not in (NO_FAULT, AFTER)) + [AFTER]:
        period = stats.get(name)
        if period is None:
            continue
        lat = sorted(period["latencies"])
        p50, p99 = _percentile(lat, 0.5), _percentile(lat, 0.99)
        out_rows.append({
            "period": name, "ops": period["ops"],
            "served_fraction": round(period["served"] / period["ops"], 4) if period["ops"] else None,
            "latency_p50_ms": None if p50 is None else round(p50 / 1e6, 2),
            "latency_p99_ms": None if p99 is None else round(p99 / 1e6, 2),
        })
    parts = [f"{r['period']} {100 * r['served_fraction']:.1f}% of {r['ops']}"
             + (f" (p50 {r['latency_p50_ms']:g} ms, p99 {r['latency_p99_ms']:g} ms)"
                if r["latency_p50_ms"] is not None else "")
             for r in out_rows if r["served_fraction"] is not None]
    return CheckResult(True, "operations served, by what was going on when they were invoked: " + "; ".join(parts),
                       decides=False, details={"by_period": out_rows, "fault_episodes": len(intervals)})
