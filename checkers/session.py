"""What ZooKeeper does promise for plain local reads: a per-session zxid-prefix check.

ZooKeeper serves reads from the connected server, so they may be stale; they are not
linearizable and this checker does not pretend they should be. What ZooKeeper promises
(docs/zookeeper.md, "Reads, and sync") is sequential consistency with a single system image: each session
sees a growing prefix of the one committed write order, a prefix that includes its own
writes. With the zxid ``z`` of the server's state that each read reports, that is
checkable in linear time:

- **read-matches-state**: the value read is the key's value in the committed history
  at ``z`` (the trace's ``deliver`` events give the committed order and each txn's
  resulting value);
- **monotonic-reads**: ``z`` never goes below the ``z`` of the same session's previous
  read (no going back in time, even across a fail-over to another server);
- **read-your-writes**: ``z`` is at least the zxid of the session's last acknowledged
  write.

``check_sessions_history`` checks the same three rules from the history alone, for a
live ensemble that has no trace: each ok read also reports the ``mzxid`` of the write it
read (0: a znode never written), each ok write and cas the ``zxid`` of its write. The
committed writes of a key are then known by zxid from the acknowledged writes and from
what reads saw, and a read of state ``z`` that read the write ``m`` is right when
``m <= z`` and no known committed write of that key has a zxid in ``(m, z]``. A read that
missed a write acknowledged before it was invoked is stale: ZooKeeper allows that of a
local read, so it is reported (``allowed``, ``details["stale_reads"]``), not counted.

A "session" here is a history process: a process keeps one ZooKeeper session for its
life (the client library keeps it across fail-overs), and after an indeterminate
operation the harness retires the process. That is a conservative reading: a real
session may live longer than a process, never shorter.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any

from checkers.result import CheckResult


def _path(key: Any) -> str:
    k = str(key)
    return k if k.startswith("/") else "/" + k


def _session_order(p: Any, z: int, ev: dict[str, Any], last_read: dict[Any, tuple[int, Any]],
                   last_write: dict[Any, tuple[int, Any]], add: Any) -> None:
    """A read by session ``p`` at state zxid ``z``: monotonic-reads against its previous
    read, read-your-writes against its last acknowledged write; remembers the read."""
    prev = last_read.get(p)
    if prev is not None and z < prev[0]:
        add("monotonic-reads", process=p, index=ev["index"], zxid=z, previous_zxid=prev[0],
            previous_index=prev[1],
            explanation=f"process {p} read at zxid 0x{z:x} (index {ev['index']}) after having read at "
                        f"0x{prev[0]:x} (index {prev[1]}): its view went back in time")
    w = last_write.get(p)
    if w is not None and z < w[0]:
        add("read-your-writes", process=p, index=ev["index"], zxid=z, write_zxid=w[0], write_index=w[1],
            explanation=f"process {p} read at zxid 0x{z:x} (index {ev['index']}), before its own write "
                        f"0x{w[0]:x} (index {w[1]})")
    last_read[p] = (z, ev["index"]) if prev is None or z >= prev[0] else prev


def committed_values(trace: list[dict[str, Any]]) -> dict[str, tuple[list[int], list[Any]]]:
    """path -> (zxids, values) of the committed writes, from any server's deliveries."""
    seen: dict[int, tuple[str, Any]] = {}
    for ev in trace:
        if ev.get("kind") == "deliver" and "path" in ev:
            seen.setdefault(int(ev["zxid"]), (ev["path"], ev.get("data")))
    out: dict[str, tuple[list[int], list[Any]]] = defaultdict(lambda: ([], []))
    for z in sorted(seen):
        p, v = seen[z]
        zs, vs = out[p]
        zs.append(z)
        vs.append(v)
    return dict(out)


def check_sessions(history: list[dict[str, Any]], trace: list[dict[str, Any]], limit: int = 50) -> CheckResult:
    """Check every ok read of ``history`` that reports a ``zxid`` against the trace
    (``limit`` anomalies listed per kind, all counted; ``details["reads"]``)."""
    values = committed_values(trace)
    has_values = bool(values)
    last_read: dict[Any, tuple[int, int]] = {}  # process -> (zxid, index)
    last_write: dict[Any, tuple[int, int]] = {}
    found: dict[str, list[dict[str, Any] | None]] = defaultdict(list)  # None: counted, not kept
    reads = 0

    def add(kind: str, **facts: Any) -> None:
        if len(found[kind]) < limit:
            found[kind].append({"kind": kind, **facts})
        else:
            found[kind].append(None)

    for ev in sorted(history, key=lambda e: e["index"]):
        if ev.get("type") != "ok" or ev.get("zxid") is None:
            continue
        p, z, f = ev["process"], int(ev["zxid"]), ev.get("f")
        if f in ("write", "cas"):
            last_write[p] = (z, ev["index"])
            continue
        if f != "read":
            continue
        reads += 1
        _session_order(p, z, ev, last_read, last_write, add)
        if has_values and "key" in ev:
            zs, vs = values.get(_path(ev["key"]), ([], []))
            i = bisect.bisect_right(zs, z)
            expected = vs[i - 1] if i else None
            if ev.get("value") != expected:
                add("read-matches-state", process=p, index=ev["index"], zxid=z, key=ev["key"],
                    value=ev.get("value"), expected=expected,
                    explanation=f"process {p} read {ev.get('value')!r} from {ev['key']} at zxid 0x{z:x} "
                                f"(index {ev['index']}), but the committed value there is {expected!r}")
    # No session may expire while its client keeps in touch (ZOOKEEPER-1366): the leader
    # traces how long it had not heard of the session, on its own clock.
    for ev in trace:
        if ev.get("kind") == "session_expired" and ev.get("idle") is not None and ev.get("timeout") is not None:
            idle, timeout = int(ev["idle"]), int(ev["timeout"])
            if idle <= timeout:
                add("expired-while-live", session=ev.get("session"), node=ev.get("node"), time=ev.get("time"),
                    idle=idle, timeout=timeout,
                    explanation=f"{ev.get('node')} expired session {ev.get('session')} {idle / 1e9:.3f} s after "
                                f"last hearing of it, within its timeout {timeout / 1e9:.3f} s")
    counts = {k: len(v) for k, v in found.items()}
    kept = {k: [x for x in v if x is not None] for k, v in found.items()}
    if counts:
        expl = "; ".join(f"{k}: {n}" for k, n in sorted(counts.items()))
    else:
        expl = (f"all {reads} reads saw a growing prefix of the committed order that includes "
                f"their session's writes")
        if not reads:  # (the election workload reads nothing; session expiry is still checked)
            expl = "no reads to check; no session expired while its client kept in touch"
        elif not has_values:
            expl += " (values not checked: the trace carries no written values)"
    return CheckResult(not counts, expl, anomalies=kept, anomaly_counts=counts, details={"reads": reads})


def _written_value(ev: dict[str, Any]) -> Any:
    v = ev.get("value")
    if ev.get("f") == "cas" and isinstance(v, (list, tuple)) and len(v) == 2:
        return v[1]
    return v


def check_sessions_history(history: list[dict[str, Any]], limit: int = 50) -> CheckResult:
    """The per-session zxid-prefix check of a history whose ok reads carry ``zxid`` and
    ``mzxid`` and whose ok writes and cas carry ``zxid`` (see the module docstring);
    ``details``: ``reads``, ``stale_reads``; up to ``limit`` stale reads listed in ``allowed``."""
    evs = sorted(history, key=lambda e: e["index"])
    if not any(e.get("type") == "ok" and e.get("f") == "read" and e.get("mzxid") is not None
               and e.get("zxid") is not None for e in evs):
        return CheckResult("unknown", "not applicable: no read reports the zxids of what it read",
                           decides=False, note="not applicable", details={"not_applicable": True, "reads": 0})
    found: dict[str, list[dict[str, Any] | None]] = defaultdict(list)

    def add(kind: str, **facts: Any) -> None:
        found[kind].append({"kind": kind, **facts} if len(found[kind]) < limit else None)

    # path -> zxid -> (value, index of the event that showed it committed)
    known: dict[str, dict[int, tuple[Any, int]]] = defaultdict(dict)
    for ev in evs:
        if ev.get("type") != "ok" or ev.get("zxid") is None or "key" not in ev:
            continue
        if ev.get("f") in ("write", "cas"):
            z, v = int(ev["zxid"]), _written_value(ev)
        elif ev.get("f") == "read" and ev.get("mzxid") is not None:
            z, v = int(ev["mzxid"]), ev.get("value")
            if z == 0:
                if v is not None:
                    add("read-matches-state", process=ev["process"], index=ev["index"], key=ev["key"], value=v,
                        mzxid=0, explanation=f"process {ev['process']} read {v!r} from {ev['key']} (index "
                                             f"{ev['index']}) from a znode never written (mzxid 0)")
                continue
        else:
            continue
        path = _path(ev["key"])
        prev = known[path].get(z)
        if prev is None:
            known[path][z] = (v, ev["index"])
        elif prev[0] != v:
            add("read-matches-state", process=ev["process"], index=ev["index"], key=ev["key"], zxid=z, value=v,
                expected=prev[0], other_index=prev[1],
                explanation=f"{ev['key']} at zxid 0x{z:x} is {v!r} at index {ev['index']} but {prev[0]!r} at "
                            f"index {prev[1]}: one write, two values")
    zxids = {p: sorted(d) for p, d in known.items()}

    last_read: dict[Any, tuple[int, int]] = {}
    last_write: dict[Any, tuple[int, int]] = {}
    acked: dict[str, int] = {}  # path -> the highest zxid of a write acknowledged so far
    seen_at_invoke: dict[Any, int] = {}  # process -> acked[path] when its read was invoked
    reads = stale = 0
    stale_examples: list[dict[str, Any]] = []
    for ev in evs:
        p, f, t = ev["process"], ev.get("f"), ev.get("type")
        if t == "invoke" and f == "read" and "key" in ev:
            seen_at_invoke[p] = acked.get(_path(ev["key"]), 0)
            continue
        if t != "ok" or ev.get("zxid") is None:
            continue
        z = int(ev["zxid"])
        if f in ("write", "cas"):
            last_write[p] = (z, ev["index"])
            if "key" in ev:
                path = _path(ev["key"])
                acked[path] = max(acked.get(path, 0), z)
            continue
        if f != "read" or ev.get("mzxid") is None:
            continue
        reads += 1
        m = int(ev["mzxid"])
        _session_order(p, z, ev, last_read, last_write, add)
        if "key" not in ev:
            continue
        path = _path(ev["key"])
        if m > z:
            add("read-matches-state", process=p, index=ev["index"], zxid=z, mzxid=m, key=ev["key"],
                value=ev.get("value"),
                explanation=f"process {p} read the write 0x{m:x} of {ev['key']} (index {ev['index']}) from a "
                            f"state at zxid 0x{z:x}, before that write")
        else:
            zs = zxids.get(path, [])
            i = bisect.bisect_right(zs, m)
            if i < len(zs) and zs[i] <= z:
                missed = zs[i]
                add("read-matches-state", process=p, index=ev["index"], zxid=z, mzxid=m, key=ev["key"],
                    value=ev.get("value"), missed_zxid=missed, expected=known[path][missed][0],
                    explanation=f"process {p} read {ev.get('value')!r} (write 0x{m:x}) from {ev['key']} at zxid "
                                f"0x{z:x} (index {ev['index']}), but the write 0x{missed:x} of "
                                f"{known[path][missed][0]!r} (index {known[path][missed][1]}) was committed "
                                f"there")
        newest = seen_at_invoke.pop(p, 0)
        if newest > m:
            stale += 1
            if len(stale_examples) < limit:
                stale_examples.append({
                    "kind": "stale-read", "process": p, "index": ev["index"], "key": ev["key"], "mzxid": m,
                    "acked_zxid": newest, "zxid": z,
                    "explanation": f"process {p} read the write 0x{m:x} of {ev['key']} (index {ev['index']}) "
                                   f"after the write 0x{newest:x} was acknowledged: a stale local read"})
    counts = {k: len(v) for k, v in found.items()}
    kept = {k: [x for x in v if x is not None] for k, v in found.items()}
    note = (f"; {stale} stale read(s) of a value older than a write acknowledged before the read began: "
            f"documented for ZooKeeper's local reads, not counted") if stale else ""
    if counts:
        expl = "; ".join(f"{k}: {n}" for k, n in sorted(counts.items())) + note
    else:
        expl = (f"all {reads} reads saw a growing prefix of the committed order that includes "
                f"their session's writes (committed writes known from the history){note}") if reads \
            else "no reads to check"
    return CheckResult(not counts, expl, anomalies=kept, anomaly_counts=counts,
                       allowed={"stale-read": stale_examples} if stale_examples else {},
                       details={"reads": reads, "stale_reads": stale})
