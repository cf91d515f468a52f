"""Per-checker anomaly sentences for every checker but linearizability: tailored ones
for liveness (with the final attempts that never succeeded), availability and perf, and
a generic rendering of any other checker's anomalies by kind (its own explanation, the
record's fields, the operations its history indices name), so a new checker shows up in
the report before anyone teaches this package about it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checkers.result import CheckResult
from reports.explain.sentences import KIND_SENTENCES
from reports.explain.views import Anomaly, CheckerView
from reports.explain.words import _capital, field_value, key_words, tidy
from reports.rundata import Operation, RunData, fmt_value

#: fields of an anomaly record that hold history indices of the operations involved
INDEX_FIELDS = ("index", "indices", "op", "ops", "op_index", "op_indices", "history_indices",
                "invoke_index", "complete_index", "operations", "send_indices", "poll_indices")
#: fields of an anomaly record not shown as facts (the sentence says them)
QUIET_FIELDS = ("kind", "type", "property", "explanation", "message", "description")


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


def _availability(res: Mapping[str, Any], v: CheckerView) -> None:
    ok, fail, info = res.get("ok"), res.get("fail"), res.get("info")
    frac = res.get("ok_fraction")
    pct = f"{100 * frac:.1f}%" if isinstance(frac, (int, float)) else "?"
    v.summary = f"{pct} of completed operations ok ({ok} ok, {fail} fail, {info} info)"
    served = res.get("served_fraction")
    if isinstance(served, (int, float)):
        v.summary = (f"{100 * served:.1f}% of completed operations served; {v.summary[0].lower()}{v.summary[1:]}. "
                     f"Served counts a refusal that is an answer (a cas whose expected value differed) "
                     f"as served, a timeout or a request refused for want of a leader as not.")


def _perf(res: Mapping[str, Any], v: CheckerView) -> None:
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
            # when it happened: its time, or when it began (an overlap of masters has
            # from/to); not its operations' start, which may be long before (the old
            # master's acquire)
            for field in ("time", "from"):
                t = rec.get(field)
                if isinstance(t, int) and not isinstance(t, bool):
                    a.time = t
                    break
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
    return list(dict.fromkeys(out))  # first occurrences, in order
