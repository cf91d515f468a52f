"""Run pages: regressions found by an audit of the reports."""

from __future__ import annotations

from types import SimpleNamespace

from reports.explain.views import Anomaly, CheckerView
from reports.explain.why import why_failed
from reports.rundata import Operation


def _op(i: int, f: str = "write", typ: str = "info") -> Operation:
    return Operation(process=i, f=f, key="x", value=i, start=i, invoke_index=2 * i, end=None, type=typ)


def test_why_box_says_how_many_operations_it_leaves_out():
    """The "why it is invalid" box listed the first 3 operations of an anomaly and dropped
    the rest without a word: a read and its 3 pending writes ("3 other operation(s) were
    pending") showed the read and 2 writes."""
    ops = [_op(0, "read", "ok"), _op(1), _op(2), _op(3)]
    view = CheckerView("linearizable", "c-lin", False, True, "INVALID", "bad", "not linearizable",
                       anomalies=[Anomaly("nonlinearizable", "a read ...", "c-lin-a1", ops=ops)])
    (why,) = why_failed(SimpleNamespace(windows=[]), [view])  # type: ignore[arg-type]
    assert len(why.ops) + why.more == 4 and why.more == 1
