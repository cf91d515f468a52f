"""Which checkers judge a run, and how their verdicts combine.

Each checker returns a `checkers.result.CheckResult` (verdict, explanation, anomalies by
kind). ``decides=False`` marks a result that is reported but does not decide the run:
ZooKeeper's plain local reads are documented as only sequentially consistent, so stale
local reads are shown as expected behaviour, not called a bug.

A run in a configuration the system supports with a weaker promise (Kafka's unclean leader
election, a nonzero flush interval) is judged by that promise: the system's
``SystemSpec.allowed_anomalies(settings)`` names, per checker, the anomaly kinds the
configuration permits, and :func:`permit` moves those to ``allowed`` (reported, not
counted); every other kind still counts.

Which checkers run is declared, not decided here: the workload's ``checkers``, then the
system's (``SystemSpec.checkers``), each a name in ``CHECKERS`` (or a ``harness.checkers``
entry point), then those that judge every run (``ALWAYS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from checkers.result import CheckResult, as_result
from harness import plugins
from harness.system import get_system, run_settings, servers_for
from workloads import workload_class

#: search steps (about a microsecond each, so ~30 s) the linearizability search may take
#: per run before answering "unknown". A budget of steps, not seconds, so that a run's
#: verdict is the same on every machine and under any load, like its history.
LINEARIZABLE_STEPS = 30_000_000
#: the not-counted check of local reads against linearizability is informational: proving
#: a stale read may take a long search, which a campaign should not pay for every run
LOCAL_READS_STEPS = 2_000_000


def check_linearizable(history: list[dict[str, Any]], model: str = "cas-register",
                       max_steps: int = LINEARIZABLE_STEPS) -> CheckResult:
    """A linearizability check; its counterexample (or where an undecided search stopped)
    is in ``details`` (checkers.linearizable's ``Result.to_json()``)."""
    from checkers.linearizable import check

    res = check(history, model, max_steps=max_steps)
    out = res.to_json()
    if res.valid is True:
        expl = f"all {out.get('ops')} operations linearize, key by key ({out.get('partitions')} keys, model {model})"
    else:
        expl = res.summary()
    return CheckResult(res.valid, expl, details={k: v for k, v in out.items() if k != "valid"})


def storm_of(out: Any) -> dict[str, Any] | None:
    """The simulator's storm report if the run was stopped by a message storm
    (harness.sim.MessageStorm), else None."""
    stats = getattr(out, "stats", None) or {}
    return stats.get("storm")


def check_liveness(out: Any) -> CheckResult:
    storm = storm_of(out)
    if storm is not None:
        # the run was stopped: the cluster's messages multiplied without bound, so it did
        # not get to heal, let alone serve the final reads
        return CheckResult(False, storm["explanation"], anomalies={"message-storm": [dict(storm)]})
    failures = out.final_failures
    rt = out.config.recovery_time
    if not failures:
        return CheckResult(True, f"every final read succeeded within {rt:g} s of healing")
    return CheckResult(False, f"the cluster did not serve again within {rt:g} s of healing: "
                              f"{len(failures)} final operation(s) never succeeded",
                       details={"unserved": [{"client": c, "f": op[0], "key": op[1]} for c, op in failures]})


def check_convergence(out: Any) -> CheckResult:
    """After healing and the recovery period, every server's replicated state is the same."""
    if storm_of(out) is not None:
        return CheckResult("unknown", "not judged: a message storm stopped the run before healing (see liveness)")
    d = out.replica_digests
    groups: dict[str, list[str]] = {}
    for nid, dig in d.items():
        groups.setdefault(json.dumps(dig, sort_keys=True, default=str), []).append(nid)
    if len(groups) <= 1:
        return CheckResult(True, f"all {len(d)} servers hold the same replicated state after healing")
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
    return CheckResult(False, "servers disagree after healing: " + ". ".join(sentences) + ".",
                       details={"groups": parts})


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


def _tree_differences(x: dict[str, Any], y: dict[str, Any], on_a: str, on_b: str) -> list[str]:
    out = []
    za = {z[0]: z for z in x.get("znodes", [])}
    zb = {z[0]: z for z in y.get("znodes", [])}

    def znode(z: list[Any]) -> str:
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


def availability(history: list[dict[str, Any]]) -> CheckResult:
    """How many operations the system served. A cas that failed because the value differed
    was served; a request that timed out or was refused for want of a leader was not.
    Informational: it does not decide the run."""
    n = {"ok": 0, "fail": 0, "info": 0}
    served = 0
    for ev in history:
        t = ev["type"]
        if t in n:
            n[t] += 1
            if t == "ok" or (t == "fail" and ev.get("error") in SEMANTIC_ERRORS):
                served += 1
    total = sum(n.values())
    out = {**n, "ok_fraction": round(n["ok"] / total, 4) if total else None,
           "served_fraction": round(served / total, 4) if total else None}
    return CheckResult(True, f"ok {n['ok']}, fail {n['fail']}, info {n['info']} (served {out['served_fraction']})",
                       decides=False, details=out)


def _epoch_shift(out: Any, settings: dict[str, Any] | None = None) -> int:
    """Bits of a zxid below its epoch (ZAB's ``counter_bits`` setting)."""
    if settings is None:
        settings = run_settings(out.config)
    return int(settings.get("counter_bits", 32))


# Each checker below is ``fn(out, settings) -> {result name: result}``: it gets the run's
# SimOutput and merged settings (harness.system.run_settings) and passes its checker in
# checkers/ only what that one needs. A run whose message storm stopped it ends mid-fault:
# safety checks judge what happened so far; what needs the healed end state (acked writes
# held everywhere, converged replicas, drained queues) is not judged (liveness reports it).


def _linearizable(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    if out.config.reads == "sync":
        return {"linearizable": check_linearizable(out.history)}
    results: dict[str, CheckResult] = {}
    # Local reads: only writes and cas must linearize. If the whole history
    # linearizes, so does its write part (restrict the linearization); checking the
    # whole first is also faster, since reads prune the search that many
    # indeterminate blind writes would otherwise blow up.
    stale = check_linearizable(out.history, max_steps=LOCAL_READS_STEPS)
    if stale.valid is True:
        results["linearizable"] = stale.replace(scope="writes and cas only (reads are local); "
                                                "implied by the whole history linearizing")
    else:
        writes = [e for e in out.history if e["f"] != "read"]
        results["linearizable"] = check_linearizable(writes).replace(
            scope="writes and cas only (reads are local)")
    results["linearizable-local-reads"] = stale.replace(
        decides=False, scope="all operations, local reads included",
        note=("ZooKeeper serves plain reads from the connected server: they are "
              "sequentially consistent, not linearizable. A stale read here is "
              "documented behaviour, not a bug; use --reads sync for linearizable reads."))
    return results


def _durability(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    from checkers.durability import check_queue

    # a run stopped by a storm never drained the queues: unconsumed writes are not lost
    return {"durability": check_queue(out.history, final_drain=storm_of(out) is None)}


def _mutex(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    from checkers.mutex import check_mutex

    return {"mutex": check_mutex(out, settings)}


def _replicas(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    from checkers.replicas import check_replicas, check_trace

    # stopped by a storm: no final agreement of the replicas' end state to judge
    return {"replicas": check_replicas(out) if storm_of(out) is None else check_trace(out.trace, {})}


def _quorum(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    from checkers.quorum import check_quorum

    return {"quorum": check_quorum(out.trace, servers_for(out.config),
                                   history=out.history if storm_of(out) is None else None,
                                   epoch_shift=_epoch_shift(out, settings))}


def _convergence(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    return {"convergence": check_convergence(out)}


def _session(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    from checkers.session import check_sessions, check_sessions_history

    if get_system(out.config.system).live:  # no trace: the committed writes come from the history
        return {"session": check_sessions_history(out.history)}
    return {"session": check_sessions(out.history, out.trace)}


def _broadcast(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    from checkers.maelstrom import check_broadcast

    return {"broadcast": as_result(check_broadcast(out.history))}


def _counter(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    from checkers.maelstrom import check_counter

    return {"counter": as_result(check_counter(out.history))}


def _protocol(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    from harness.live.maelstrom.problems import check_problems

    info = out.stats.get("maelstrom") or {}
    res = check_problems(info)
    if info.get("abort"):  # the program never started: nothing else is judged
        res = res.replace(details={**res.details, "aborted": True})
    return {"protocol": res}


def _liveness(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    return {"liveness": check_liveness(out)}


def _availability(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    return {"availability": availability(out.history)}


def _perf(out: Any, settings: dict[str, Any]) -> dict[str, CheckResult]:
    from checkers.perf import check_perf

    return {"perf": check_perf(out.history, out.faults, int(out.config.time_limit * 1e9), SEMANTIC_ERRORS)}


Checker = Callable[[Any, dict[str, Any]], "dict[str, CheckResult]"]

#: the checkers a workload (``Workload.checkers``) or a system (``SystemSpec.checkers``)
#: may name; installed packages add theirs as ``harness.checkers`` entry points
CHECKERS: dict[str, Checker] = {
    "linearizable": _linearizable,
    "durability": _durability,
    "mutex": _mutex,
    "replicas": _replicas,
    "quorum": _quorum,
    "convergence": _convergence,
    "session": _session,
    "broadcast": _broadcast,
    "counter": _counter,
    "protocol": _protocol,
}
#: what judges every run, after the declared ones
ALWAYS = (_liveness, _availability, _perf)


def checker(name: str) -> Checker:
    if name in CHECKERS:
        return CHECKERS[name]
    if name in plugins.declared(plugins.CHECKERS):
        plugged: Checker = plugins.load(plugins.CHECKERS, name)
        return plugged
    raise KeyError(f"unknown checker {name!r} (known: "
                   f"{', '.join(sorted(set(CHECKERS) | set(plugins.declared(plugins.CHECKERS))))})")


def checkers_for(config: Any) -> list[str]:
    """The checkers a run declares: its workload's, then its system's."""
    names = list(workload_class(config.workload).checkers)
    names += [n for n in get_system(config.system).checkers if n not in names]
    return names


def not_applicable_live(name: str) -> CheckResult:
    """A checker that needs the servers' trace, which a live run of real processes has not:
    reported, never passed, and not deciding the run."""
    return CheckResult("unknown", f"not applicable to a live system: {name} needs the servers' trace, "
                       "which only the simulator records", decides=False,
                       note="not applicable", details={"not_applicable": True})


def run_checkers(out: Any) -> dict[str, CheckResult]:
    settings = run_settings(out.config)
    results: dict[str, CheckResult] = {}
    for fn in [checker(n) for n in checkers_for(out.config)]:
        results.update(fn(out, settings))
    aborted = {n: r for n, r in results.items() if r.details.get("aborted")}
    if aborted:  # the system never started (a program that never answered init): only that
        return aborted
    for name in get_system(out.config.system).trace_checkers:
        results[name] = not_applicable_live(name)
    for fn in ALWAYS:
        results.update(fn(out, settings))
    return permit(results, get_system(out.config.system).allowed_anomalies(settings))


def permit(results: dict[str, CheckResult], allowed: Mapping[str, Mapping[str, str]]) -> dict[str, CheckResult]:
    """Judge a run in a configuration with a weaker promise (``SystemSpec.allowed_anomalies``):
    each checker's anomalies of a permitted kind move to ``allowed`` (with why, in ``note``),
    and a checker whose every counted kind was permitted passes. A checker that failed
    without naming a kind, or with any kind not permitted, still fails."""
    out = dict(results)
    for name, kinds in allowed.items():
        r = out.get(name)
        hit = sorted(k for k in kinds if r is not None and r.count(k))
        if r is None or not hit:
            continue
        anomalies = {k: v for k, v in r.anomalies.items() if k not in kinds}
        counts = {k: n for k, n in r.anomaly_counts.items() if k not in kinds}
        moved = {**r.allowed}
        for k in hit:
            moved[k] = [*moved.get(k, []), *r.anomalies.get(k, [])]
        valid = r.valid
        if valid is False and not any(counts.values()):
            valid = True
        why = " ".join(f"{k} ({r.count(k)}) is allowed: {kinds[k].rstrip('.')}." for k in hit)
        expl = (f"Only anomalies the run's configuration permits. {why} Found: {r.explanation}"
                if valid is True else f"{r.explanation} Of these, {why}")
        out[name] = r.replace(valid=valid, explanation=expl, anomalies=anomalies, anomaly_counts=counts,
                              allowed=moved, note=(r.note + " " if r.note else "") + why)
    return out
