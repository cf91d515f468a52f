"""What every checker returns: a `CheckResult`, and the failure signature read from them.

A result has a verdict (``valid``: True, False or ``"unknown"``), a one-line
``explanation``, the anomalies it found by kind (``anomalies``: kind -> records, each a
plain JSON dict; a checker may list fewer than it found, ``anomaly_counts`` says how
many), the ones it found but allows (``allowed``, shown and not counted), and whether it
decides the run's verdict (``decides``: availability and perf only inform; so does the
check of ZooKeeper's local reads against linearizability, whose stale reads are
documented behaviour). What only one checker has (a linearizability counterexample, the
per-period latencies) sits in ``details``.

In results.json each checker's entry is ``to_json()``; ``from_json`` reads it back, and
also reads the entries written before this type existed (anomalies under the six keys
checkers used then, ``counts: false`` for "does not decide"), so ``harness report`` and
``repro`` still read old run directories.

The failure signature of a run (what ``harness shrink`` keeps, what ``harness campaign``
triages by) is the set of (checker, anomaly kind) pairs of the deciding checkers that
failed; a checker that failed without naming a kind gives (checker, None).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: a verdict: True, False or "unknown"
Verdict = Any

UNKNOWN = "unknown"

#: the fields of a result in results.json; anything else there is a detail
_FIELDS = ("valid", "explanation", "decides", "anomalies", "anomaly_counts", "allowed", "note", "scope",
           "details")


@dataclass(frozen=True)
class CheckResult:
    valid: Verdict
    explanation: str = ""
    #: kind -> anomaly records (plain dicts), the ones that make ``valid`` False
    anomalies: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: kind -> how many were found; at least the records listed (filled in when not given)
    anomaly_counts: Mapping[str, int] = field(default_factory=dict)
    #: kind -> records found but allowed by the checker: reported, never counted
    allowed: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: whether this result takes part in the run's verdict
    decides: bool = True
    #: for the reader: what the result means when it needs saying (e.g. why it does not decide)
    note: str = ""
    #: what the checker looked at, when not the whole run
    scope: str = ""
    #: what only this checker has, for the report (JSON-able)
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts = dict(self.anomaly_counts)
        for kind, recs in self.anomalies.items():
            counts[kind] = max(counts.get(kind, 0), len(recs))
        object.__setattr__(self, "anomaly_counts", counts)

    @property
    def kinds(self) -> list[str]:
        """The kinds of (counted) anomaly found, sorted."""
        return sorted(k for k, n in self.anomaly_counts.items() if n)

    def count(self, kind: str) -> int:
        return self.anomaly_counts.get(kind, 0)

    @property
    def failed(self) -> bool:
        """Invalid, and deciding: it makes the run invalid."""
        return self.valid is False and self.decides

    def replace(self, **changes: Any) -> CheckResult:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "explanation": self.explanation, "decides": self.decides,
                "anomalies": {k: list(v) for k, v in self.anomalies.items()},
                "anomaly_counts": dict(self.anomaly_counts),
                "allowed": {k: list(v) for k, v in self.allowed.items()},
                "note": self.note, "scope": self.scope, "details": dict(self.details)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CheckResult:
        if "decides" not in d:
            return _from_legacy(d)
        return cls(valid=d.get("valid", UNKNOWN), explanation=str(d.get("explanation") or ""),
                   anomalies=_by_kind(d.get("anomalies")), anomaly_counts=_counts(d.get("anomaly_counts")),
                   allowed=_by_kind(d.get("allowed")), decides=d["decides"] is not False,
                   note=str(d.get("note") or ""), scope=str(d.get("scope") or ""),
                   details=dict(d["details"]) if isinstance(d.get("details"), Mapping) else {})


def as_result(x: CheckResult | Mapping[str, Any]) -> CheckResult:
    """A checker's result as a CheckResult: a checker from outside the package (an entry
    point) may still return the plain dict results.json holds."""
    return x if isinstance(x, CheckResult) else CheckResult.from_json(x)


def _by_kind(x: Any) -> dict[str, list[dict[str, Any]]]:
    """kind -> records, keeping only what has that shape (a hand-edited or damaged file)."""
    if not isinstance(x, Mapping):
        return {}
    return {str(k): [r for r in v if isinstance(r, dict)] for k, v in x.items() if isinstance(v, list)}


def _counts(x: Any) -> dict[str, int]:
    if not isinstance(x, Mapping):
        return {}
    return {str(k): n for k, n in x.items() if isinstance(n, int) and not isinstance(n, bool)}


def checker_results(results: Mapping[str, Any]) -> dict[str, CheckResult]:
    """Each checker's result in a results.json dict (or a run's ``results``)."""
    checkers = results.get("checkers") if isinstance(results, Mapping) else None
    if not isinstance(checkers, Mapping):  # a damaged file: no checker results, not a crash
        checkers = {}
    return {str(name): (c if isinstance(c, CheckResult) else CheckResult.from_json(c))
            for name, c in checkers.items() if isinstance(c, (Mapping, CheckResult))}


Signature = frozenset[tuple[str, str | None]]  # (checker name, anomaly kind or None)


def failure_signature(results: Mapping[str, Any]) -> Signature:
    """The (checker, anomaly kind) pairs that failed in a results.json dict."""
    sig: set[tuple[str, str | None]] = set()
    for name, r in checker_results(results).items():
        if r.failed:
            kinds: list[str | None] = [*r.kinds] or [None]
            sig.update((name, kind) for kind in kinds)
    return frozenset(sig)


def anomaly_names(sig: Signature) -> list[str]:
    """``checker`` or ``checker:kind`` for each pair, sorted."""
    return sorted(c if k is None else f"{c}:{k}" for c, k in sig)


# --------------------------------------------------------------------------- old results.json

def _from_legacy(d: Mapping[str, Any]) -> CheckResult:
    """A checker's entry as written before CheckResult: anomaly lists under ``anomalies``
    (kind -> records, or kind -> a count), ``violations`` (the same, or a list of records
    with a ``kind``), counts under ``violation_counts``/``anomaly_counts``/``counts``, and
    ``counts: false`` for a result that does not decide."""
    anomalies: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}
    for key in ("anomalies", "violations"):
        v = d.get(key)
        if isinstance(v, Mapping):
            for kind, recs in v.items():
                if isinstance(recs, list):
                    anomalies.setdefault(str(kind), []).extend(r for r in recs if isinstance(r, dict))
                    counts[str(kind)] = max(counts.get(str(kind), 0), len(recs))
                elif isinstance(recs, int) and not isinstance(recs, bool):
                    anomalies.setdefault(str(kind), [])
                    counts[str(kind)] = max(counts.get(str(kind), 0), recs)
        elif isinstance(v, list):
            for rec in v:
                if isinstance(rec, dict):
                    kind = str(rec.get("kind") or rec.get("property") or "anomaly")
                    anomalies.setdefault(kind, []).append(rec)
                    counts[kind] = counts.get(kind, 0) + 1
    for key in ("violation_counts", "anomaly_counts", "counts"):
        c = d.get(key)
        if isinstance(c, Mapping):
            for kind, n in c.items():
                if isinstance(n, int) and not isinstance(n, bool):
                    counts[str(kind)] = max(counts.get(str(kind), 0), n)
                    anomalies.setdefault(str(kind), [])
    allowed = {str(k): [r for r in v if isinstance(r, dict)] for k, v in (d.get("allowed") or {}).items()
               if isinstance(v, list)} if isinstance(d.get("allowed"), Mapping) else {}
    bad = d.get("bad_kinds")
    if isinstance(bad, list):  # the queue checker listed allowed kinds (unseen) among its anomalies
        for kind in [k for k in anomalies if k not in bad]:
            allowed.setdefault(kind, []).extend(anomalies.pop(kind))
            counts.pop(kind, None)
    known = {"valid", "explanation", "anomalies", "violations", "violation_counts", "anomaly_counts", "allowed",
             "note", "scope", "bad_kinds"}
    details = {k: v for k, v in d.items() if k not in known and k != "counts"}
    return CheckResult(valid=d.get("valid", UNKNOWN), explanation=str(d.get("explanation") or d.get("reason") or ""),
                       anomalies=anomalies, anomaly_counts=counts, allowed=allowed,
                       decides=d.get("counts", True) is not False, note=str(d.get("note") or ""),
                       scope=str(d.get("scope") or ""), details=details)
