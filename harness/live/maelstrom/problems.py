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
                   "unknown-in-reply-to"})
SAMPLES = 3


class Problems:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.samples: list[dict[str, Any]] = []
        self.abort: str | None = None

    def add(self, kind: str, node: str, time: int, text: str) -> None:
        n = self.counts.get(kind, 0)
        self.counts[kind] = n + 1
        if n < SAMPLES:
            self.samples.append({"kind": kind, "node": node, "time": time, "text": text})

    def to_json(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "samples": list(self.samples), "abort": self.abort}


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
