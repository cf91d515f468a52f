"""The fast paths of issue 16 do what the plain ones did: the report process forked
before the run writes the same page and plots, rows are written as json.dumps writes
them, and the linearizability search's handling of interchangeable crashed operations
keeps every verdict while no longer searching every subset of them."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import threading
from pathlib import Path

import pytest

from checkers.history import pair_operations
from checkers.linearizable import check
from checkers.linearizable.models import CasRegister
from harness.config import RunConfig
from harness.runner import history_bytes, run_test
from harness.store import jsonl_text
from reports.prefork import ReportWorker
from reports.run_report import write_run_report

RUN = RunConfig(system="toy", nodes=3, time_limit=10, seed=3, nemesis=("partition", "kill"),
                bugs=("toy-async-backup-reads",))


def _page(path: Path) -> str:
    """The page without what differs between two writes of it (the time it was made)."""
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w*", "TIME", path.read_text())


# ------------------------------------------------------------------ prefork report


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_prefork_worker_writes_the_same_report(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_PREFORK", "1")
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # a thread another test left idle
    worker = ReportWorker.start()
    assert worker.pid is not None
    res = run_test(RUN, directory=tmp_path / "a")
    assert res.valid is False
    out = worker.finish(res.directory)
    assert worker.pid is None  # reaped
    shutil.copytree(res.directory, tmp_path / "b", ignore=shutil.ignore_patterns("*.png", "report.html"))
    plain = write_run_report(tmp_path / "b")
    assert _page(out) == _page(plain).replace(str(tmp_path / "b"), str(tmp_path / "a"))
    pngs = sorted(p.name for p in res.directory.glob("*.png"))
    assert pngs and pngs == sorted(p.name for p in (tmp_path / "b").glob("*.png"))
    for name in pngs:
        assert (res.directory / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_prefork_worker_closed_without_a_run_is_killed_and_reaped(monkeypatch):
    monkeypatch.setenv("REPORT_PREFORK", "1")
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    worker = ReportWorker.start()
    pid = worker.pid
    assert pid is not None
    worker.close()
    assert worker.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no such child


def test_prefork_off_writes_the_report_here(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_PREFORK", "0")
    worker = ReportWorker.start()
    assert worker.pid is None
    res = run_test(RUN, directory=tmp_path / "a")
    assert worker.finish(res.directory) == res.directory / "report.html"
    assert (res.directory / "report.html").exists()


# ---------------------------------------------------------------------- rows


def test_jsonl_text_is_what_json_dumps_writes():
    rows = [{"time": 1, "node": "n1", "kind": "x", "f": 1.5, "s": "é\"\n", "l": [1, None, True, False],
             "d": {"k": {"n": []}}, "inf": float("inf"), "big": 10**30}, {}]
    assert jsonl_text(rows) == "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)
    assert jsonl_text(iter(rows)) == jsonl_text(rows)
    assert history_bytes(rows) == jsonl_text(rows).encode()
    with pytest.raises(TypeError):
        jsonl_text([{"x": object()}])
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError):
        jsonl_text([{"x": loop}])


# ------------------------------------------------------- interchangeable info ops


def _crashed_writes_then(read_value: int, n_info: int) -> list[dict]:
    """Process 0 writes 1 and crashes ``n_info`` times (each crash a new process), then
    process 1000 reads ``read_value``. The crashed writes are all alike."""
    events = []
    for p in range(n_info):
        events.append({"process": p, "type": "invoke", "f": "write", "value": 1})
        events.append({"process": p, "type": "info", "f": "write", "value": 1})
    events.append({"process": 1000, "type": "invoke", "f": "read", "value": None})
    events.append({"process": 1000, "type": "ok", "f": "read", "value": read_value})
    return events


def test_alike_crashed_writes_are_not_searched_subset_by_subset():
    # 24 alike crashed writes and a read no write explains: 2^24 subsets without the
    # twin rule; with it the search is done in a few steps either way
    assert check(_crashed_writes_then(2, 24), "cas-register", initial=0, max_steps=50_000).valid is False
    assert check(_crashed_writes_then(1, 24), "cas-register", initial=0, max_steps=50_000).valid is True
    assert check(_crashed_writes_then(0, 24), "cas-register", initial=0, max_steps=50_000).valid is True


class _Unpure(CasRegister):
    """The same model, every info op its own class: the search without the twin rule."""

    name = "cas-register-unpure-test"
    pure_compile = False


def _random_history(rng: random.Random, n: int) -> list[dict]:
    """A small register history, often not linearizable: random values, ~30% crashed."""
    events, open_ = [], {}
    next_p = 0
    procs = list(range(4))
    next_p = 4
    for _ in range(n):
        p = rng.choice(procs)
        if p in open_:
            f, v = open_.pop(p)
            r = rng.random()
            if r < 0.3:
                events.append({"process": p, "type": "info", "f": f, "value": v})
                procs[procs.index(p)] = next_p
                next_p += 1
            else:
                out = rng.randrange(3) if f == "read" else v
                events.append({"process": p, "type": "ok", "f": f, "value": out})
        else:
            f = rng.choice(["read", "write", "write", "cas"])
            v = None if f == "read" else rng.randrange(3) if f == "write" else [rng.randrange(3), rng.randrange(3)]
            open_[p] = (f, v)
            events.append({"process": p, "type": "invoke", "f": f, "value": v})
    return events


def test_twin_rule_changes_no_verdict():
    rng = random.Random(16)
    seen = set()
    for _ in range(300):
        events = _random_history(rng, rng.randrange(6, 40))
        ops = pair_operations(events)
        a = check(ops, "cas-register", initial=0).valid
        b = check(ops, _Unpure(), initial=0).valid
        assert a == b, events
        seen.add(a)
    assert seen == {True, False}
