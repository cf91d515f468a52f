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
        if not has_values:
            expl += " (values not checked: the trace carries no written values)"
    return CheckResult(not counts, expl, anomalies=kept, anomaly_counts=counts, details={"reads": reads})
