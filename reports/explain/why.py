"""The "why it is invalid" box at the top of a failing run's page: each kind of anomaly
a counted checker found, in words, with its first instance, when it happened, the fault
windows active then and a link to the checker's card."""

from __future__ import annotations

from dataclasses import dataclass, field

from reports.explain.sentences import KIND_SENTENCES
from reports.explain.views import CheckerView
from reports.explain.windows import faults_at, faults_ended_before
from reports.rundata import Operation, RunData


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
    more: int = 0  # operations of the instance not in ``ops`` (the card lists them all)
    #: (FaultWindow, ns before ``time`` it ended) for fault windows that ended just before
    recent: list = field(default_factory=list)


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
            faults: list = []
            recent: list = []
            if a.time is not None:
                faults = faults_at(run, a.time)
                recent = faults_ended_before(run, a.time)
            out.append(Why(v.name, g.kind, g.count, sentence, example, a.anchor, a.time, faults, a.ops[:3],
                           max(0, len(a.ops) - 3), recent))
    out.sort(key=lambda w: not w.ops)  # stable: client-visible first
    return out
