"""Run pages: regressions found by an audit of the reports."""

from __future__ import annotations

from itertools import pairwise
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


def test_why_box_names_a_fault_that_ended_just_before_the_anomaly():
    """Sessions expired 9 ms after a clock fault's end (the reset is a jump of the clock)
    read "with no fault active": the box now says which fault had just ended."""
    ended = SimpleNamespace(start=1_000, end=5_000_000_000, name="F2", label="clock n5")
    long_ago = SimpleNamespace(start=0, end=1_000, name="F1", label="kill n1")
    a = Anomaly("expired-while-live", "...", "c-s-a1", time=5_009_000_000)
    view = CheckerView("session", "c-s", False, True, "INVALID", "bad", "expired", anomalies=[a])
    (why,) = why_failed(SimpleNamespace(windows=[long_ago, ended]), [view])  # type: ignore[arg-type]
    assert why.faults == [] and why.recent == [(ended, 9_000_000)]


def test_a_plot_key_draws_the_line_of_a_series_plotted_on_the_axes():
    """The key of the unseen and log-offset plots showed k0, k1... with no line beside
    them: the swatch copied the series' data transform and axes clipping."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from reports.plots.frame import _legend_right

    fig = Figure(figsize=(10, 2))
    ax = fig.add_axes((0.1, 0.1, 0.6, 0.8))
    (line,) = ax.plot([0, 1], [0, 5], label="k0", color="#123456")
    _legend_right(ax, [line])
    (swatch,) = [a for a in fig.artists if a is not line]
    assert swatch.get_transform() == fig.transFigure and not swatch.get_clip_on()
    x0, x1 = swatch.get_xdata()
    assert 0.7 < x0 < x1 < 1.0  # right of the axes, in figure coordinates


def test_an_overlap_of_masters_is_placed_when_it_began_and_its_fields_read_as_times_and_zxids():
    """An overlapping-masters record has from/to (ns), not time: the box placed it at the
    old master's acquire (0.063 s, "with no fault active") instead of 6.224 s, during the
    pause that caused it; its card showed from/to and sent_at as raw nanoseconds and the
    tokens as decimal beside the sentence's hex."""
    from checkers.result import CheckResult
    from reports.explain.anomalies import _generic

    acquire = Operation(process=8, f="acquire", key=None, value=None, start=63_000_000, invoke_index=6,
                        end=119_000_000, type="ok", result=4294967300, complete_index=10)
    rec = {"kind": "overlapping-masters", "explanation": "c8 and c0 both master", "old_token": 4294967300,
           "from": 6_224_230_891, "to": 7_751_718_202, "sent_at": 5_000_000_000, "indices": [6]}
    res = CheckResult(False, "1 overlap", anomalies={"overlapping-masters": [rec]})
    view = CheckerView("mutex", "c-mutex", False, True, "INVALID", "bad", "")
    _generic(SimpleNamespace(op_by_index={6: acquire}), "mutex", res, view)  # type: ignore[arg-type]
    (a,) = view.anomalies
    assert a.time == 6_224_230_891
    fields = dict(a.fields)
    assert fields["from"] == "6.224 s" and fields["to"] == "7.752 s" and fields["sent_at"] == "5.000 s"
    assert fields["old_token"].startswith("0x100000004")


def test_never_covered_leaves_out_what_the_campaigns_faults_cannot_reach():
    """A campaign run with --nemesis partition,kill listed fault-family:clock, :crash,
    :pause, :power, :slow and every crash point as "never covered" ("declared reachable:
    2 of 11 covered"): none of them can happen without those families."""
    from reports.campaign_coverage import campaign_families, reachable

    declared = ["event:b:crash=ack", "event:n:sync_mode=DIFF", "fault-family:clock", "fault-family:crash",
                "fault-family:kill", "fault-family:partition"]
    meta = {"config": {"system": "kafka", "nemesis": ["partition", "kill"]}}
    fams = campaign_families(meta)
    assert fams == {"partition", "kill"}
    assert reachable(declared, fams) == ["event:n:sync_mode=DIFF", "fault-family:kill", "fault-family:partition"]
    assert reachable(declared, {"power"}) == ["event:b:crash=ack", "event:n:sync_mode=DIFF"]
    explorative = {"config": {"nemesis": ["partition", "kill"]}, "explore": {"pinned": ["nodes"]}}
    assert campaign_families(explorative) is None and reachable(declared, None) == declared


def test_the_leaders_plot_shows_every_server_from_the_start(tmp_path):
    """A Kafka broker traces no role: the plot showed one only from its first crash, and one
    never crashed not at all (3 of 5 brokers missing in a run with two kills)."""
    from harness.config import RunConfig
    from harness.runner import run_test
    from reports.plots.leaders import leader_segments
    from reports.rundata import RunData

    cfg = RunConfig(system="kafka", workload="queue", seed=2, time_limit=10.0, nemesis=("kill",)).validate()
    run_test(cfg, directory=tmp_path / "r")
    run = RunData(tmp_path / "r")
    segs = leader_segments(run)
    brokers = [s for s in run.servers if s.startswith("b")]
    assert brokers and set(run.servers) <= set(segs)
    assert all(segs[s][0][0] == 0 for s in run.servers)  # from the start
    assert any(role == "up" for s in brokers for _, _, role, _ in segs[s])
    for ss in segs.values():  # one after another, none empty
        assert all(a[1] == b[0] for a, b in pairwise(ss)) and all(t1 > t0 for t0, t1, _, _ in ss[:-1])
