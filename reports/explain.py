"""Checker results in words: a verdict line, and a sentence per anomaly with its operations.

Every checker's result is a `checkers.result.CheckResult`; this module turns each one
into a `CheckerView` the page template renders without knowing the checker. Some details
(linearizability counterexamples, liveness, availability, perf) get tailored sentences;
anything else is the checker's own ``explanation`` and a generic rendering of its
anomalies by kind, so a new checker shows up in the report before anyone teaches this
module about it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from checkers.result import CheckResult
from reports.rundata import NS, Operation, RunData, fmt_value

#: one sentence per anomaly kind: the queue taxonomy (docs/anomalies.md, after Jepsen's Kafka
#: test), ZAB safety (docs/zab.md §7, checkers/quorum.py) and the election workload
KIND_SENTENCES = {
    "lost-write": "A value known to be committed was never read, although polls read past its offset.",
    "unseen": "Acknowledged values that no poll had returned by the final drain.",
    "duplicate": "One value sits at more than one offset of a key.",
    "inconsistent-offsets": "One offset of a key holds more than one value, judging by sends and polls together.",
    "aborted-read": "A value whose send definitely failed showed up in a poll.",
    "poll-skip": "A consumer's next poll on a key jumped over offsets known to exist, with no reassignment between.",
    "nonmonotonic-poll": "A consumer's next poll on a key started at or before where its previous poll ended.",
    "int-poll-skip": "Inside one poll, consecutive values of a key skipped offsets known to exist.",
    "int-nonmonotonic-poll": "Inside one poll, the offsets of a key went backwards or repeated.",
    "nonmonotonic-send": "A producer's later send to a key landed at an offset before its previous send.",
    "unexpected-value": "A poll returned a value that no one sent.",
    # ZAB safety on the trace (checkers/quorum.py, docs/zab.md)
    "I1-integrity": "A server delivered a transaction that was never proposed, or with another digest.",
    "I2-total-order": "Two servers delivered the same transactions in different orders.",
    "I3-agreement": "Two servers delivered different transactions at the same place in their histories.",
    "I4-local-primary-order": "Within one epoch a server delivered something other than a prefix of that epoch's proposals, in zxid order.",
    "I5-global-primary-order": "Epochs went down along a server's delivered history.",
    "I6-primary-integrity": "A new leader proposed before it had delivered every earlier-epoch transaction some server delivers.",
    "I7-one-leader-per-epoch": "Two servers were established leaders of the same epoch.",
    "I8-zxid-sanity": "A zxid does not carry its leader's epoch, goes backwards, or stands for two transactions.",
    "I9-acked-write-durability": "A write a client saw succeed is not delivered, with its zxid, by every server at the end.",
    "quorum-commit": "A transaction was committed without durable ACKs from a quorum.",
    "committed-log-durability": "A truncation removed a transaction that had been delivered (committed).",
    # the election workload (checkers/mutex.py)
    "overlapping-masters": "Two clients believed they were master at the same time.",
    "token-regression": "The storage accepted a write whose fencing token is lower than one it had already "
                        "accepted: an older master overwrote a newer one's work.",
    "deposed-writer": "The storage accepted a write from a master after a newer master had begun.",
    # ZooKeeper sessions (checkers/session.py)
    "read-matches-state": "A read returned a value other than the key's committed value at the zxid the "
                          "server said it read at.",
    "monotonic-reads": "A session's read saw an older state (a lower zxid) than its previous read.",
    "read-your-writes": "A session's read saw a state from before its own acknowledged write.",
    "expired-while-live": "A server expired a session although it had heard from its client within the "
                          "session timeout (ZOOKEEPER-1366).",
    # Kafka replicas (checkers/replicas.py)
    "two-leaders-one-epoch": "Two brokers led one partition in the same leader epoch.",
    "hw-moved-back": "A leader's high watermark moved back within its term.",
    "committed-value-changed": "A committed offset later carried another value.",
    "diverged-below-hw": "A replica appended another value below a committed offset it should hold.",
    "acked-uncommitted": "A leader acknowledged an acks=all produce before the record was committed.",
    "acked-below-min-isr": "A leader acknowledged an acks=all produce while its ISR was below "
                           "min.insync.replicas.",
    "isr-join-without-committed": "A follower joined the ISR without every committed record (KAFKA-7128).",
    "spurious-isr-shrink": "A leader dropped a follower from the ISR that had not lagged for "
                           "replica.lag.time.max.",
    "replicas-disagree-after-healing": "After healing, replicas with the same high watermark hold different "
                                       "records below it.",
}

#: fields holding a zxid (an int: epoch in the high 32 bits, counter in the low 32),
#: shown the way ZooKeeper writes them, 0x<epoch><counter>
ZXID_FIELDS = re.compile(r"(^|_)zxids?$")
#: fields holding simulated nanoseconds, shown in seconds
NS_FIELDS = re.compile(r"^(time|at|start|end|idle|timeout|lag|duration|since|until)$|_(ns|time)$")
#: anomalies listed in full per kind; the rest of a kind folds away
SHOWN_PER_KIND = 3

#: fields of an anomaly record that hold history indices of the operations involved
INDEX_FIELDS = ("index", "indices", "op", "ops", "op_index", "op_indices", "history_indices",
                "invoke_index", "complete_index", "operations", "send_indices", "poll_indices")
#: fields of an anomaly record not shown as facts (the sentence says them)
QUIET_FIELDS = ("kind", "type", "property", "explanation", "message", "description")


@dataclass
class Anomaly:
    kind: str
    sentence: str
    anchor: str
    ops: list[Operation] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    missing_indices: list[int] = field(default_factory=list)
    expected: bool = False  # reported, allowed by the checker, not counted against the run
    own: str = ""  # the checker's own words for this one (the sentence has the kind's words first)
    time: int | None = None  # ns: when it happened, if the record or its operations say

    @property
    def own_sentence(self) -> str:
        return _capital(self.own)


@dataclass
class KindGroup:
    """The anomalies of one kind in a checker's card: a few shown, the rest folded."""

    kind: str
    count: int  # as the checker counted them (it may list fewer)
    shown: list[Anomaly]
    folded: list[Anomaly]
    expected: bool = False
    listed: int = 0  # how many the checker listed in results.json (the page may show fewer)

    @property
    def sentence(self) -> str:
        """What the kind means, when this module knows it."""
        return KIND_SENTENCES.get(self.kind, "")

    @property
    def on_page(self) -> int:
        return len(self.shown) + len(self.folded)


@dataclass
class LinStep:
    position: int  # 1-based place in the linearization
    op: Operation | None
    state: Any  # JSON-able model state after the op, when the replay could compute it


@dataclass
class LinFailure:
    """What Porcupine shows: the longest linearizable prefix and the op that breaks it."""

    key: Any
    model: str
    state: Any
    failing: Operation | None
    prefix_len: int
    steps: list[LinStep]  # the tail of the prefix shown, in linearization order
    position: dict[int, int]  # invoke index -> 1-based place in the linearization
    pending: list[Operation]
    window: list[Operation]  # operations on the key shown around the failure
    states_replayed: bool


@dataclass
class CheckerView:
    name: str
    anchor: str
    valid: Any
    counted: bool
    status: str  # text of the badge
    badge: str  # css class of the badge
    summary: str
    note: str = ""
    scope: str = ""
    anomalies: list[Anomaly] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    lin: LinFailure | None = None
    raw: str = ""
    anomaly_counts: dict[str, int] = field(default_factory=dict)  # kind -> how many the checker found
    listed: dict[str, int] = field(default_factory=dict)  # kind -> how many results.json lists

    @property
    def groups(self) -> list[KindGroup]:
        out: dict[tuple[str, bool], KindGroup] = {}
        for a in self.anomalies:
            g = out.get((a.kind, a.expected))
            if g is None:
                g = out[(a.kind, a.expected)] = KindGroup(a.kind, 0, [], [], a.expected)
            (g.shown if len(g.shown) < SHOWN_PER_KIND else g.folded).append(a)
        for g in out.values():
            g.listed = max(self.listed.get(g.kind, 0), g.on_page)
            c = self.anomaly_counts.get(g.kind)
            g.count = c if isinstance(c, int) and c > g.listed else g.listed
        return list(out.values())

    @property
    def total(self) -> int:
        """Anomalies found (counted), as the checker counted them."""
        return sum(g.count for g in self.groups if not g.expected)


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-")
    return s or "x"


def verdict_words(valid: Any, counted: bool = True) -> tuple[str, str]:
    """(badge text, css class) for a verdict."""
    if not counted:
        if valid is False:
            return "expected, not counted", "expected"
        if valid is True:
            return "valid (not counted)", "info"
        return "unknown (not counted)", "info"
    if valid is True:
        return "valid", "valid"
    if valid is False:
        return "INVALID", "invalid"
    return "unknown", "unknown"


def key_words(key: Any) -> str:
    """A key as a reader writes it: ``x2`` for a string, JSON otherwise."""
    return key if isinstance(key, str) else fmt_value(key, 60)


def op_words(op: Operation | None) -> str:
    """``read x2 → 3``, ``write x1 4``, ``cas x0 [1,2]``: an operation in a few words."""
    if op is None:
        return "an operation"
    key = "" if op.key is None else f" {key_words(op.key)}"
    if op.f == "read":
        if op.type == "ok":
            return f"read{key} → {fmt_value(op.result, 60)}"
        return f"read{key}"
    arg = "" if op.value is None else " " + fmt_value(op.value, 60)
    return f"{op.f}{key}{arg}"


def op_where(op: Operation) -> str:
    a = "?" if op.invoke_index is None else op.invoke_index
    b = "…" if op.complete_index is None else op.complete_index
    return f"process {op.process}, history {a}–{b}"


def build_views(run: RunData) -> list[CheckerView]:
    views = []
    for name, res in run.checkers.items():
        views.append(checker_view(run, name, res))
    return views


def checker_view(run: RunData, name: str, res: CheckResult) -> CheckerView:
    valid = res.valid
    counted = res.decides
    status, badge = verdict_words(valid, counted)
    v = CheckerView(
        name=name, anchor="checker-" + slug(name), valid=valid, counted=counted, status=status,
        badge=badge, summary="", note=res.note, scope=res.scope,
        raw=json.dumps(res.to_json(), indent=1, default=str, sort_keys=False),
    )
    d = res.details
    if _is_linearizability(d):
        _linearizable(run, name, {**d, "valid": valid}, v)
    elif name == "liveness" and not res.anomalies:
        _liveness(run, res, v)
    elif name == "availability" or {"ok", "fail", "info"} <= set(d):
        _availability(d, v)
    elif name == "perf" and isinstance(d.get("by_period"), list):
        _perf(d, v)
    else:
        _generic(run, name, res, v)
    if not v.summary:
        v.summary = {True: "no anomaly found", False: "anomalies found"}.get(valid, "no verdict")
    return v


def _is_linearizability(details: Any) -> bool:
    return "prefix" in details and "model" in details


# --------------------------------------------------------------------------- linearizable


def _linearizable(run: RunData, name: str, res: dict, v: CheckerView) -> None:
    n_ops, parts = res.get("ops"), res.get("partitions")
    valid = res.get("valid")
    model = res.get("model")
    if valid is True:
        v.summary = (f"linearizable: {n_ops} operations on {parts} key(s) have a legal order "
                     f"in the {model} model")
        return
    if valid != "unknown" and valid is not False:
        return
    if valid == "unknown":
        reason = res.get("reason") or "budget"
        v.summary = (f"undecided: the search stopped ({reason}) after a prefix of "
                     f"{res.get('max_prefix')} operations; {res.get('partitions_done')} of {parts} "
                     f"key(s) fully checked")
        for u in res.get("unfinished") or []:
            if isinstance(u, dict):
                v.facts.append((f"key {fmt_value(u.get('key'))}",
                                f"{u.get('ops')} operations, longest prefix {u.get('max_prefix')}, "
                                f"stopped on {u.get('reason')}"))
        return

    lin = lin_failure(run, res)
    failing = lin.failing
    key = res.get("key")
    keytxt = "" if key is None else f" on key {key_words(key)}"
    state = fmt_value(res.get("state"))
    what = op_words(failing)
    where = f" ({op_where(failing)})" if failing is not None else ""
    if failing is not None and failing.f == "read" and failing.type == "ok":
        sentence = (f"A read returned a value no legal order allows: {what}{where}. After the longest "
                    f"linearizable prefix of {lin.prefix_len} operations{keytxt} the {model} holds "
                    f"{state}, and no operation concurrent with the read could have changed it to "
                    f"{fmt_value(failing.result)} in time.")
    elif failing is not None and failing.f == "cas":
        sentence = (f"A compare-and-set succeeded against the wrong value: {what}{where}. After the "
                    f"longest linearizable prefix of {lin.prefix_len} operations{keytxt} the {model} "
                    f"holds {state}, not the value the cas expected.")
    else:
        sentence = (f"{what[:1].upper() + what[1:]}{where} cannot be linearized: after the longest "
                    f"linearizable prefix of {lin.prefix_len} operations{keytxt} the {model} is in "
                    f"state {state}, and neither this operation nor any concurrent one can come next.")
    if lin.pending:
        sentence += (f" {len(lin.pending)} other operation(s) were pending then; none of them can come "
                     f"next either.")
    kind = "nonlinearizable" if v.counted else "stale-read (expected)"
    ops = [failing] if failing is not None else []
    ops += [o for o in lin.pending if o is not failing]
    v.anomalies.append(Anomaly(kind=kind, sentence=sentence, anchor=v.anchor + "-a1", ops=ops,
                               time=failing.start if failing is not None else None))
    v.summary = f"not linearizable{keytxt}: {what} cannot be placed after a linearizable prefix of {lin.prefix_len} operations"
    v.lin = lin


def _checked_events(run: RunData, reads: bool) -> list[dict]:
    if reads:
        return run.history
    return [e for e in run.history if e.get("f") != "read"]


def lin_failure(run: RunData, res: dict, before: int = 12, max_window: int = 60) -> LinFailure:
    """The operations around a linearizability failure, with their place in the prefix.

    The checker names operations by op id (their position among non-failed operations of
    the history it was given), so we pair the history again the way it does — all events,
    or writes and cas only for the "reads are local" scope — and keep the pairing whose op
    id matches the failing op's recorded history index. ``before`` is how many of the last
    linearized operations to show; the window adds every operation on the key that
    overlaps them or the failing op.
    """
    op_json = res.get("op") if isinstance(res.get("op"), dict) else {}
    fail_inv = op_json.get("invoke_index")
    failing = run.op_by_index.get(fail_inv) if isinstance(fail_inv, int) else None
    prefix_ids = [i for i in res.get("prefix") or [] if isinstance(i, int)]
    pending = []
    for p in res.get("pending") or []:
        if isinstance(p, dict) and isinstance(p.get("invoke_index"), int):
            o = run.op_by_index.get(p["invoke_index"])
            if o is not None:
                pending.append(o)

    id_to_op: dict[int, Any] = {}
    try:
        from checkers.history import pair_operations

        scope = str(res.get("scope") or "")
        orders = (False, True) if scope.startswith("writes") else (True, False)
        for reads in orders:
            try:
                cops = pair_operations(_checked_events(run, reads))
            except Exception:
                continue
            oid = op_json.get("id")
            if isinstance(oid, int) and 0 <= oid < len(cops) and cops[oid].invoke_index == fail_inv:
                id_to_op = {o.id: o for o in cops}
                break
    except ImportError:
        pass

    steps_all: list[LinStep] = []
    replayed = False
    states: list[Any] = []
    if id_to_op:
        try:
            from checkers.history import freeze, thaw
            from checkers.linearizable.models import FAIL, get_model

            mdl = get_model(str(res.get("model")))
            state = mdl.init(mdl.initial_for(freeze(res.get("key")), None))
            for i in prefix_ids:
                state = mdl.compile(id_to_op[i])(state)
                if state is FAIL:
                    raise ValueError("replay failed")
                states.append(mdl.describe(state))
            replayed = json.dumps(thaw(states[-1]) if states else None, default=str) == json.dumps(
                res.get("state"), default=str) or not prefix_ids
        except Exception:
            replayed = False
    position: dict[int, int] = {}
    for n, i in enumerate(prefix_ids, 1):
        cop = id_to_op.get(i)
        o = run.op_by_index.get(cop.invoke_index) if cop is not None and cop.invoke_index is not None else None
        if o is not None and o.invoke_index is not None:
            position[o.invoke_index] = n
        steps_all.append(LinStep(n, o, states[n - 1] if replayed else None))
    steps = steps_all[-before:]

    # The window: operations on the failing key between the first step shown and the end
    # of the failing op (plus anything pending), per process.
    key = res.get("key")
    shown = [s.op for s in steps if s.op is not None]
    anchors = shown + ([failing] if failing else []) + pending
    window: list[Operation] = []
    if anchors:
        t0 = min(o.start for o in anchors)
        t1 = max((o.end if o.end is not None else o.start) for o in anchors)
        if failing is not None and failing.end is not None:
            t1 = max(t1, failing.end)
        for o in run.operations:
            if key is not None and o.key != key:
                continue
            if o.type == "fail":
                continue
            end = o.end if o.end is not None else run.end_time
            if end >= t0 and o.start <= t1:
                window.append(o)
        if len(window) > max_window:
            must = {id(o) for o in anchors}
            window = [o for o in window if id(o) in must] + [o for o in window if id(o) not in must]
            window = sorted(window[:max_window], key=lambda o: o.start)
    return LinFailure(key=key, model=str(res.get("model")), state=res.get("state"), failing=failing,
                      prefix_len=len(prefix_ids), steps=steps, position=position, pending=pending,
                      window=window, states_replayed=replayed)


# --------------------------------------------------------------------------- others


def _liveness(run: RunData, res: CheckResult, v: CheckerView) -> None:
    v.summary = res.explanation
    for n, u in enumerate(res.details.get("unserved") or [], 1):
        if isinstance(u, dict):
            sentence = (f"Client {u.get('client')} never completed its final {u.get('f')} of "
                        f"{key_words(u.get('key'))} after every fault was healed.")
        else:
            sentence = f"A final operation never succeeded: {fmt_value(u)}."
        a = Anomaly(kind="no-recovery", sentence=sentence, anchor=f"{v.anchor}-a{n}")
        if isinstance(u, dict):
            a.ops = _final_attempts(run, u)[-10:]
            if a.ops:
                a.sentence += f" Its last {len(a.ops)} attempt(s) after healing are below."
        v.anomalies.append(a)


def _final_attempts(run: RunData, u: dict) -> list[Operation]:
    """The final-phase attempts of client ``cN`` (worker N: process N, N + clients...)
    at ``f`` on ``key`` that did not succeed."""
    client, clients, start = u.get("client"), run.clients, run.main_end
    if not (isinstance(client, str) and client[1:].isdigit() and clients and start is not None):
        return []
    worker = int(client[1:])
    return [o for o in run.operations
            if o.start >= start and isinstance(o.process, int) and o.process % clients == worker
            and o.f == u.get("f") and o.key == u.get("key") and o.type != "ok"]


def _availability(res: dict, v: CheckerView) -> None:
    ok, fail, info = res.get("ok"), res.get("fail"), res.get("info")
    frac = res.get("ok_fraction")
    pct = f"{100 * frac:.1f}%" if isinstance(frac, (int, float)) else "?"
    v.summary = f"{pct} of completed operations ok ({ok} ok, {fail} fail, {info} info)"
    served = res.get("served_fraction")
    if isinstance(served, (int, float)):
        v.summary = (f"{100 * served:.1f}% of completed operations served; {v.summary[0].lower()}{v.summary[1:]}. "
                     f"Served counts a refusal that is an answer (a cas whose expected value differed) "
                     f"as served, a timeout or a request refused for want of a leader as not.")


def _perf(res: dict, v: CheckerView) -> None:
    """One row per period: served fraction and ok latencies."""
    v.summary = "Operations served, and the latency of the ok ones, by what was going on when they were invoked."
    for r in res["by_period"]:
        if not isinstance(r, dict):
            continue
        served = r.get("served_fraction")
        text = f"{100 * served:.1f}% served of {r.get('ops')} operations" if isinstance(served, (int, float)) else "-"
        if r.get("latency_p50_ms") is not None:
            text += f"; ok latency p50 {r['latency_p50_ms']:g} ms, p99 {r.get('latency_p99_ms'):g} ms"
        v.facts.append((str(r.get("period")), text))


def _generic(run: RunData, name: str, res: CheckResult, v: CheckerView) -> None:
    v.summary = tidy(res.explanation)
    v.anomaly_counts = dict(res.anomaly_counts)
    n = 0
    per_kind: dict[str, int] = {}
    for kind, rec in ((kind, rec) for kind, recs in res.anomalies.items() for rec in recs):
        per_kind[kind] = v.listed[kind] = per_kind.get(kind, 0) + 1
        if per_kind[kind] > 50:  # a page, not a dump: the raw result below has the rest
            continue
        n += 1
        sentence = KIND_SENTENCES.get(kind, f"Anomaly {kind}.")
        a = Anomaly(kind=kind, sentence=sentence, anchor=f"{v.anchor}-a{n}")
        if isinstance(rec, dict):
            own = rec.get("explanation") or rec.get("message") or rec.get("description")
            if isinstance(own, str) and own:
                a.own = tidy(own)
                a.sentence = f"{sentence} Here, {a.own}" if kind in KIND_SENTENCES else _capital(a.own)
            for k, val in rec.items():
                if k in QUIET_FIELDS or k in INDEX_FIELDS:
                    continue
                a.fields.append((str(k), field_value(str(k), val)))
            for idx in _indices(rec):
                op = run.op_by_index.get(idx)
                if op is None:
                    a.missing_indices.append(idx)
                elif op not in a.ops:
                    a.ops.append(op)
            t = rec.get("time")
            if isinstance(t, int) and not isinstance(t, bool):
                a.time = t
        elif isinstance(rec, int) and not isinstance(rec, bool):
            a.fields.append(("count", str(rec)))
        elif rec is not None:
            a.fields.append(("detail", fmt_value(rec, 200)))
        if a.time is None and a.ops:
            a.time = min(o.start for o in a.ops)
        v.anomalies.append(a)
    # Anomalies the checker allows (e.g. a poll jump across a reassignment the consumer
    # was told about): shown, marked, not counted.
    for kind, rec in ((kind, rec) for kind, recs in res.allowed.items() for rec in recs):
        n += 1
        own = rec.get("explanation") if isinstance(rec, dict) else None
        sentence = KIND_SENTENCES.get(kind, f"Anomaly {kind}.")
        if isinstance(own, str) and own:
            sentence += f" Here, {own}"
        a = Anomaly(kind=f"{kind} (allowed)", sentence=sentence + " Allowed by the checker, not counted.",
                    anchor=f"{v.anchor}-a{n}", expected=True)
        if isinstance(rec, dict):
            for idx in _indices(rec):
                op = run.op_by_index.get(idx)
                if op is not None and op not in a.ops:
                    a.ops.append(op)
        v.anomalies.append(a)
        if n >= 250:
            break


def _indices(rec: dict) -> list[int]:
    out: list[int] = []

    def add(x: Any) -> None:
        if isinstance(x, bool):
            return
        if isinstance(x, int):
            out.append(x)
        elif isinstance(x, list):
            for y in x:
                add(y)
        elif isinstance(x, dict):
            for k in ("index", "invoke_index", "complete_index"):
                if k in x:
                    add(x[k])

    for k in INDEX_FIELDS:
        if k in rec:
            add(rec[k])
    seen: set[int] = set()
    return [i for i in out if not (i in seen or seen.add(i))]


@dataclass
class Why:
    """One line of the "why it failed" box: a kind of anomaly a counted checker found,
    in words, with its first instance (what, when, during which faults) and a link."""

    checker: str
    kind: str
    count: int
    sentence: str  # what the kind means
    example: str  # the first instance, in the checker's words (or "")
    anchor: str
    time: int | None
    faults: list  # (FaultWindow active at ``time``, note such as "n5 was the leader")
    ops: list[Operation]


def why_failed(run: RunData, views: list[CheckerView]) -> list[Why]:
    """Each kind of anomaly that makes the run invalid, client-visible ones first (they
    name operations of the history), then as the checkers list them."""
    out = []
    for v in views:
        if not v.counted or v.valid is not False:
            continue
        groups = [g for g in v.groups if not g.expected]
        if not groups:  # a verdict without listed anomalies: its summary, cut to a line or two
            summary = v.summary if len(v.summary) <= 240 else v.summary[:239] + "… (see below)"
            out.append(Why(v.name, v.name, 0, summary, "", v.anchor, None, [], []))
            continue
        for g in groups:
            a = g.shown[0]
            sentence = KIND_SENTENCES.get(g.kind, "")
            example = a.own if sentence else a.sentence
            faults = []
            if a.time is not None:
                faults = [(w, _leader_note(run, w)) for w in run.windows if w.start <= a.time <= w.end]
            out.append(Why(v.name, g.kind, g.count, sentence, example, a.anchor, a.time, faults, a.ops[:3]))
    out.sort(key=lambda w: not w.ops)  # stable: client-visible first
    return out


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


_PY_LIST = re.compile(r"\[((?:'[^'\[\]]*'(?:, )?)+)\]")


def tidy(text: str) -> str:
    """A checker's sentence as a reader wants it: Python list reprs such as
    ``['n1', 'n2']`` become ``{n1, n2}``."""
    return _PY_LIST.sub(lambda m: "{" + ", ".join(x.strip("'") for x in m.group(1).split(", ")) + "}", text)


def _capital(text: str) -> str:
    """Capitalise a sentence unless it starts with a name (n5, b2, c10, 0x...)."""
    first = text.split(" ", 1)[0]
    if any(ch.isdigit() for ch in first) or not first[:1].islower():
        return text
    return text[:1].upper() + text[1:]


def zxid_words(z: int) -> str:
    """``0x200000004`` (epoch 2, counter 4): a zxid the way ZooKeeper logs it."""
    return f"0x{z:x} (epoch {z >> 32}, counter {z & 0xFFFFFFFF})"


def field_value(key: str, val: Any) -> str:
    """An anomaly record's field for the page: zxids in hex, nanoseconds in seconds."""
    def is_int(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool)

    if ZXID_FIELDS.search(key):
        if is_int(val):
            return zxid_words(val)
        if isinstance(val, list) and val and all(is_int(x) for x in val):
            shown = ", ".join(f"0x{x:x}" for x in val[:20])
            return shown + (f", … ({len(val)} in all)" if len(val) > 20 else "")
    if NS_FIELDS.search(key) and is_int(val) and abs(val) >= 1000:
        return f"{val / NS:.3f} s"
    if isinstance(val, str):
        return val if len(val) <= 200 else val[:199] + "…"
    if (isinstance(val, list) and val and len(val) <= 20
            and all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in val)):
        return ", ".join(map(str, val))
    return fmt_value(val, 200)


def seconds(ns: Any) -> str:
    return f"{ns / NS:.3f}" if isinstance(ns, (int, float)) else ""
