"""Hostile but fair input: one table line per case of issue 12, each with its exit code and
one line on stderr, never a traceback; plus fuzzing of config.json and history lines.

The CLI runs in-process (``harness.cli.main``) wherever no real exit or signal matters.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness.cli import main
from harness.config import RunConfig
from harness.runner import run_test

BUG = "toy-async-backup-reads"
DEEP = "[" * 5000 + "]" * 5000


@dataclass
class Ctx:
    """Paths the cases point at, built once per module."""

    tmp: Path
    failing: Path  # an INVALID toy run directory
    a_file: Path  # a regular file where a directory is wanted
    readonly: Path | None  # a read-only directory (None if this machine cannot make one)

    def run_copy(self, name: str, edit: Callable[[Path], None] | None = None) -> Path:
        d = self.tmp / "copies" / name
        if not d.exists():
            shutil.copytree(self.failing, d)
            if edit is not None:
                edit(d)
        return d

    def history(self, name: str, lines: list) -> Path:
        p = self.tmp / "histories" / name
        p.parent.mkdir(exist_ok=True)
        p.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
        return p

    def campaign(self, name: str, edit: Callable[[Path], None]) -> Path:
        store = self.tmp / "campaign-stores" / name
        if not store.exists():
            assert main(["campaign", "--system", "toy", "--time-limit", "1", "--runs", "2", "--jobs", "1",
                         "--store", str(store), "--name", "c", "--no-report"]) in (0, 1, 2)
            edit(store / "campaigns" / "c")
        return store


def _readonly_dir(base: Path) -> Path | None:
    d = base / "readonly"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o555)
        return d
    # root writes through permissions: a read-only tmpfs, if this machine lets us mount one
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(d)], capture_output=True)
    return d if r.returncode == 0 else None


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad-input")
    res = run_test(RunConfig(system="toy", time_limit=3, seed=2, bugs=(BUG,), nemesis=("partition",)),
                   directory=tmp / "failing")
    assert res.valid is False
    a_file = tmp / "a-file"
    a_file.write_text("not a directory\n")
    ro = _readonly_dir(tmp)
    ro_run = None
    if ro is not None and os.geteuid() != 0:  # chmod: put a run inside before locking it
        ro.chmod(0o755)
        ro_run = shutil.copytree(res.directory, ro / "run")
        ro.chmod(0o555)
        ro_run.chmod(0o555)
    c = Ctx(tmp, res.directory, a_file, ro)
    yield c
    if ro is not None:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(ro)], capture_output=True)
        else:
            for p in (ro / "run", ro):
                if p.exists():
                    p.chmod(0o755)


def _edit_config(**changes):
    def edit(d: Path) -> None:
        cfg = json.loads((d / "config.json").read_text())
        cfg.update(changes)
        (d / "config.json").write_text(json.dumps(cfg))
    return edit


def _edit_results(**changes):
    def edit(d: Path) -> None:
        res = json.loads((d / "results.json").read_text())
        res.update(changes)
        (d / "results.json").write_text(json.dumps(res))
    return edit


def _rm(name: str, empty: bool = False):
    def edit(d: Path) -> None:
        if empty:
            (d / name).write_text("")
        else:
            (d / name).unlink()
    return edit


def _ro_run(c: Ctx) -> Path:
    if c.readonly is None:
        pytest.skip("cannot make a read-only directory here")
    if os.geteuid() != 0:
        return c.readonly / "run"
    # a read-only tmpfs is empty: remount it writable, put the run in, lock it again
    subprocess.run(["mount", "-o", "remount,rw", str(c.readonly)], check=True)
    if not (c.readonly / "run").exists():
        shutil.copytree(c.failing, c.readonly / "run")
    subprocess.run(["mount", "-o", "remount,ro", str(c.readonly)], check=True)
    return c.readonly / "run"


def _ro(c: Ctx) -> Path:
    if c.readonly is None:
        pytest.skip("cannot make a read-only directory here")
    return c.readonly


def _queue(*events) -> list:
    return [{"index": 0, "process": 0, "type": "invoke", "f": "send", "key": "k", "value": 1},
            {"index": 1, "process": 0, "type": "ok", "f": "send", "key": "k", "value": 1, "offset": 0},
            *events]


def _append_history(line: str):
    def edit(d: Path) -> None:
        with open(d / "history.jsonl", "a") as f:
            f.write(line + "\n")
    return edit


def _truncate_history(d: Path) -> None:
    data = (d / "history.jsonl").read_bytes()
    (d / "history.jsonl").write_bytes(data[: len(data) // 2])


def _garble_history(d: Path) -> None:
    (d / "history.jsonl").write_bytes(b"\xff\xfe" + (d / "history.jsonl").read_bytes()[2:])


def _corrupt_index(d: Path) -> None:
    with open(d / "index.jsonl", "r+") as f:
        lines = f.read().splitlines()
        f.seek(0)
        f.write("\n".join(["{not json"] + lines) + "\n")


def _schedule_json(faults: list) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        (d / "schedule.json").write_text(json.dumps(faults))
    return edit


def _damage_line(name: str, **changes):
    """Change fields of the middle line of a run's JSON-lines file."""
    def edit(d: Path) -> None:
        rows = [json.loads(x) for x in (d / name).read_text().splitlines()]
        rows[len(rows) // 2].update(changes)
        (d / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return edit


def _epoch_a_list(d: Path) -> None:
    rows = [json.loads(x) for x in (d / "trace.jsonl").read_text().splitlines()]
    for r in rows:
        if "epoch" in r:
            r["epoch"] = [r["epoch"]]
    (d / "trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _numbers_for_names(d: Path) -> None:
    lines = [json.loads(x) for x in (d / "index.jsonl").read_text().splitlines()]
    lines[0]["failed"], lines[-1]["anomalies"] = 1, True
    (d / "index.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))


def _escape_index(d: Path) -> None:
    lines = [json.loads(x) for x in (d / "index.jsonl").read_text().splitlines()]
    for e in lines:
        e["run_dir"] = "../../../outside"
    (d / "index.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))


RUN = ["run", "--system", "zab", "--no-report", "--time-limit", "1"]

#: (id, argv from the context, expected exit, a fragment of the stderr line)
CASES: list[tuple[str, Callable[[Ctx], list[str]], int, str | None]] = [
    # bad input judged as a system bug
    ("set-tick-time-0", lambda c: RUN + ["--set", "tick_time=0"], 254, "tick_time"),
    ("set-tick-time-negative", lambda c: RUN + ["--set", "tick_time=-1"], 254, "tick_time"),
    ("set-counter-bits-0", lambda c: RUN + ["--set", "counter_bits=0"], 254, "counter_bits"),
    ("queue-on-zab", lambda c: RUN + ["--workload", "queue"], 254, "does not serve workload queue"),
    ("election-on-kafka", lambda c: RUN + ["--system", "kafka", "--workload", "election"], 254, "does not serve"),
    ("register-on-kafka", lambda c: RUN + ["--system", "kafka", "--workload", "register"], 254, "does not serve"),
    ("replication-above-brokers", lambda c: RUN + ["--system", "kafka", "--workload", "queue", "--nodes", "3",
                                               "--set", "replication_factor=5"], 254, "at most --nodes"),
    ("min-isr-above-replication", lambda c: RUN + ["--system", "kafka", "--workload", "queue",
                                               "--set", "min_insync_replicas=4"], 254, "replication_factor"),
    # bad input accepted silently
    ("set-reads-bogus", lambda c: RUN + ["--set", "reads=bogus"], 254, "reads"),
    ("set-fencing-maybe", lambda c: RUN + ["--workload", "election", "--set", "fencing=maybe"], 254, "true or false"),
    ("set-session-timeout-0", lambda c: RUN + ["--set", "session_timeout=0"], 254, "session_timeout"),
    ("set-snap-count-negative", lambda c: RUN + ["--set", "snap_count=-1"], 254, "snap_count"),
    ("fencing-with-register", lambda c: RUN + ["--fencing"], 254, "belongs to workload election"),
    ("repro-seed-float", lambda c: ["repro", str(c.run_copy("seed-float", _edit_config(seed=1.5)))], 254, "--seed"),
    ("queue-duplicate-index", lambda c: ["check", "--workload", "queue", str(c.history("dup-index.jsonl", _queue(
        {"index": 1, "process": 1, "type": "invoke", "f": "poll", "value": None})))], 254, "duplicate"),
    ("queue-string-index", lambda c: ["check", "--workload", "queue", str(c.history("str-index.jsonl", _queue(
        {"index": "2", "process": 1, "type": "invoke", "f": "poll", "value": None})))], 254, "index"),
    ("queue-list-process", lambda c: ["check", "--workload", "queue", str(c.history("list-process.jsonl", _queue(
        {"index": 2, "process": [0, 1], "type": "invoke", "f": "poll", "value": None})))], 254, "process"),
    ("queue-float-process", lambda c: ["check", "--workload", "queue", str(c.history("float-process.jsonl", _queue(
        {"index": 2, "process": 1.5, "type": "invoke", "f": "poll", "value": None})))], 254, "process"),
    ("queue-unknown-f", lambda c: ["check", "--workload", "queue", str(c.history("unknown-f.jsonl", _queue(
        {"index": 2, "process": 1, "type": "invoke", "f": "frobnicate", "value": None})))], 254, "frobnicate"),
    ("edn-list-process", lambda c: ["check", "--model", "register", str(c.history("list-process.edn", [
        "{:type :invoke, :f :write, :value 1, :process [0 1]}",
        "{:type :ok, :f :write, :value 1, :process [0 1]}"]))], 254, "process"),
    ("repro-truncated-history", lambda c: ["repro", str(c.run_copy("truncated", _truncate_history))],
     254, "history.jsonl is damaged"),
    ("repro-history-not-utf8", lambda c: ["repro", str(c.run_copy("not-utf8", _garble_history))],
     254, "history.jsonl is damaged"),
    ("report-results-checkers-not-an-object", lambda c: ["report", "--no-plots", str(c.run_copy(
        "checkers-int", _edit_results(checkers=1)))], 0, None),
    # an explicit schedule whose faults the nemesis cannot apply: a crash mid-simulation
    ("repro-schedule-bad-partition-args", lambda c: ["repro", str(c.run_copy("sched-args", _edit_config(
        schedule=[{"at": 0, "kind": "partition", "args": True, "episode": 1}])))], 254, "a partition takes"),
    ("repro-schedule-unknown-kind", lambda c: ["repro", str(c.run_copy("sched-kind", _edit_config(
        schedule=[{"at": 0, "kind": "meteor", "args": [], "episode": 1}])))], 254, "unknown fault kind 'meteor'"),
    ("repro-schedule-kill-a-number", lambda c: ["repro", str(c.run_copy("sched-kill", _edit_config(
        schedule=[{"at": 0, "kind": "kill", "args": [True], "episode": 1}])))], 254, "a kill takes [node]"),
    ("shrink-schedule-json-bad-strobe", lambda c: ["shrink", str(c.run_copy("sched-strobe", _schedule_json(
        [{"at": 0, "kind": "clock-strobe", "args": ["n1", 5, 0], "episode": 1}])))], 254, "schedule.json"),
    # damaged lines the page skips (and counts), each a crash of harness report before
    ("report-history-index-a-list", lambda c: ["report", str(c.run_copy("h-index", _damage_line(
        "history.jsonl", index=[1])))], 0, None),
    ("report-history-time-2-70", lambda c: ["report", str(c.run_copy("h-time", _damage_line(
        "history.jsonl", time=2**70)))], 0, None),
    ("report-faults-args-a-number", lambda c: ["report", "--no-plots", str(c.run_copy("f-args", _damage_line(
        "faults.jsonl", args=5)))], 0, None),
    ("report-trace-kind-a-list", lambda c: ["report", str(c.run_copy("t-kind", _damage_line(
        "trace.jsonl", kind=["x"])))], 0, None),
    ("export-history-type-an-object", lambda c: ["export", str(c.run_copy("h-type", _damage_line(
        "history.jsonl", type={"a": 1})))], 254, "bad or missing \"type\""),
    ("repro-invalid-results-deleted", lambda c: ["repro", str(c.run_copy("no-results", _rm("results.json")))],
     1, "checked again"),
    ("repro-invalid-results-empty", lambda c: ["repro", str(c.run_copy("empty-results", _rm("results.json", True)))],
     1, "checked again"),
    # tracebacks
    ("time-limit-1e300", lambda c: RUN[:-2] + ["--time-limit", "1e300"], 254, "--time-limit"),
    ("set-tick-time-abc", lambda c: RUN + ["--set", "tick_time=abc"], 254, "tick_time"),
    ("set-tick-time-null", lambda c: RUN + ["--set", "tick_time=null"], 254, "tick_time"),
    ("set-tick-time-object", lambda c: RUN + ["--set", 'tick_time={"a": {"b": 1}}'], 254, "tick_time"),
    ("set-tick-time-deep-list", lambda c: RUN + ["--set", f"tick_time={DEEP}"], 254, "tick_time"),
    ("check-initial-deep", lambda c: ["check", "--model", "register", "--initial", DEEP,
                                      str(c.history("one.jsonl", []))], 254, "--initial"),
    ("repro-config-wrong-types", lambda c: ["repro", str(c.run_copy("bad-types", _edit_config(nodes="five")))],
     254, "--nodes"),
    ("shrink-config-wrong-types", lambda c: ["shrink", str(c.run_copy("bad-types-2", _edit_config(
        settings=[1], clients="many")))], 254, "config.json"),
    ("report-config-wrong-types", lambda c: ["report", "--no-plots", str(c.run_copy("bad-types-3", _edit_config(
        time_limit="long")))], 254, "--time-limit"),
    ("export-config-wrong-types", lambda c: ["export", str(c.run_copy("bad-types-4", _edit_config(
        workload=["register"])))], 254, "config.json"),
    ("export-corrupt-history-line", lambda c: ["export", str(c.run_copy("corrupt-history", _append_history(
        "{bad")))], 254, "history.jsonl"),
    ("shrink-budget-inf", lambda c: ["shrink", str(c.failing), "--budget", "inf"], 254, "--budget"),
    ("run-store-is-a-file", lambda c: RUN + ["--store", str(c.a_file)], 254, "not a directory"),
    ("campaign-store-is-a-file", lambda c: ["campaign", "--system", "toy", "--runs", "1", "--store",
                                            str(c.a_file)], 254, "not a directory"),
    ("shrink-store-is-a-file", lambda c: ["shrink", str(c.failing), "--store", str(c.a_file)], 254, "not a directory"),
    ("shrink-run-dir-is-a-file", lambda c: ["shrink", str(c.a_file)], 254, "no run directory"),
    ("repro-run-dir-is-a-file", lambda c: ["repro", str(c.a_file)], 254, "no run directory"),
    ("report-dir-is-a-file", lambda c: ["report", str(c.a_file)], 254, "not a directory"),
    ("run-store-read-only", lambda c: RUN + ["--store", str(_ro(c))], 254, "writ"),
    ("campaign-store-read-only", lambda c: ["campaign", "--system", "toy", "--runs", "1", "--store",
                                            str(_ro(c))], 254, "writ"),
    ("shrink-store-read-only", lambda c: ["shrink", str(c.failing), "--store", str(_ro(c))], 254, "writ"),
    ("shrink-beside-read-only-run", lambda c: ["shrink", str(_ro_run(c))], 254, "writ"),
    ("report-read-only-run", lambda c: ["report", str(_ro_run(c))], 254, "writ"),
    ("index-corrupt-line", lambda c: ["campaign", "--store", str(c.campaign("corrupt", _corrupt_index)),
                                      "--name", "c", "--resume"], 254, "index.jsonl:1"),
    ("report-index-numbers-for-names", lambda c: ["report", "--no-plots", str(c.campaign(
        "numbers", _numbers_for_names) / "campaigns" / "c")], 0, None),
    ("campaign-name-300", lambda c: ["campaign", "--system", "toy", "--runs", "1", "--name", "x" * 300,
                                     "--store", str(c.tmp / "s")], 254, "campaign name"),
    ("run-seed-300-digits", lambda c: RUN + ["--seed", "9" * 300], 254, "--seed"),
    # unbounded
    ("time-limit-1e9", lambda c: RUN[:-2] + ["--time-limit", "1e9"], 254, "at most 3600"),
    ("clients-1000000", lambda c: RUN + ["--clients", "1000000"], 254, "from 1 to 1000,"),
    ("keys-100000000", lambda c: RUN + ["--keys", "100000000"], 254, "from 1 to 10000,"),
    ("check-dev-zero-model", lambda c: ["check", "--model", "register", "/dev/zero"], 254, "not a regular file"),
    ("check-dev-zero-queue", lambda c: ["check", "--workload", "queue", "/dev/zero"], 254, "not a regular file"),
    ("shrink-jobs-100000", lambda c: ["shrink", str(c.failing), "--jobs", "100000"], 254, "--jobs"),
]


@pytest.mark.parametrize("argv, code, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(ctx, capsys, argv, code, fragment):
    args = argv(ctx)
    capsys.readouterr()  # whatever building the context printed
    if args[0] in ("run", "campaign") and "--store" not in args:
        args += ["--store", str(ctx.tmp / "store")]
    got = main(args)
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert got == code, err
    assert "Traceback" not in err
    if fragment is None:  # a damaged file the command reads around: nothing to say
        assert lines == [], err
        return
    assert len(lines) == 1 and fragment in lines[0], err


def test_report_keeps_paths_from_the_index_inside_the_store(ctx, capsys):
    store = ctx.campaign("escape", _escape_index)
    outside = store.parent / "outside"  # where "../../../outside" leads from the campaign
    shutil.copytree(ctx.failing, outside, dirs_exist_ok=True)
    (outside / "report.html").unlink(missing_ok=True)
    assert main(["report", str(store / "campaigns" / "c"), "--runs", "all", "--no-plots"]) == 0
    capsys.readouterr()
    assert not (outside / "report.html").exists()
    assert (store / "campaigns" / "c" / "index.html").exists()


def test_repro_of_a_garbled_history_without_results_says_different(ctx, capsys):
    """No recorded sha256 to tell a damaged file from a run that does not reproduce: the
    difference is shown (exit 255), whatever bytes the file holds, never a traceback."""
    d = ctx.run_copy("not-utf8-no-results", lambda d: (_garble_history(d), _rm("results.json")(d)))
    assert main(["repro", str(d)]) == 255
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "DIFFERENT" in out and "differs first at line 1" in out


def test_report_of_a_zab_run_whose_trace_epochs_are_lists(tmp_path, capsys):
    """The leaders plot keyed its bars by epoch: a damaged trace line (an epoch that is a
    list) crashed harness report with TypeError (exit 255)."""
    res = run_test(RunConfig(system="zab", time_limit=3, seed=1), directory=tmp_path / "zab")
    _epoch_a_list(res.directory)
    assert main(["report", str(res.directory)]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and (res.directory / "leaders.png").exists(), err


def test_run_directories_are_readable_by_everyone(ctx):
    assert ctx.failing.stat().st_mode & 0o777 == 0o755


# ----------------------------------------------------------------------------- fuzzing

_json = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                   max_size=3),
                     max_leaves=8)
_fields = st.sampled_from(sorted(RunConfig().to_dict()) + ["bogus"])

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(changes=st.dictionaries(_fields, _json, min_size=1, max_size=3))
def test_fuzzed_config_json_is_a_verdict_or_254(ctx, capsys, changes):
    """repro of a run whose config.json was tampered with: 254 with one line (the history
    is gone, so a config that passes validation ends there too, before any simulation)."""
    d = ctx.tmp / "fuzz-run"
    d.mkdir(exist_ok=True)
    cfg = {**json.loads((ctx.failing / "config.json").read_text()), **changes}
    (d / "config.json").write_text(json.dumps(cfg))
    got = main(["repro", str(d)])
    err = capsys.readouterr().err
    assert got == 254 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


_event = st.fixed_dictionaries({}, optional={
    "index": st.integers(0, 6) | _json, "process": st.integers(0, 2) | _json,
    "type": st.sampled_from(["invoke", "ok", "fail", "info"]) | _json,
    "f": st.sampled_from(["send", "poll", "commit", "assign", "subscribe", "rebalance", "read", "write"]) | _json,
    "key": st.sampled_from(["k", "j"]) | _json, "value": _json, "offset": st.integers(0, 4) | _json,
    "rebalanced": _json})


@FUZZ
@given(events=st.lists(_event | _json, max_size=8), model=st.sampled_from(["queue", "register", "cas-register"]))
def test_fuzzed_history_lines_are_a_verdict_or_254(ctx, capsys, events, model):
    p = ctx.tmp / "fuzz.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in events))
    argv = ["check", "--workload", "queue", str(p)] if model == "queue" else ["check", "--model", model, str(p)]
    got = main(argv)
    err = capsys.readouterr().err
    assert got in (0, 1, 2, 254) and "Traceback" not in err, err
    if got == 254:
        assert len(err.strip().splitlines()) == 1, err
