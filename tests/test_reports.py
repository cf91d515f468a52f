"""Reports: run pages, campaign pages, plots, the `harness report` command, escaping, and
a look at the pages through headless Chromium (skipped when it is not installed).

Runs are toy runs (tests/toysystem.py): milliseconds each. Seed 3 with the bug
``toy-async-backup-reads`` fails linearizability (a stale read); seed 1 without it passes.
Set REPORT_SCREENSHOT_DIR to keep the Chromium screenshots somewhere you can look at.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from markupsafe import escape

from checkers.result import CheckResult
from harness.cli import main
from harness.config import ConfigError, RunConfig
from harness.faults import family_names, fault_family, generate_schedule, not_opening, window_end
from harness.runner import run_test
from reports.campaign_report import write_campaign_report
from reports.explain import build_views
from reports.plots import leader_segments, plot_leaders, plot_log_offsets, write_plots
from reports.run_report import repro_command, write_run_report
from reports.rundata import (
    FAMILIES,
    FAMILY_COLOURS,
    RunData,
    describe_fault,
    fault_windows,
    reach_groups,
)

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

FAILING = RunConfig(system="toy", nodes=3, time_limit=10, seed=3, bugs=("toy-async-backup-reads",),
                    nemesis=("partition", "kill"))
PASSING = RunConfig(system="toy", nodes=3, time_limit=10, seed=1, nemesis=("partition", "kill"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    fail = run_test(FAILING, directory=base / "fail")
    ok = run_test(PASSING, directory=base / "pass")
    local = run_test(FAILING.replace(reads="local"), directory=base / "local")
    assert fail.valid is False and ok.valid is True and local.valid is True
    return {"fail": fail.directory, "pass": ok.directory, "local": local.directory}


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# ----------------------------------------------------------------------------- run pages


def test_passing_run_report(runs, tmp_path):
    d = _copy(runs["pass"], tmp_path / "pass")
    out = write_run_report(d)
    assert out == d / "report.html"
    page = out.read_text()
    assert 'id="verdict">valid<' in page
    assert repro_command(d) in page
    assert "linearizable" in page and "liveness" in page
    for png in ("latency.png", "throughput.png"):
        assert (d / png).stat().st_size > 1000
        assert f'src="{png}"' in page
    for raw in ("history.jsonl", "trace.jsonl", "faults.jsonl", "results.json", "config.json", "schedule.json"):
        assert f'href="{raw}"' in page
    assert "<script" not in page  # readable without JavaScript, and none to inject into


def test_failing_run_report_explains_the_linearizability_failure(runs, tmp_path):
    d = _copy(runs["fail"], tmp_path / "fail")
    res = json.loads((d / "results.json").read_text())["checkers"]["linearizable"]["details"]
    page = write_run_report(d).read_text()
    assert 'id="verdict">INVALID<' in page
    assert "nonlinearizable" in page
    op = res["op"]
    # the failing operation with its history indices, in the sentence and in the tables
    assert f"history {op['invoke_index']}–{op['complete_index']}" in page
    assert f"{op['invoke_index']}–{op['complete_index']}" in page
    # the Porcupine-style view: the prefix's length, its tail numbered, the model state
    assert f"The prefix has {len(res['prefix'])} operations" in page
    assert f"#{len(res['prefix'])} " in page
    assert "cannot be linearized after it" in page
    assert "operations around the linearizability failure" in page
    # the failing op is flagged on the per-process timeline and links to its explanation
    assert 'href="#checker-linearizable-a1"' in page


def test_lin_view_replays_prefix_states(runs):
    run = RunData(runs["fail"])
    (lin_view,) = [v for v in build_views(run) if v.lin is not None]
    lin = lin_view.lin
    res = run.checkers["linearizable"].details
    assert lin.prefix_len == len(res["prefix"])
    assert lin.states_replayed
    assert lin.steps[-1].state == res["state"]
    assert lin.failing is not None and lin.failing.invoke_index == res["op"]["invoke_index"]
    assert lin.failing in lin.window
    assert all(s.op is not None for s in lin.steps)
    # positions are the order of the prefix
    assert [lin.position[s.op.invoke_index] for s in lin.steps] == [s.position for s in lin.steps]


def test_lin_view_maps_op_ids_of_a_writes_only_check(tmp_path):
    """With --reads local the checker judges writes and cas only, so its op ids count
    operations of the filtered history; the page must still point at the right ones."""
    from checkers.linearizable import check

    ev = []

    def op(p, f, v, out, t):
        ev.append({"index": len(ev), "time": t, "process": p, "type": "invoke", "f": f, "key": "x",
                   "value": None if f == "read" else v})
        ev.append({"index": len(ev), "time": t + 5, "process": p, "type": "ok", "f": f, "key": "x",
                   "value": out, "node": "n1"})

    op(0, "read", None, None, 10)
    op(1, "read", None, None, 20)
    op(0, "write", 1, 1, 30)
    op(1, "read", None, 1, 40)
    op(2, "cas", [2, 3], [2, 3], 50)  # succeeds although the register holds 1
    writes = [e for e in ev if e["f"] != "read"]
    res = check(writes, "cas-register", time_limit=10).to_json()
    assert res["valid"] is False
    res["scope"] = "writes and cas only (reads are local)"
    d = tmp_path / "w"
    d.mkdir()
    (d / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ev))
    (d / "results.json").write_text(json.dumps({"valid": False, "checkers": {"linearizable": res}}))
    run = RunData(d)
    (view,) = build_views(run)
    lin = view.lin
    assert lin.failing.f == "cas" and lin.failing.invoke_index == 8
    assert [(s.op.f, s.op.invoke_index) for s in lin.steps] == [("write", 4)]
    assert lin.states_replayed and lin.steps[-1].state == 1
    assert "A compare-and-set succeeded against the wrong value" in view.anomalies[0].sentence
    page = write_run_report(d).read_text()
    assert "history 8–9" in page


def test_local_reads_are_expected_not_counted(runs, tmp_path):
    d = _copy(runs["local"], tmp_path / "local")
    page = write_run_report(d).read_text()
    assert 'id="verdict">valid<' in page
    assert "expected, not counted" in page
    assert "stale-read (expected)" in page
    assert "sequentially consistent" in page


def test_run_report_escapes_everything(runs, tmp_path):
    d = _copy(runs["fail"], tmp_path / "xss")
    lines = (d / "history.jsonl").read_text().splitlines()
    events = [json.loads(x) for x in lines]
    res = json.loads((d / "results.json").read_text())
    fail_idx = res["checkers"]["linearizable"]["details"]["op"]["complete_index"]
    for e in events:
        if e["type"] == "ok" and e["f"] == "write":
            e["value"] = XSS  # every op's tooltip shows its value
        if e["index"] == fail_idx:
            e["value"] = XSS  # the failing read, shown in the anomaly's table
            e["node"] = "$n$" + XSS  # and a mathtext-looking node name, for the plots
    (d / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    cfg = json.loads((d / "config.json").read_text())
    cfg["settings"] = {"x": XSS}
    cfg["bugs"] = cfg["bugs"] + [XSS]
    (d / "config.json").write_text(json.dumps(cfg))
    res["checkers"]["linearizable"]["note"] = XSS
    res["checkers"][XSS] = CheckResult(False, XSS, anomalies={XSS: [{"explanation": XSS, "indices": [0, 1],
                                                                     XSS: XSS}]}).to_json()
    (d / "results.json").write_text(json.dumps(res))
    with open(d / "faults.jsonl", "a") as f:
        f.write(json.dumps({"time": 1, "kind": "kill", "args": [XSS], "episode": 99, "node": XSS}) + "\n")
        f.write(json.dumps({"time": 2, "kind": "power-off", "episode": 98, "nodes": [XSS, "n1"]}) + "\n")
        f.write(json.dumps({"time": 3, "kind": XSS, "episode": 97, "node": XSS}) + "\n")  # unknown kind
    page = write_run_report(d).read_text()
    assert "Why it is invalid" in page
    assert XSS not in page
    assert "<script" not in page
    assert page.count(XSS_ESCAPED) >= 8


def test_report_of_a_bare_run_directory(tmp_path):
    """Only results.json, written before CheckResult: the page still comes out, saying what
    it lacks."""
    d = tmp_path / "bare"
    d.mkdir()
    (d / "results.json").write_text(json.dumps({"valid": "unknown", "checkers": {
        "linearizable": {"valid": "unknown", "model": "cas-register", "prefix": [], "reason": "time limit",
                         "max_prefix": 12, "partitions": 3, "partitions_done": 1,
                         "unfinished": [{"key": "x1", "ops": 40, "max_prefix": 12, "reason": "time limit"}]}}}))
    (d / "history.jsonl").write_text('{"index": 0, "time": 5, "process": 0, "type": "invoke", "f": "read"}\nnot json\n')
    page = write_run_report(d).read_text()
    assert 'id="verdict">unknown<' in page
    assert "undecided: the search stopped (time limit)" in page
    assert "history.jsonl 1" in page  # the skipped line is reported


def test_generic_anomalies_get_sentences_and_operations(runs, tmp_path):
    """Queue (durability) and ZAB (quorum) shapes: each anomaly a sentence and its ops."""
    d = _copy(runs["pass"], tmp_path / "generic")
    res = json.loads((d / "results.json").read_text())
    res["valid"] = False
    res["checkers"]["durability"] = CheckResult(
        False,
        anomalies={"lost-write": [{"kind": "lost-write", "key": "k1", "offsets": [12], "values": [7],
                                   "indices": [2, 3], "explanation": "the send of 7 was acknowledged"}]},
        allowed={"poll-skip": [{"kind": "poll-skip", "indices": [0], "explanation": "across a rebalance"}]},
        details={"unseen_over_time": [{"index": 3, "time": 10**9, "unseen": {"k1": 2}},
                                      {"index": 9, "time": 3 * 10**9, "unseen": {"k1": 1, "k2": 1}}]},
    ).to_json()
    res["checkers"]["quorum"] = CheckResult(
        False, anomalies={"I7-one-leader-per-epoch": [{"property": "I7-one-leader-per-epoch", "epoch": 3,
                                                       "servers": ["n1", "n2"],
                                                       "explanation": "n1 and n2 both led epoch 3"}]},
    ).to_json()
    (d / "results.json").write_text(json.dumps(res))
    page = write_run_report(d).read_text()
    assert "A value known to be committed was never read" in page
    assert "Here, the send of 7 was acknowledged" in page
    assert "poll-skip (allowed)" in page and "not counted" in page
    assert "Two servers were established leaders of the same epoch. Here, n1 and n2 both led epoch 3" in page
    assert 'src="unseen.png"' in page
    run = RunData(d)
    lost = next(a for v in build_views(run) for a in v.anomalies if a.kind == "lost-write")
    assert {o.invoke_index for o in lost.ops} | {o.complete_index for o in lost.ops} >= {2, 3}


def test_why_it_failed_comes_first_and_repeats_fold(runs, tmp_path):
    """A failing page says why near the top (each kind in a sentence, its first instance,
    operations, when and during which faults), client-visible kinds first; a kind found
    hundreds of times shows a few and folds the rest; zxids in hex, times in seconds."""
    d = _copy(runs["fail"], tmp_path / "why")
    run = RunData(d)
    op = run.operations[5]
    res = json.loads((d / "results.json").read_text())
    res["checkers"]["quorum"] = CheckResult(
        False, anomaly_counts={"quorum-commit": 725, "I9-acked-write-durability": 1},
        anomalies={
            "quorum-commit": [{"property": "quorum-commit", "node": "n5", "zxid": (1 << 32) + i, "acks": ["n5"],
                               "explanation": f"n5 committed 0x{(1 << 32) + i:x} with ACKs from ['n5'], fewer "
                                              f"than a quorum of 3"} for i in range(1, 51)],
            "I9-acked-write-durability": [{"property": "I9-acked-write-durability", "index": op.complete_index,
                                           "zxid": (2 << 32) + 4, "nodes": ["n1", "n2"],
                                           "explanation": "the write is missing from the final history"}],
        },
    ).to_json()
    res["checkers"]["session"] = CheckResult(
        False, anomalies={"expired-while-live": [{"kind": "expired-while-live", "session": 7, "node": "n2",
                                                  "time": 2_500_000_000, "idle": 598_668_415, "timeout": 2 * 10**9,
                                                  "explanation": "n2 expired session 7 0.599 s after hearing of it"}]},
    ).to_json()
    (d / "results.json").write_text(json.dumps(res))
    page = write_run_report(d).read_text()
    top = page[:page.index('id="repro"')]
    assert "Why it is invalid" in top and "quorum</a> found 726 anomalies of 2 kinds" in top
    # client-visible first: the lost acknowledged write names its operation
    assert top.index("I9-acked-write-durability") < top.index("quorum-commit")
    assert f"history {op.invoke_index}–{op.complete_index}" in top
    assert "725 found" in top and "First: n5 committed 0x100000001 with ACKs from {n5}" in top
    # the session expiry: when, and which fault windows were active then
    assert "At 2.500 s, " in top
    active = [w for w in run.windows if w.start <= 2_500_000_000 <= w.end]
    assert all(f'href="#fault-{w.name}"' in top for w in active)
    if not active:
        assert "with no fault active" in top
    assert "N2 expired" not in page and "n2 expired session 7" in page  # a name keeps its case
    # the card: three shown, the rest of the listed ones folded, the count the checker gave
    card = page[page.index('id="checker-quorum"'):]
    assert "× 725" in card and "47 more quorum-commit listed" in card
    assert "0x100000001 (epoch 1, counter 1)" in card and "0x200000004 (epoch 2, counter 4)" in card
    assert ">0.599 s<" in page and ">2.000 s<" in page


def test_liveness_failure_shows_the_final_attempts(runs, tmp_path):
    d = _copy(runs["pass"], tmp_path / "live")
    run = RunData(d)
    o = next(o for o in run.operations if o.start >= run.main_end)
    events = [json.loads(x) for x in (d / "history.jsonl").read_text().splitlines()]
    for e in events:
        if e["index"] == o.complete_index:
            e["type"] = "fail"
    (d / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    res = json.loads((d / "results.json").read_text())
    res["valid"] = False
    res["checkers"]["liveness"] = CheckResult(
        False, "the cluster did not serve again",
        details={"unserved": [{"client": f"c{o.process % 10}", "f": o.f, "key": o.key}]}).to_json()
    (d / "results.json").write_text(json.dumps(res))
    page = write_run_report(d).read_text()
    assert f"Client c{o.process % 10} never completed its final {o.f} of {o.key}" in page
    assert f"{o.invoke_index}–{o.complete_index}" in page


# ----------------------------------------------------------------------------- plots


def test_plots_written_and_stale_ones_removed(runs, tmp_path):
    d = _copy(runs["fail"], tmp_path / "plots")
    (d / "log-offsets.png").write_bytes(b"stale")
    written = write_plots(d)
    assert {"latency", "throughput", "partitions"} <= set(written)
    assert "log_offsets" not in written and not (d / "log-offsets.png").exists()
    for p in written.values():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_plots_in_two_processes_are_the_same_files(runs, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    a = write_plots(runs["fail"], one, jobs=1)
    b = write_plots(runs["fail"], two, jobs=2)
    assert list(a) == list(b) and {"latency", "partitions"} <= set(b)
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name


def test_plots_have_the_pixels_savefig_writes(runs, tmp_path, monkeypatch):
    """The PNGs reports.plots.png encodes hold what matplotlib's own savefig would have
    written: decoded, the same pixels (and the same dpi)."""
    import numpy as np
    from PIL import Image

    import reports.plots.style as style
    from reports.plots.writer import FILES

    (tmp_path / "ours").mkdir()
    (tmp_path / "savefig").mkdir()
    ours = write_plots(runs["fail"], tmp_path / "ours", jobs=1)
    for name in ("leaders", "operations", "partitions", "queue"):
        monkeypatch.setattr(f"reports.plots.{name}._save", lambda fig, path: fig.savefig(path, dpi=style.DPI) or path)
    theirs = write_plots(runs["fail"], tmp_path / "savefig", jobs=1)
    assert list(ours) == list(theirs) and {"latency", "throughput", "partitions"} <= set(ours)
    for name in ours:
        a, b = Image.open(ours[name]), Image.open(theirs[name])
        assert a.info.get("dpi") == pytest.approx(b.info.get("dpi"), abs=0.01), FILES[name]
        assert a.info.get("Software") == b.info.get("Software")
        assert np.array_equal(np.asarray(a.convert("RGBA")), np.asarray(b.convert("RGBA"))), FILES[name]


@pytest.mark.parametrize("opaque", [True, False])
def test_png_encoder_round_trips_pixels(tmp_path, opaque):
    import numpy as np
    from PIL import Image

    from reports.plots.png import write_png

    rng = np.random.default_rng(1)
    px = rng.integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    px[5:9] = px[4]  # repeated rows, as a plot has
    if opaque:
        px[:, :, 3] = 255
    img = Image.open(write_png(tmp_path / "x.png", px, 90, {"Software": "test"}))
    assert img.mode == ("RGB" if opaque else "RGBA") and img.info["Software"] == "test"
    assert img.info["dpi"] == pytest.approx((90, 90), abs=0.01)
    assert np.array_equal(np.asarray(img.convert("RGBA")), px)


def _zab_like_trace() -> list[dict]:
    s = 1_000_000_000
    return [
        {"time": 0, "node": "n1", "kind": "looking"}, {"time": 0, "node": "n2", "kind": "looking"},
        {"time": 0, "node": "n3", "kind": "looking"},
        {"time": 1 * s, "node": "n1", "kind": "leader_established", "epoch": 1},
        {"time": 1 * s, "node": "n2", "kind": "following", "leader": "n1", "epoch": 1},
        {"time": 1 * s, "node": "n3", "kind": "following", "leader": "n1", "epoch": 1},
        {"time": 4 * s, "node": "n1", "kind": "crash", "reason": "nemesis"},
        {"time": 4 * s, "node": "n2", "kind": "looking"}, {"time": 4 * s, "node": "n3", "kind": "looking"},
        {"time": 5 * s, "node": "n3", "kind": "leader_established", "epoch": 2},
        {"time": 5 * s, "node": "n2", "kind": "following", "leader": "n3", "epoch": 2},
        {"time": 6 * s, "node": "n1", "kind": "restart"},
        {"time": 7 * s, "node": "n1", "kind": "following", "leader": "n3", "epoch": 2},
        {"time": 7 * s, "node": "n1", "kind": "log_end", "partition": "t-0", "log_end_offset": 3, "high_watermark": 2},
        {"time": 8 * s, "node": "n2", "kind": "log_end", "partition": "t-0", "leo": 4, "hw": 4},
    ]


def test_leaders_and_log_offsets_from_a_trace(runs, tmp_path):
    d = _copy(runs["pass"], tmp_path / "zablike")
    (d / "trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _zab_like_trace()))
    run = RunData(d)
    segs = leader_segments(run)
    assert [(r, e) for _, _, r, e in segs["n1"]] == [("looking", None), ("leading", 1), ("down", None),
                                                     ("up", None), ("following", 2)]
    assert plot_leaders(run, d / "leaders.png") is not None
    assert plot_log_offsets(run, d / "log-offsets.png") is not None
    page = write_run_report(d).read_text()
    assert 'src="leaders.png"' in page and 'src="log-offsets.png"' in page
    assert "Leaders by epoch" in page
    # no Kafka fields, no Kafka plot, no error
    assert plot_log_offsets(RunData(runs["pass"]), tmp_path / "none.png") is None


def test_fault_windows_and_partition_words():
    faults = [
        {"time": 10, "kind": "partition", "episode": 1, "mode": "halves", "cut": [["n1", "n3"], ["n2", "n3"]]},
        {"time": 20, "kind": "kill", "episode": 2, "node": "n1", "changed": True},
        {"time": 30, "kind": "heal", "episode": 1},
        {"time": 35, "kind": "pause", "episode": 3, "node": "n2", "changed": False},
        {"time": 50, "kind": "heal-all"},
    ]
    ws = fault_windows(faults, 100, ["n1", "n2", "n3"])
    assert [(w.name, w.kind, w.start, w.end) for w in ws] == [("F1", "partition", 10, 30), ("F2", "kill", 20, 50),
                                                             ("F3", "pause", 35, 50)]
    assert not ws[2].changed
    assert "split into n1 n2 | n3" in ws[0].detail
    assert sorted(map(sorted, reach_groups([["n2", "n3"]], ["n1", "n2", "n3"]))) == [["n1", "n2"], ["n1", "n3"]]
    ring = describe_fault({"kind": "partition", "mode": "majority-ring",
                           "cut": [["n1", "n3"], ["n1", "n5"], ["n2", "n3"], ["n2", "n4"], ["n4", "n5"]]},
                          ["n1", "n2", "n3", "n4", "n5"])[1]
    assert "n1 → n2 n4" in ring


def test_power_cuts_and_slow_clocks_are_windows():
    s = 1_000_000_000
    faults = [
        {"time": 1 * s, "kind": "power-off", "episode": 1, "nodes": ["n3", "n1"]},
        {"time": 2 * s, "kind": "power-on", "episode": 1, "nodes": ["n1", "n3"]},
        {"time": 2 * s, "kind": "restart", "episode": 1, "node": "n1", "changed": True},
        {"time": 3 * s, "kind": "restart", "episode": 1, "node": "n3", "changed": True},
        # armed at a crash point, fires later: the window starts when it fires
        {"time": 4 * s, "kind": "power-off", "episode": 2, "node": "n2", "point": "commit", "armed": True},
        {"time": 6 * s, "kind": "power-cut", "episode": 2, "node": "n2", "point": "commit", "nodes": ["n2", "n1"]},
        {"time": 7 * s, "kind": "power-on", "episode": 2, "nodes": ["n2", "n1"]},
        {"time": 7 * s, "kind": "restart", "episode": 2, "node": "n2", "changed": True},
        # armed, never fired: a window without effect
        {"time": 5 * s, "kind": "power-off", "episode": 3, "node": "n3", "point": "ack", "armed": True},
        {"time": 8 * s, "kind": "power-on", "episode": 3, "nodes": [], "changed": False},
        {"time": 9 * s, "kind": "clock-skew", "episode": 4, "node": "n2", "ppm": -800_000},
        {"time": 9 * s, "kind": "clock-skew", "episode": 5, "node": "n3", "ppm": 50_000},
        {"time": 10 * s, "kind": "frobnicate", "episode": 6, "node": "n1"},  # a kind from a newer nemesis
        {"time": 11 * s, "kind": "unfrobnicate", "episode": 6, "node": "n1"},
        {"time": 12 * s, "kind": "heal-all"},
    ]
    ws = fault_windows(faults, 20 * s, ["n1", "n2", "n3"])
    got = [(w.name, w.family, w.start // s, w.end // s, w.changed) for w in ws]
    assert got == [("F1", "power", 1, 3, True), ("F2", "power", 5, 8, False), ("F3", "power", 6, 12, True),
                   ("F4", "slow", 9, 12, True), ("F5", "clock", 9, 12, True), ("F6", "other", 10, 11, True)]
    assert ws[0].label == "power off n1 n3" and "up one at a time: n1 n3" in ws[0].detail
    assert ws[2].label == "power off n1 n2 (n2 at commit)"
    assert "never fired" in ws[1].detail
    assert ws[3].label == "slow n2 20% speed"
    assert all(w.family in FAMILIES and w.family in FAMILY_COLOURS for w in ws)


def test_every_fault_kind_the_nemesis_makes_is_drawn(tmp_path):
    """Every fault kind harness.faults schedules opens a window of a known family (not
    "other") or closes one; a run with every nemesis family draws them all, named."""
    kinds = set()
    for seed in range(30):
        for f in generate_schedule(seed, family_names(), ["n1", "n2", "n3", "n4", "n5"], 60 * 10**9, 6.0,
                                   crash_points=("a", "b")):
            kinds.add(f.kind)
    for k in kinds:
        fam = fault_family({"kind": k, "args": ["n1", -800_000 if k == "clock-skew" else 1]})
        assert (fam in FAMILIES and fam != "other") or k in not_opening(), k
    assert {"power-off", "power-on"} <= kinds
    res = run_test(RunConfig(system="toy", nodes=3, time_limit=20, seed=2, nemesis=family_names()),
                   directory=tmp_path / "all")
    run = RunData(res.directory)
    fams = {w.family for w in run.windows}
    assert {"power", "slow", "partition"} <= fams and "other" not in fams
    assert {r["kind"] for r in run.faults} <= set(window_end()) | not_opening()
    page = write_run_report(res.directory).read_text()
    for w in run.windows:
        assert f"{w.name} " in page and str(escape(w.detail)) in page
    for fam in fams:
        assert f">{fam}</text>" in page  # a lane of the fault timeline
    assert (res.directory / "latency.png").exists()


# ----------------------------------------------------------------------------- campaigns


def _fake_campaign(tmp_path: Path, runs: dict) -> Path:
    c = tmp_path / "camp"
    (c / "runs").mkdir(parents=True)
    shutil.copytree(runs["fail"], c / "runs" / "3")
    shutil.copytree(runs["pass"], c / "runs" / "1")
    shutil.copytree(runs["local"], c / "runs" / "77")  # finished, but its index line was lost
    (c / "campaign.json").write_text(json.dumps({"name": XSS, "seed": 1, "runs": 4, "swarm": True,
                                                 "config": {"system": "toy", "nemesis": ["partition", XSS]}}))
    lines = [
        {"run": 0, "seed": 1, "run_dir": "runs/1"},  # an older index: no verdict, read results.json
        {"run": 1, "seed": 3, "valid": False, "failed": ["linearizable"], "anomalies": ["linearizable", XSS],
         "wall_s": 0.03, "run_dir": "runs/3"},
        {"run": 2, "seed": 5, "valid": "unknown", "error": XSS},  # crashed: no run dir, few fields
    ]
    (c / "index.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines) + '{"run": 3, "se')
    return c


def test_campaign_report(runs, tmp_path):
    c = _fake_campaign(tmp_path, runs)
    page = write_campaign_report(c, run_reports="failing").read_text()
    assert (c / "index.html").exists() and (c / "anomalies.png").exists()
    assert (c / "runs" / "3" / "report.html").exists()  # failing: rebuilt
    assert not (c / "runs" / "1" / "report.html").exists()  # passing: left alone
    assert XSS not in page and "<script" not in page and XSS_ESCAPED in page
    # failures first: the invalid seed, then the crashed one, then the valid ones
    body = page[page.index("<tbody>"):]
    assert body.index('id="seed-3"') < body.index('id="seed-5"') < body.index('id="seed-1"')
    assert 'id="seed-77"' in body and "(not in index)" in body
    assert "1 unreadable line(s)" in page
    # filter links for each anomaly kind, CSS-only
    assert 'href="#only-failing"' in page and 'href="#only-k0"' in page
    assert "#only-k0:target ~ table.runs tbody tr:not(.k0)" in page
    assert 'href="runs/3/report.html"' in page and 'href="runs/1/results.json"' in page
    assert "harness repro " + str((c / "runs" / "3").resolve()) in page
    # the failing run to start from, copyable in one piece near the top; the table's
    # commands may wrap after a slash
    top = page[:page.index('id="runs"')]
    assert f'<pre class="cmd" id="repro">harness repro {(c / "runs" / "3").resolve()}</pre>' in top
    assert "toy / ?, faults partition, " in top and "4 runs from seed 1" in top
    assert "/<wbr>" in body
    assert "partition" in body and "kill" in body  # fault kinds of the runs


def test_campaign_made_by_the_harness(tmp_path, capsys):
    rc = main(["campaign", "--system", "toy", "--nodes", "3", "--time-limit", "5", "--bug",
               "toy-async-backup-reads", "--nemesis", "partition,kill", "--runs", "4", "--jobs", "1",
               "--store", str(tmp_path), "--name", "c"])
    assert rc in (0, 1)
    capsys.readouterr()
    c = tmp_path / "campaigns" / "c"
    assert main(["report", str(c), "--no-plots"]) == 0
    assert capsys.readouterr().out.strip() == str(c / "index.html")
    entries = [json.loads(x) for x in (c / "index.jsonl").read_text().splitlines()]
    page = (c / "index.html").read_text()
    for e in entries:
        assert f'id="seed-{e["seed"]}"' in page
        has_report = (c / e["run_dir"] / "report.html").exists()
        assert has_report == (e["valid"] is not True)
    # a failing run shrunk where the README says (beside it, SEED.shrunk) is not a run of
    # the campaign: the page counted it (5 runs of 4 planned) and offered it as the run to
    # reproduce, seed 'SEED.shrunk'
    failing = next((e for e in entries if e["valid"] is False), None)
    if failing is not None:
        assert main(["shrink", str(c / failing["run_dir"]), "--budget", "2", "--no-report"]) == 0
        assert main(["report", str(c), "--no-plots"]) == 0
        capsys.readouterr()
        page = (c / "index.html").read_text()
        i = page.find(".shrunk")
        assert i < 0, page[i - 300:i + 100]
        assert f"{len(entries)} runs, " in page and "runs of" not in page


def test_explorative_campaign_page_says_what_runs_drew(tmp_path, capsys):
    # --nemesis left out: every run draws its families, size, interval and reads; the
    # base config's defaults (partition, kill, clock; 5 nodes) are what no run is bound to
    rc = main(["campaign", "--system", "zab", "--time-limit", "3", "--runs", "3", "--jobs", "1",
               "--store", str(tmp_path), "--name", "c", "--keep", "all"])
    assert rc in (0, 1)
    capsys.readouterr()
    c = tmp_path / "campaigns" / "c"
    assert main(["report", str(c), "--no-plots"]) == 0
    page = (c / "index.html").read_text()
    assert "each run draws its fault families" in page
    assert "faults partition, kill, clock" not in page
    assert "config.nodes</" in page and "drawn per run" in page
    assert "<th>drew</th>" in page
    for e in (json.loads(x) for x in (c / "index.jsonl").read_text().splitlines()):
        cfg = json.loads((c / e["run_dir"] / "config.json").read_text())
        row = page[page.index(f'id="seed-{e["seed"]}"'):]
        row = row[:row.index("</tr>")]
        assert f'{cfg["nodes"]} nodes, every {cfg["nemesis_interval"]:g} s, {cfg["reads"]} reads' in row


def test_pinned_campaign_page_names_its_faults(tmp_path, capsys):
    rc = main(["campaign", "--system", "zab", "--time-limit", "3", "--runs", "2", "--jobs", "1",
               "--nemesis", "partition,kill", "--store", str(tmp_path), "--name", "c"])
    assert rc in (0, 1)
    capsys.readouterr()
    c = tmp_path / "campaigns" / "c"
    assert main(["report", str(c), "--no-plots"]) == 0
    page = (c / "index.html").read_text()
    assert "faults partition, kill;" in page and "draws its fault families" not in page
    assert "<th>drew</th>" not in page


# ----------------------------------------------------------------------------- CLI


def test_cli_report_run_dir(runs, tmp_path, capsys):
    d = _copy(runs["fail"], tmp_path / "cli")
    assert main(["report", str(d)]) == 0
    assert capsys.readouterr().out.strip() == str(d / "report.html")
    assert (d / "latency.png").exists()


def test_cli_report_bad_input(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 254
    assert "no such directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 254
    err = capsys.readouterr().err
    assert "neither a run directory" in err and err.count("\n") == 1
    with pytest.raises(ConfigError):
        write_campaign_report(tmp_path)


# ----------------------------------------------------------------------------- in a browser


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _browse(page: Path, tmp: Path, shot: Path, size: str = "1400,2000") -> str:
    """Dump the DOM of ``page`` (after layout) and save a screenshot of it."""
    exe = _chromium()
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={tmp / 'chromium-profile'}"]
    url = page.resolve().as_uri()
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-2000:]
    shotrun = subprocess.run(flags + [f"--screenshot={shot}", f"--window-size={size}", url],
                             capture_output=True, text=True, timeout=90)
    assert shotrun.returncode == 0 and shot.exists(), shotrun.stderr[-2000:]
    keep = os.environ.get("REPORT_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    return dom.stdout


needs_chromium = pytest.mark.skipif(_chromium() is None, reason="chromium is not installed "
                                    "(Debian: apt-get install -y chromium)")


@needs_chromium
def test_failing_report_in_chromium(runs, tmp_path):
    d = _copy(runs["fail"], tmp_path / "browse")
    write_run_report(d)
    dom = _browse(d / "report.html", tmp_path, tmp_path / "run-report.png")
    assert "INVALID" in dom
    assert repro_command(d) in dom
    assert dom.index("Why it is invalid") < dom.index(repro_command(d))  # why first, then how to re-run
    run = RunData(d)
    for v in build_views(run):
        for a in v.anomalies:
            assert a.kind in dom
            for o in a.ops:
                assert f"{o.invoke_index}–{o.complete_index}" in dom
    assert "<svg" in dom and "operations around the linearizability failure" in dom
    assert (tmp_path / "run-report.png").stat().st_size > 20_000


@needs_chromium
def test_campaign_report_in_chromium(runs, tmp_path):
    c = _fake_campaign(tmp_path, runs)
    write_campaign_report(c)
    dom = _browse(c / "index.html", tmp_path, tmp_path / "campaign-report.png", size="1400,1200")
    assert "INVALID" in dom and XSS not in dom and "alert(1)" in dom  # shown as text, escaped
    assert "harness repro" in dom
