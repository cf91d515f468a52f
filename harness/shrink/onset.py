"""When the anomaly shows: a guess at how far into a run the failure to keep has
appeared, from the operations the checkers name or, for the quorum checker's trace
properties, the shortest trace prefix that shows them. The time-limit pass starts its
search just after it."""

from __future__ import annotations

from typing import Any

from checkers.result import Signature, checker_results
from harness.config import SECOND


def anomaly_time(res: Any, target: Signature) -> float | None:
    """A guess at the seconds into the run by which the target anomalies have all shown:
    from the operations the checkers name (history indices), or, for the quorum checker's
    trace properties, the shortest prefix of the trace that shows them. None if no checker
    says (liveness and convergence are judged at the end)."""
    out, checks = res.out, checker_results(res.results)
    if out is None:
        return None
    when = {e["index"]: e["time"] for e in out.history}
    times = []
    trace_kinds: set[str | None] = set()
    for checker, kind in target:
        c = checks.get(checker)
        if c is None:
            continue
        if checker == "quorum" and kind != "I9-acked-write-durability":
            trace_kinds.add(kind)
            continue
        # the kind's records; for a failure without kinds (linearizability, liveness) the
        # operations its details name
        recs = list(c.anomalies[kind]) if kind is not None and kind in c.anomalies else [dict(c.details)]
        ts = [t for t in (_record_time(r, when) for r in recs) if t is not None]
        if ts:
            times.append(min(ts))
    if trace_kinds:
        t = _trace_time(out, trace_kinds)
        if t is not None:
            times.append(t)
    return max(times) / SECOND if times else None


def _record_time(rec: Any, when: dict[int, int]) -> int | None:
    """The latest time a checker's record points at: history indices, or times in ns."""
    found: list[int] = []

    def walk(x: Any, key: str = "") -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, k)
        elif isinstance(x, list) and key not in ("prefix", "pending", "unfinished"):
            for v in x:
                walk(v, key)
        elif isinstance(x, int) and not isinstance(x, bool):
            if key in ("index", "complete_index", "indices") and x in when:
                found.append(when[x])
            elif key in ("time", "from", "to"):
                found.append(x)

    walk(rec)
    return max(found) if found else None


def _trace_time(out: Any, kinds: set[str | None]) -> int | None:
    """The time of the last event of the shortest trace prefix on which the quorum
    checker already finds every kind of ``kinds`` (bisection: a guess, not a proof)."""
    from checkers.quorum import check_quorum
    from harness.checks import _epoch_shift
    from harness.runner import servers_for

    trace, servers, shift = out.trace, servers_for(out.config), _epoch_shift(out)

    def shows(k: int) -> bool:
        return kinds <= set(check_quorum(trace[:k], servers, None, shift).kinds)

    if not trace or not shows(len(trace)):
        return None
    lo, hi = 0, len(trace)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if shows(mid):
            hi = mid
        else:
            lo = mid
    return int(trace[hi - 1]["time"])
