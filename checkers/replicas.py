"""Kafka replica safety, judged from the brokers' trace and their state after healing.

What must hold (docs/kafka.md, "What the replica checker verifies"):

1. **One leader per leader epoch** of a partition: no two brokers become leader of a
   partition in the same epoch (``become-leader``), and no two controllers write different
   leaders for the same epoch (``elect``).
2. **A leader's high watermark never moves back** within its term (``hw`` of one broker,
   partition and leader epoch).
3. **Committed offsets keep their value**: once a leader's high watermark passes offset o
   of partition p (``commit``, with the record's value), no later commit of (p, o) carries
   another value, and no replica that knows the committing leader's epoch appends another
   value at (p, o) afterwards (``append``) -- it has diverged below the high watermark. (A
   replica still in an older epoch, such as a deposed leader that has not heard yet, may
   append there: it truncates once it learns of the newer epoch.)
4. **acks=all means committed, on enough replicas**: a leader acknowledges an acks=all
   produce (``ack`` without error) only once its high watermark is past the record, and
   only while its ISR has at least min.insync.replicas members (the trace carries both).
5. **ISR members hold every committed record**: a follower that joins the ISR (an
   ``isr-expand`` proposal, with its log end, that lands as an ``isr`` change) reached past
   every offset committed when it was proposed (KAFKA-7128: a new leader's lagging high
   watermark must not let a follower in early).
6. **No spurious ISR shrink**: a leader drops a follower from the ISR only if, on its
   monotonic clock, the follower had not been caught up for longer than
   replica.lag.time.max (the ``isr`` trace of a shrink carries each dropped follower's
   lag, as ZooKeeper's ``session_expired`` carries the session's silence).
7. **A follower takes records only from its epoch's leader**: every record at or past
   the offset where leader epoch E starts (the leader's log end at ``become-leader``) was
   written in epoch E or later, so a follower in epoch E that appends a record of an older
   epoch there took it from a deposed leader (KIP-320: fetch answers are fenced by leader
   epoch); its log has forked from the leader's, whether or not the two meet again.
8. **After healing, replicas agree below the high watermark**: from each broker's final
   state (``out.replica_digests``: per partition its high watermark, log end, epochs and
   a hash of the log below the high watermark), replicas with the same high watermark hold
   the same records below it.

Returns a `CheckResult` whose anomalies, by kind, each have ``kind``, ``partition``,
``replicas``, ``offsets``, ``epochs`` and a one-sentence ``explanation`` (at most
``MAX_PER_KIND`` listed per kind, all counted); ``details`` has ``notes`` and ``stats``.
Cost: one pass over the trace, linear in its length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from checkers.result import CheckResult

#: violations listed per kind (the count is always given)
MAX_PER_KIND = 20


def check_replicas(out: Any) -> CheckResult:
    trace = out.trace if hasattr(out, "trace") else out["trace"]
    digests = getattr(out, "replica_digests", None) or {}
    return check_trace(trace, digests)


def check_trace(trace: list[dict[str, Any]], digests: dict[str, Any] | None = None) -> CheckResult:
    found: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}

    def add(kind: str, v: dict[str, Any]) -> None:
        counts[kind] = counts.get(kind, 0) + 1
        lst = found.setdefault(kind, [])
        if len(lst) < MAX_PER_KIND:
            lst.append({"kind": kind, **v})

    leaders: dict[tuple[int, int], tuple[str, int]] = {}      # (p, epoch) -> (node, time)
    elected: dict[tuple[int, int], tuple[Any, str, int]] = {}  # (p, epoch) -> (leader, controller, time)
    hws: dict[tuple[str, int, int], int] = {}                  # (node, p, epoch) -> last hw
    committed: dict[tuple[int, int], tuple[str, str, int, int]] = {}  # (p, o) -> (value, node, epoch, time)
    committed_end: dict[int, int] = {}  # p -> 1 + the highest offset ever committed
    # (leader, p, epoch, follower) -> (isr-expand, committed end)
    pending_joins: dict[tuple[Any, ...], tuple[dict[str, Any], int]] = {}
    epoch_start: dict[tuple[int, int], int] = {}  # (p, epoch) -> offset where it starts
    stats = {"elections": 0, "commits": 0, "appends": 0, "acks": 0, "truncations": 0, "isr_changes": 0}

    for ev in trace:
        if "partition" not in ev:
            continue  # not a broker's replica event (ZooKeeper servers trace too)
        kind = ev.get("kind")
        if kind == "append":
            stats["appends"] += 1
            p, o = ev["partition"], ev["offset"]
            c = committed.get((p, o))
            # A replica still in an older epoch than the commit (a deposed leader, a
            # follower not yet told) may append there: it truncates once it learns.
            if c is not None and c[0] != ev["value"] and ev.get("replica_epoch", ev["leader_epoch"]) >= c[2]:
                add("diverged-below-hw", {
                    "partition": p, "replicas": [ev["node"], c[1]], "offsets": [o],
                    "epochs": [ev["leader_epoch"], c[2]],
                    "time": ev["time"],
                    "explanation": f"replica {ev['node']} appended {ev['value']} at offset {o} of partition {p} "
                                   f"(epoch {ev['leader_epoch']}, as {ev.get('role')}) after that offset had been "
                                   f"committed as {c[0]} by leader {c[1]} in epoch {c[2]} at time {c[3]}.",
                })
            mine = ev.get("replica_epoch")
            start = epoch_start.get((p, mine)) if ev.get("role") == "follower" and mine is not None else None
            if start is not None and o >= start and ev["leader_epoch"] < mine:
                add("stale-epoch-append", {
                    "partition": p, "replicas": [ev["node"]], "offsets": [o, start],
                    "epochs": [ev["leader_epoch"], mine], "time": ev["time"],
                    "explanation": f"follower {ev['node']} of partition {p}, in leader epoch {mine}, appended "
                                   f"{ev['value']} of epoch {ev['leader_epoch']} at offset {o}, though epoch {mine} "
                                   f"starts at offset {start}: the record came from a deposed leader, and the "
                                   f"follower's log has forked from its leader's.",
                })
        elif kind == "commit":
            stats["commits"] += 1
            p, o = ev["partition"], ev["offset"]
            c = committed.get((p, o))
            committed_end[p] = max(committed_end.get(p, 0), o + 1)
            if c is None:
                committed[(p, o)] = (ev["value"], ev["node"], ev["leader_epoch"], ev["time"])
            elif c[0] != ev["value"]:
                add("committed-value-changed", {
                    "partition": p, "replicas": [c[1], ev["node"]], "offsets": [o],
                    "epochs": [c[2], ev["leader_epoch"]],
                    "time": ev["time"],
                    "explanation": f"offset {o} of partition {p} was committed as {c[0]} by leader {c[1]} in epoch "
                                   f"{c[2]}, then as {ev['value']} by leader {ev['node']} in epoch "
                                   f"{ev['leader_epoch']}: a committed record was lost and its offset reused.",
                })
        elif kind == "hw":
            hw_key = (ev["node"], ev["partition"], ev["leader_epoch"])
            last = hws.get(hw_key)
            if last is not None and ev["hw"] < last:
                add("hw-moved-back", {
                    "partition": ev["partition"], "replicas": [ev["node"]], "offsets": [last, ev["hw"]],
                    "epochs": [ev["leader_epoch"]], "time": ev["time"],
                    "explanation": f"leader {ev['node']} of partition {ev['partition']} moved its high watermark back "
                                   f"from {last} to {ev['hw']} in epoch {ev['leader_epoch']}.",
                })
            hws[hw_key] = ev["hw"]
        elif kind == "become-leader":
            key = (ev["partition"], ev["leader_epoch"])
            if ev.get("log_end") is not None:
                epoch_start.setdefault(key, ev["log_end"])
            prev = leaders.get(key)
            if prev is None:
                leaders[key] = (ev["node"], ev["time"])
            elif prev[0] != ev["node"]:
                add("two-leaders-one-epoch", {
                    "partition": ev["partition"], "replicas": [prev[0], ev["node"]], "offsets": [],
                    "epochs": [ev["leader_epoch"]], "time": ev["time"],
                    "explanation": f"brokers {prev[0]} (at time {prev[1]}) and {ev['node']} (at time {ev['time']}) "
                                   f"both became leader of partition {ev['partition']} in leader epoch "
                                   f"{ev['leader_epoch']}.",
                })
        elif kind == "elect":
            stats["elections"] += 1
            key = (ev["partition"], ev["leader_epoch"])
            was = elected.get(key)
            if was is None:
                elected[key] = (ev["leader"], ev["node"], ev["time"])
            elif was[0] != ev["leader"]:
                add("two-leaders-one-epoch", {
                    "partition": ev["partition"], "replicas": [was[0], ev["leader"]], "offsets": [],
                    "epochs": [ev["leader_epoch"]], "time": ev["time"],
                    "explanation": f"controller {was[1]} wrote leader {was[0]} for partition {ev['partition']} in "
                                   f"epoch {ev['leader_epoch']} (time {was[2]}), and controller {ev['node']} wrote "
                                   f"leader {ev['leader']} for the same epoch (time {ev['time']}).",
                })
        elif kind == "ack":
            stats["acks"] += 1
            if ev.get("acks") == "all" and ev.get("error") is None:
                p, o = ev["partition"], ev["offset"]
                if ev["hw"] <= o:
                    add("acked-uncommitted", {
                        "partition": p, "replicas": [ev["node"]], "offsets": [o, ev["hw"]],
                        "epochs": [ev["leader_epoch"]], "time": ev["time"],
                        "explanation": f"leader {ev['node']} acknowledged offset {o} of partition {p} to an acks=all "
                                       f"producer (epoch {ev['leader_epoch']}) while its high watermark was "
                                       f"{ev['hw']}: the record was not yet committed.",
                    })
                if ev.get("isr_size", ev.get("min_isr", 0)) < ev.get("min_isr", 0):
                    add("acked-below-min-isr", {
                        "partition": p, "replicas": [ev["node"]], "offsets": [o], "epochs": [ev["leader_epoch"]],
                        "time": ev["time"],
                        "explanation": f"leader {ev['node']} acknowledged offset {o} of partition {p} to an acks=all "
                                       f"producer (epoch {ev['leader_epoch']}) with {ev['isr_size']} replica(s) in "
                                       f"sync, fewer than min.insync.replicas={ev['min_isr']}.",
                    })
        elif kind == "isr-expand":
            # judged when (if) the expansion lands, against what was committed when it was
            # proposed: a deposed leader's proposal never lands, and records committed
            # while the write is in flight are the joiner's to fetch
            pending_joins[(ev["node"], ev["partition"], ev["leader_epoch"], ev["follower"])] = (
                ev, committed_end.get(ev["partition"], 0))
        elif kind == "truncate":
            stats["truncations"] += 1
        elif kind == "isr":
            stats["isr_changes"] += 1
            p = ev["partition"]
            for r in sorted(set(ev.get("isr", ())) - set(ev.get("old_isr", ()))):
                pj = pending_joins.pop((ev["node"], p, ev["leader_epoch"], r), None)
                if pj is None or pj[0]["leo"] >= pj[1]:
                    continue
                x, top = pj
                add("isr-join-without-committed", {
                    "partition": p, "replicas": [ev["node"], r], "offsets": [x["leo"], top],
                    "epochs": [ev["leader_epoch"]], "time": ev["time"],
                    "explanation": f"leader {ev['node']} admitted {r} to the ISR of partition {p} (epoch "
                                   f"{ev['leader_epoch']}) with its log ending at {x['leo']}, though offsets up to "
                                   f"{top - 1} were already committed (the leader's high watermark was {x['hw']}, "
                                   f"its epoch started at {x['epoch_start']}): an ISR member lacking committed "
                                   f"records loses them if it is elected.",
                })
            lag_max = ev.get("lag_max_ns")
            for r, lag in sorted((ev.get("lag_ns") or {}).items()):
                if lag_max is not None and lag <= lag_max:
                    add("spurious-isr-shrink", {
                        "partition": ev["partition"], "replicas": [ev["node"], r], "offsets": [],
                        "epochs": [ev["leader_epoch"]], "time": ev["time"],
                        "explanation": f"leader {ev['node']} dropped {r} from the ISR of partition {ev['partition']} "
                                       f"(epoch {ev['leader_epoch']}) though, by its monotonic clock, {r} had been "
                                       f"caught up {lag / 1e6:.0f} ms before, within replica.lag.time.max "
                                       f"({lag_max / 1e6:.0f} ms): lag was judged by a clock that jumped.",
                    })

    notes = _final_agreement(digests or {}, add)
    valid = not found
    if valid:
        explanation = (f"replicas agree: one leader per leader epoch ({len(leaders)} leaderships), high watermarks "
                       f"only moved forward, {len(committed)} committed offsets kept their values, and replicas "
                       f"agree below the high watermark after healing")
    else:
        explanation = " ".join(f"{kind} ({counts[kind]}): {found[kind][0]['explanation']}" for kind in sorted(found))
    if notes:
        explanation += " Note: " + " ".join(notes)
    return CheckResult(valid, explanation, anomalies={kind: found[kind] for kind in sorted(found)},
                       anomaly_counts=counts,
                       details={"notes": notes, "stats": {**stats, "leaderships": len(leaders),
                                                          "committed_offsets": len(committed)}})


def _final_agreement(digests: dict[str, Any], add: Callable[[str, dict[str, Any]], None]) -> list[str]:
    """Replicas with the same high watermark must hold the same records below it."""
    by_partition: dict[str, dict[str, dict[str, Any]]] = {}
    for node, d in sorted(digests.items()):
        if not isinstance(d, dict):
            continue
        for p, st in d.items():
            if isinstance(st, dict) and "below_hw" in st:
                by_partition.setdefault(p, {})[node] = st
    notes: list[str] = []
    for p, reps in sorted(by_partition.items()):
        groups: dict[int, list[str]] = {}
        for node, st in reps.items():
            groups.setdefault(st["hw"], []).append(node)
        for hw, nodes in sorted(groups.items()):
            hashes: dict[str, list[str]] = {}
            for node in nodes:
                hashes.setdefault(reps[node]["below_hw"], []).append(node)
            if len(hashes) > 1:
                parts = list(hashes.values())
                a, b = parts[0][0], parts[1][0]
                add("replicas-disagree-after-healing", {
                    "partition": int(p), "replicas": sorted(nodes), "offsets": [hw],
                    "epochs": [reps[a]["epochs"], reps[b]["epochs"]],
                    "explanation": f"after healing, replicas {a} and {b} of partition {p} both have high watermark "
                                   f"{hw} but hold different records below it (epoch starts {reps[a]['epochs']} "
                                   f"vs {reps[b]['epochs']}).",
                })
        if len(groups) > 1:
            desc = ", ".join(f"{n} at {reps[n]['hw']}" for n in sorted(reps))
            notes.append(f"partition {p}'s replicas had not all caught up after healing ({desc}).")
    return notes
