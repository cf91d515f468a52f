"""Fault-window lookup for the "why it is invalid" box: the fault windows active when
an anomaly happened, each with a note when its fault hit the server leading then (from
the trace's ``leader_established``)."""

from __future__ import annotations

from typing import Any

from reports.rundata import RunData


def faults_at(run: RunData, time: int) -> list[tuple[Any, str]]:
    """(FaultWindow, leader note) for every fault window active at ``time`` (ns)."""
    return [(w, _leader_note(run, w)) for w in run.windows if w.start <= time <= w.end]


#: how long after a fault window ends an anomaly is still shown as "just after" it (ns):
#: a fault's end is an event too (a clock reset is a jump), and an anomaly a few
#: milliseconds later reads "with no fault active" without it
RECENT_NS = 1_000_000_000


def faults_ended_before(run: RunData, time: int, within: int = RECENT_NS) -> list[tuple[Any, int]]:
    """(FaultWindow, ns from its end to ``time``) for every window that ended within
    ``within`` before ``time``, the latest first."""
    out = [(w, time - w.end) for w in run.windows if w.end < time <= w.end + within]
    return sorted(out, key=lambda x: x[1])


def _leader_note(run: RunData, w: Any) -> str:
    """``n5 led epoch 1 then`` when the window's fault hit the server that led when it
    began (from the trace's ``leader_established``), else ""."""
    node = w.start_record.get("node") if isinstance(w.start_record, dict) else None
    if not isinstance(node, str):
        return ""
    leader, epoch = None, None
    for rec in _established(run):
        if rec["time"] > w.start:
            break
        leader, epoch = rec["node"], rec.get("epoch")
    return f"{node} led epoch {epoch} then" if leader == node else ""


def _established(run: RunData) -> list[dict]:
    cached = run.__dict__.get("_established")
    if cached is None:
        cached = sorted((r for r in run.trace if r.get("kind") == "leader_established"
                         and isinstance(r.get("time"), int)), key=lambda r: r["time"])
        run.__dict__["_established"] = cached
    return cached
