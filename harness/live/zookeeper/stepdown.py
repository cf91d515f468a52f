"""Reads served by a deposed ZooKeeper leader: the power of a search for ZOOKEEPER-1675.

Before ZOOKEEPER-1675 was fixed, a leader answered ``sync`` by itself, without a quorum
round. A leader cut off or paused long enough for the others to elect a new one keeps
calling itself leader until it notices it lost its quorum; a ``sync`` + read it serves
in that window may return a value the new leader has already overwritten.

From the role monitor's record (``roles.jsonl``: each server's mode and epoch, polled
every 100 ms, as changes) this finds each server's *step-down windows*: from the first
time another server is seen leading a newer epoch, to the first time the old leader is
seen as anything else (no answer to ``srvr`` included: a server that is LOOKING does not
serve it). It counts the ``ok`` reads that server answered inside them. A
paused server is not polled, so its record stays "leader" until it is seen again after
it resumes: the window covers the pause and the time it took to step down.
"""

from __future__ import annotations

from typing import Any


def stepdown_windows(roles: list[dict[str, Any]], end: int) -> list[dict[str, Any]]:
    """``[{node, epoch, deposed_at, stepped_down_at}]`` (ns since the run started)."""
    spans: list[tuple[str, int, int, int]] = []  # node, epoch, from, to
    current: dict[str, tuple[Any, Any, int]] = {}
    for r in sorted(roles, key=lambda r: r["time"]):
        prev = current.get(r["node"])
        if prev is not None and prev[0] == "leader" and prev[1] is not None:
            spans.append((r["node"], prev[1], prev[2], r["time"]))
        current[r["node"]] = (r.get("mode"), r.get("epoch"), r["time"])
    for node, (mode, epoch, t) in current.items():
        if mode == "leader" and epoch is not None:
            spans.append((node, epoch, t, end))
    out = []
    for node, epoch, t_from, t_to in spans:
        newer = [t for n, e, t, _ in spans if n != node and e > epoch and t < t_to]
        if newer:
            deposed = max(t_from, min(newer))
            out.append({"node": node, "epoch": epoch, "deposed_at": deposed, "stepped_down_at": t_to})
    return out


def stepdown_reads(history: list[dict[str, Any]], roles: list[dict[str, Any]], end: int) -> dict[str, Any]:
    """How many ok reads a server answered while deposed, per window and in total."""
    windows = stepdown_windows(roles, end)
    invokes: dict[int, dict[str, Any]] = {}
    reads: list[tuple[int, int, str, Any, Any]] = []  # invoke time, completion time, node, key, value
    for ev in history:
        if ev.get("f") != "read":
            continue
        if ev["type"] == "invoke":
            invokes[ev["process"]] = ev
        elif ev["type"] == "ok" and ev["process"] in invokes and ev.get("node"):
            reads.append((invokes.pop(ev["process"])["time"], ev["time"], ev["node"], ev.get("key"), ev.get("value")))
        else:
            invokes.pop(ev["process"], None)
    acked = _acked_writes(history)
    total = differing = 0
    for w in windows:
        inside = [(ti, tc, key, v) for ti, tc, node, key, v in reads
                  if node == w["node"] and ti >= w["deposed_at"] and tc <= w["stepped_down_at"]]
        w["reads_served"] = len(inside)
        w["reads_not_last_acked"] = sum(1 for ti, _, key, v in inside if _differs(acked.get(key, []), ti, v))
        total += len(inside)
        differing += w["reads_not_last_acked"]
    return {"windows": windows, "reads_in_windows": total, "reads_not_last_acked": differing,
            "explanation": f"{total} ok read(s) were invoked and answered by a server while another "
                           f"led a newer epoch, in {len(windows)} step-down window(s); {differing} of them "
                           "returned a value other than the last one acknowledged before the read began "
                           "(a hint only: the linearizability checker decides)"}


def _acked_writes(history: list[dict[str, Any]]) -> dict[Any, list[tuple[int, Any]]]:
    """key -> [(completion time, value)] of acknowledged writes and cas, in time order."""
    inv: dict[int, dict[str, Any]] = {}
    out: dict[Any, list[tuple[int, Any]]] = {}
    for ev in history:
        if ev.get("f") not in ("write", "cas"):
            continue
        if ev["type"] == "invoke":
            inv[ev["process"]] = ev
            continue
        start = inv.pop(ev["process"], None)
        if ev["type"] == "ok" and start is not None:
            v = start["value"][1] if ev["f"] == "cas" else start["value"]
            out.setdefault(ev.get("key"), []).append((ev["time"], v))
    return out


def _differs(writes: list[tuple[int, Any]], t: int, value: Any) -> bool:
    before = [v for tc, v in writes if tc < t]
    return bool(before) and before[-1] != value


def _s(ns: int) -> str:
    return f"{ns / 1e9:.3f} s"


def explain_read(history: list[dict[str, Any]], roles: list[dict[str, Any]], faults: list[dict[str, Any]],
                 complete_index: int, end: int) -> str | None:
    """Why a read the linearizability checker rejected was stale, when a deposed leader
    answered it: which server, since when deposed, what had been done to it. None when the
    read was not answered inside a step-down window."""
    if not 0 <= complete_index < len(history):
        return None
    ev = history[complete_index]
    node, t = ev.get("node"), ev["time"]
    for w in stepdown_windows(roles, end):
        if w["node"] != node or not w["deposed_at"] <= t <= w["stepped_down_at"]:
            continue
        newer = next((r for r in sorted(roles, key=lambda r: r["time"]) if r.get("mode") == "leader"
                      and r.get("epoch") is not None and r["epoch"] > w["epoch"] and r["node"] != node), None)
        done = []
        for f in faults:
            if f.get("time", 0) > t:
                break
            if f.get("node") == node and f.get("kind") in ("pause", "resume", "clock-skew", "clock-reset"):
                done.append(f"{f['kind']} at {_s(f['time'])}")
            elif f.get("kind") == "partition" and any(node in pair for pair in f.get("cut", [])):
                done.append(f"cut off ({f.get('mode')}) at {_s(f['time'])}")
            elif f.get("kind") == "heal" and done:
                done.append(f"heal at {_s(f['time'])}")
        who = f"{newer['node']} led epoch {newer['epoch']} from {_s(newer['time'])}" if newer else "a newer leader"
        return (f"ZOOKEEPER-1675: the read was answered at {_s(t)} by {node}, leader of epoch {w['epoch']}, "
                f"deposed: {who}, and {node} was not seen as anything but leader before {_s(w['stepped_down_at'])}. "
                f"Before its answer {node} had: {', '.join(done[-8:]) or 'no fault'}. ZooKeeper 3.8's leader answers "
                f"sync by itself, without a quorum round, so a deposed leader that has not noticed serves stale "
                f"sync+reads.")
    return None
