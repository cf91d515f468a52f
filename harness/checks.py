"""Which checkers judge a run, and how their verdicts combine.

Each checker returns a dict with ``valid`` (True, False or "unknown") and enough detail to
explain itself. ``counts: False`` marks a result that is reported but does not decide the
run: ZooKeeper's plain local reads are documented as only sequentially consistent, so
stale local reads are shown as expected behaviour, not called a bug.
"""

from __future__ import annotations

import json
from typing import Any

#: search steps (about a microsecond each, so ~30 s) the linearizability search may take
#: per run before answering "unknown". A budget of steps, not seconds, so that a run's
#: verdict is the same on every machine and under any load, like its history.
LINEARIZABLE_STEPS = 30_000_000
#: the not-counted check of local reads against linearizability is informational: proving
#: a stale read may take a long search, which a campaign should not pay for every run
LOCAL_READS_STEPS = 2_000_000


def check_linearizable(history: list[dict], model: str = "cas-register",
                       max_steps: int = LINEARIZABLE_STEPS) -> dict[str, Any]:
    from checkers.linearizable import check

    res = check(history, model, max_steps=max_steps)
    out = res.to_json()
    if res.valid is True:
        out["explanation"] = (f"all {out.get('ops')} operations linearize, key by key "
                              f"({out.get('partitions')} keys, model {model})")
    else:
        out["explanation"] = res.summary()
    return out


def storm_of(out: Any) -> dict[str, Any] | None:
    """The simulator's storm report if the run was stopped by a message storm
    (harness.sim.MessageStorm), else None."""
    stats = getattr(out, "stats", None) or {}
    return stats.get("storm")


def check_liveness(out: Any) -> dict[str, Any]:
    storm = storm_of(out)
    if storm is not None:
        # the run was stopped: the cluster's messages multiplied without bound, so it did
        # not get to heal, let alone serve the final reads
        return {"valid": False, "explanation": storm["explanation"],
                "anomalies": {"message-storm": 1}, "storm": storm}
    failures = out.final_failures
    rt = out.config.recovery_time
    if not failures:
        return {"valid": True, "explanation": f"every final read succeeded within {rt:g} s of healing"}
    return {
        "valid": False,
        "explanation": f"the cluster did not serve again within {rt:g} s of healing: "
                       f"{len(failures)} final operation(s) never succeeded",
        "unserved": [{"client": c, "f": op[0], "key": op[1]} for c, op in failures],
    }


def check_convergence(out: Any) -> dict[str, Any]:
    """After healing and the recovery period, every server's replicated state is the same."""
    if storm_of(out) is not None:
        return {"valid": "unknown", "explanation": "not judged: a message storm stopped the run "
                "before healing (see liveness)"}
    d = out.replica_digests
    groups: dict[str, list[str]] = {}
    for nid, dig in d.items():
        groups.setdefault(json.dumps(dig, sort_keys=True, default=str), []).append(nid)
    if len(groups) <= 1:
        return {"valid": True, "explanation": f"all {len(d)} servers hold the same data tree after healing"}
    parts = [{"servers": nids, "state": json.loads(k)} for k, nids in groups.items()]
    # the biggest group (ties: the one with the first server) is the reference the others
    # are described against
    parts.sort(key=lambda p: (-len(p["servers"]), p["servers"]))
    ref = parts[0]
    sentences = []
    for p in parts[1:]:
        diffs = state_differences(ref["state"], p["state"], _names(ref["servers"]), _names(p["servers"]))
        shown = "; ".join(diffs[:4]) + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
        verb = "differs" if len(p["servers"]) == 1 else "differ"
        sentences.append(f"{_names(p['servers'])} {verb} from {_names(ref['servers'])}: {shown}")
    return {"valid": False, "explanation": "servers disagree after healing: " + ". ".join(sentences) + ".",
            "groups": parts}


def _names(nodes: list[str]) -> str:
    return ", ".join(nodes)


def state_differences(a: Any, b: Any, on_a: str, on_b: str) -> list[str]:
    """What differs between two servers' replicated states, in words: the last zxid, each
    znode (data and version) and the live sessions of a ZooKeeper data tree; any other
    state is compared field by field."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return [f"{a!r} on {on_a} but {b!r} on {on_b}"]
    out: list[str] = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        if key == "zxid" and isinstance(x, int) and isinstance(y, int):
            out.append(f"last applied zxid {x:#x} on {on_a} but {y:#x} on {on_b}")
        elif key == "tree" and isinstance(x, dict) and isinstance(y, dict):
            out.extend(_tree_differences(x, y, on_a, on_b))
        else:
            out.append(f"{key} is {json.dumps(x, default=str)[:80]} on {on_a} but "
                       f"{json.dumps(y, default=str)[:80]} on {on_b}")
    return out


def _tree_differences(x: dict, y: dict, on_a: str, on_b: str) -> list[str]:
    out = []
    za = {z[0]: z for z in x.get("znodes", [])}
    zb = {z[0]: z for z in y.get("znodes", [])}

    def znode(z: list) -> str:
        owner = f", ephemeral of session {z[4]:#x}" if len(z) > 4 and z[4] else ""
        return f"{json.dumps(z[1], default=str)} (version {z[2]}{owner})"

    for path in sorted(set(za) | set(zb)):
        if za.get(path) == zb.get(path):
            continue
        if path not in zb:
            out.append(f"{path} exists on {on_a} only, holding {znode(za[path])}")
        elif path not in za:
            out.append(f"{path} exists on {on_b} only, holding {znode(zb[path])}")
        else:
            out.append(f"{path} holds {znode(za[path])} on {on_a} but {znode(zb[path])} on {on_b}")
    sa, sb = set(x.get("sessions", [])), set(y.get("sessions", []))
    if sa - sb:
        out.append(f"session(s) {', '.join(f'{s:#x}' for s in sorted(sa - sb))} live on {on_a} only")
    if sb - sa:
        out.append(f"session(s) {', '.join(f'{s:#x}' for s in sorted(sb - sa))} live on {on_b} only")
    return out


#: errors that are answers, not unavailability: the system served the request and said no
SEMANTIC_ERRORS = frozenset({"value mismatch", "BadVersion", "NoNode", "NodeExists",
                             # Maelstrom's error names (harness.live.maelstrom.clients)
                             "key-does-not-exist", "key-already-exists", "precondition-failed"})


def availability(history: list[dict]) -> dict[str, Any]:
    """How many operations the system served. A cas that failed because the value differed
    was served; a request that timed out or was refused for want of a leader was not."""
    n = {"ok": 0, "fail": 0, "info": 0}
    served = 0
    for ev in history:
        t = ev["type"]
        if t in n:
            n[t] += 1
            if t == "ok" or (t == "fail" and ev.get("error") in SEMANTIC_ERRORS):
                served += 1
    total = sum(n.values())
    return {**n, "ok_fraction": round(n["ok"] / total, 4) if total else None,
            "served_fraction": round(served / total, 4) if total else None}


def _epoch_shift(out: Any) -> int:
    from systems.zab.spec import ZabSpec

    settings = {**ZabSpec().default_settings(), **out.config.settings}
    return int(settings.get("counter_bits", 32))


def _live_spec(system: str) -> Any:
    """The spec of ``system`` if it runs live (``harness.live``), else None."""
    from harness.system import get_system

    try:
        spec = get_system(system)
    except KeyError:
        return None
    return spec if getattr(spec, "live", False) else None


def not_applicable_live(name: str) -> dict[str, Any]:
    """A checker that needs the servers' trace, which a live run of real processes has not:
    reported, never passed, and not deciding the run."""
    return {"valid": "unknown", "counts": False, "not_applicable": True,
            "explanation": f"not applicable to a live system: {name} needs the servers' trace, "
                           "which only the simulator records"}


def run_checkers(out: Any) -> dict[str, dict[str, Any]]:
    cfg = out.config
    results: dict[str, dict[str, Any]] = {}
    # A run stopped by a message storm ends mid-fault: the safety checks judge what happened
    # so far; what needs the healed end state (acked writes held everywhere, converged
    # replicas, drained queues) is not judged (liveness reports the storm)
    stopped = storm_of(out)
    if cfg.workload in ("register", "lin-kv"):
        if cfg.reads == "sync":
            results["linearizable"] = check_linearizable(out.history)
        else:
            # Local reads: only writes and cas must linearize. If the whole history
            # linearizes, so does its write part (restrict the linearization); checking the
            # whole first is also faster, since reads prune the search that many
            # indeterminate blind writes would otherwise blow up.
            stale = check_linearizable(out.history, max_steps=LOCAL_READS_STEPS)
            if stale["valid"] is True:
                results["linearizable"] = dict(stale, scope="writes and cas only (reads are local); "
                                               "implied by the whole history linearizing")
            else:
                writes = [e for e in out.history if e["f"] != "read"]
                results["linearizable"] = check_linearizable(writes)
                results["linearizable"]["scope"] = "writes and cas only (reads are local)"
            stale = dict(stale)
            stale["counts"] = False
            stale["scope"] = "all operations, local reads included"
            stale["note"] = ("ZooKeeper serves plain reads from the connected server: they are "
                             "sequentially consistent, not linearizable. A stale read here is "
                             "documented behaviour, not a bug; use --reads sync for linearizable reads.")
            results["linearizable-local-reads"] = stale
    if cfg.workload in ("queue", "kafka"):
        from checkers.durability import check_queue

        # a run stopped by a storm never drained the queues: unconsumed writes are not lost
        results["durability"] = check_queue(out.history, final_drain=stopped is None)
    if cfg.workload == "broadcast":
        from checkers.maelstrom import check_broadcast

        results["broadcast"] = check_broadcast(out.history)
    if cfg.workload == "g-counter":
        from checkers.maelstrom import check_counter

        results["counter"] = check_counter(out.history)
    if cfg.system == "maelstrom":
        from harness.live.maelstrom.problems import check_problems

        results["protocol"] = check_problems(out.stats.get("maelstrom"))
        if out.stats.get("maelstrom", {}).get("abort"):  # never started: nothing else to judge
            return {"protocol": results["protocol"]}
    if cfg.workload == "election":
        from checkers.mutex import check_mutex

        results["mutex"] = check_mutex(out)
    if cfg.system == "kafka":
        from checkers.replicas import check_replicas, check_trace

        # stopped by a storm: no final agreement of the replicas' end state to judge
        results["replicas"] = check_replicas(out) if stopped is None else check_trace(out.trace, {})
    if cfg.system == "zab" and cfg.workload in ("register", "election"):
        from checkers.quorum import check_quorum
        from harness.runner import servers_for

        results["quorum"] = check_quorum(out.trace, servers_for(cfg),
                                         history=out.history if stopped is None else None,
                                         epoch_shift=_epoch_shift(out))
        results["convergence"] = check_convergence(out)
        from checkers.session import check_sessions

        results["session"] = check_sessions(out.history, out.trace)
    live_spec = _live_spec(cfg.system)
    if live_spec is not None:
        for name in getattr(live_spec, "trace_checkers", ()):
            results[name] = not_applicable_live(name)
        if "convergence" not in results and out.replica_digests:
            results["convergence"] = check_convergence(out)
    results["liveness"] = check_liveness(out)
    results["availability"] = {"valid": True, "counts": False, **availability(out.history)}
    from checkers.perf import check_perf

    results["perf"] = check_perf(out.history, out.faults, int(cfg.time_limit * 1e9), SEMANTIC_ERRORS)
    return results
