"""Checker results in words: a verdict line, and a sentence per anomaly with its operations.

Every checker's result is a `checkers.result.CheckResult`; this package turns each one
into a `CheckerView` the page template renders without knowing the checker. Some details
(linearizability counterexamples, liveness, availability, perf) get tailored sentences;
anything else is the checker's own ``explanation`` and a generic rendering of its
anomalies by kind, so a new checker shows up in the report before anyone teaches this
package about it.

The package, by job: `sentences` (what each anomaly kind means), `words` (verdicts,
operations, zxids, times in words), `views` (what the template renders), `cards` (a
checker's result to its view), `linearizable` (a linearizability counterexample),
`anomalies` (every other checker's anomaly sentences), `windows` (the fault windows active
at a time) and `why` (the "why it is invalid" box).
"""

from __future__ import annotations

from reports.explain.anomalies import INDEX_FIELDS, QUIET_FIELDS
from reports.explain.cards import build_views, checker_view
from reports.explain.linearizable import lin_failure
from reports.explain.sentences import KIND_SENTENCES
from reports.explain.views import (
    SHOWN_PER_KIND,
    Anomaly,
    CheckerView,
    KindGroup,
    LinFailure,
    LinStep,
)
from reports.explain.why import Why, why_failed
from reports.explain.windows import faults_at
from reports.explain.words import (
    NS_FIELDS,
    ZXID_FIELDS,
    field_value,
    key_words,
    op_where,
    op_words,
    seconds,
    slug,
    tidy,
    verdict_words,
    zxid_words,
)

__all__ = [
    "INDEX_FIELDS", "KIND_SENTENCES", "NS_FIELDS", "QUIET_FIELDS", "SHOWN_PER_KIND", "ZXID_FIELDS",
    "Anomaly", "CheckerView", "KindGroup", "LinFailure", "LinStep", "Why", "build_views", "checker_view",
    "faults_at", "field_value", "key_words", "lin_failure", "op_where", "op_words", "seconds", "slug", "tidy",
    "verdict_words", "why_failed", "zxid_words",
]
