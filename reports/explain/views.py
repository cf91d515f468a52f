"""What the page template renders for a checker, without knowing the checker: a
`CheckerView` (verdict badge, summary, facts, anomalies grouped by kind) and, for a
linearizability failure, the `LinFailure` around the operation that breaks it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reports.explain.sentences import KIND_SENTENCES
from reports.explain.words import _capital
from reports.rundata import Operation

#: anomalies listed in full per kind; the rest of a kind folds away
SHOWN_PER_KIND = 3


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
