"""One card per checker: a checker's `CheckResult` turned into the `CheckerView` the page
shows, by the renderer its details call for (linearizability, liveness, availability,
perf, or the generic one)."""

from __future__ import annotations

import json
from typing import Any

from checkers.result import CheckResult
from reports.explain.anomalies import _availability, _generic, _liveness, _perf
from reports.explain.linearizable import _linearizable
from reports.explain.views import CheckerView
from reports.explain.words import slug, verdict_words
from reports.rundata import RunData


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
