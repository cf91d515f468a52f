"""What a Maelstrom program did wrong as a participant: each kind once, in one line.

A program that crashes, prints something other than JSON on stdout, never answers
``init`` or replies to a request nobody sent is reported here, never as a harness
traceback. Every kind is counted; the first few occurrences keep their sentence.
"""

from __future__ import annotations

from typing import Any

from checkers.result import CheckResult

#: kinds that make the run invalid: the program broke the protocol or died on its own
FATAL = frozenset({"crash", "crash-at-start", "no-init-ok", "non-json", "bad-message", "unknown-dest",
                   "unknown-in-reply-to", "bad-reply", "not-implemented"})
SAMPLES = 3


class Problems:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.samples: list[dict[str, Any]] = []
        self.abort: str | None = None
        #: client requests by type: how many got a reply other than an error, and how
        #: many got error 10 (not-supported)
        self.served: dict[str, int] = {}
        self.unsupported: dict[str, int] = {}

    def reply(self, request_type: str, not_supported: bool) -> None:
        """Count a client request's reply (by the request's type)."""
        d = self.unsupported if not_supported else self.served
        d[request_type] = d.get(request_type, 0) + 1

    def not_implemented(self) -> dict[str, int]:
        """Request types the program answered only ever with not-supported: it does not
        implement them (its answers cannot be judged; Maelstrom would fail the test too)."""
        return {t: n for t, n in sorted(self.unsupported.items()) if not self.served.get(t)}

    def add(self, kind: str, node: str, time: int, text: str) -> None:
        n = self.counts.get(kind, 0)
        self.counts[kind] = n + 1
        if n < SAMPLES:
            self.samples.append({"kind": kind, "node": node, "time": time, "text": text})

    def to_json(self) -> dict[str, Any]:
        counts = dict(self.counts)
        samples = list(self.samples)
        missing = self.not_implemented()
        if missing:
            counts["not-implemented"] = len(missing)
            what = ", ".join(f"{t!r} ({n})" for t, n in missing.items())
            samples.insert(0, {"kind": "not-implemented", "node": "", "time": 0,
                               "text": f"the program does not implement the workload: every request of type {what} "
                                       f"was answered with error 10 (not-supported), none served"})
        return {"counts": counts, "samples": samples, "abort": self.abort}


def check_problems(info: dict[str, Any] | None) -> CheckResult:
    """The ``protocol`` checker: valid unless the program broke the protocol or crashed.
    ``details``: ``problems`` (a sentence each, the abort first), ``counts`` by kind."""
    ok = "no node broke the Maelstrom protocol or crashed"
    if not info:
        return CheckResult(True, ok)
    counts = info.get("counts", {})
    fatal = {k: v for k, v in counts.items() if k in FATAL}
    samples = info.get("samples", [])
    lines = [s["text"] for s in samples]
    if info.get("abort"):
        lines.insert(0, info["abort"])
    if not fatal and not info.get("abort"):
        return CheckResult(True, ok, details={"notes": lines, "counts": counts})
    first = lines[0] if lines else ", ".join(f"{k} x{v}" for k, v in fatal.items())
    more = sum(fatal.values()) - 1
    anomalies = {k: [s for s in samples if s.get("kind") == k] or [{"kind": k, "count": v}]
                 for k, v in fatal.items()}
    if info.get("abort") and not anomalies:
        anomalies = {"never-started": [{"text": info["abort"]}]}
    return CheckResult(False, first + (f" (and {more} more problem(s))" if more > 0 else ""),
                       anomalies=anomalies, anomaly_counts=fatal or {"never-started": 1},
                       details={"problems": lines, "counts": counts})
