"""The fast paths of issue 16 do what the plain ones did: the report process forked
before the run writes the same page and plots, rows are written as json.dumps writes
them, and the linearizability search's handling of interchangeable crashed operations
keeps every verdict while no longer searching every subset of them."""

from __future__ import annotations

import json
import os
import random
import threading

import pytest
from pagecheck import assert_same_as_rebuilt

from checkers.history import HistoryError, pair_operations
from checkers.linearizable import check
from checkers.linearizable.models import CasRegister
from harness.config import RunConfig
from harness.runner import history_bytes, run_test
from harness.store import jsonl_text
from reports.prefork import ReportWorker

RUN = RunConfig(system="toy", nodes=3, time_limit=10, seed=3, nemesis=("partition", "kill"),
                bugs=("toy-async-backup-reads",))


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
    assert_same_as_rebuilt(res.directory, out, tmp_path / "b")


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


# ------------------------------------------------------------------ pairing and checking without Op values


def _op_of(model: str, rng: random.Random) -> tuple[str, object, object]:
    """(f, key, value) of a random invoke of ``model``."""
    if model == "kv":
        f = rng.choice(["get", "put", "append"])
        return f, rng.choice(["x", "y", ["z", 1]]), None if f == "get" else rng.choice(["a", "b"])
    if model in ("register", "cas-register"):
        f = rng.choice(["read", "write", "cas"] if model == "cas-register" else ["read", "write"])
        v = None if f == "read" else rng.randrange(3) if f == "write" else [rng.randrange(3), rng.randrange(3)]
        return f, rng.choice(["x", "y", ["z", 1]]), v
    if model == "set":
        f = rng.choice(["read", "add"])
        return f, None, None if f == "read" else rng.randrange(3)
    if model == "fifo-queue":
        f = rng.choice(["enqueue", "dequeue"])
        return f, None, None if f == "dequeue" else rng.randrange(2)
    if model == "mutex":
        return rng.choice(["acquire", "release"]), None, None
    assert model == "multi-register"
    return "txn", None, [[rng.choice(["read", "write"]), rng.choice(["x", "y"]), rng.randrange(2)]]


def _ok_value(model: str, f: str, v: object, rng: random.Random) -> object:
    """What an ok completion carries: the argument, or a read's value, right or wrong."""
    if model == "kv" and f == "get":
        return rng.choice(["", "a", "ab", "b", "ba"])
    if f == "read":
        return sorted(rng.sample(range(3), rng.randrange(3))) if model == "set" else rng.randrange(3)
    if f == "dequeue":
        return rng.choice([None, 0, 1])
    if f == "txn":
        return [[m[0], m[1], rng.randrange(2) if m[0] == "read" else m[2]] for m in v]  # type: ignore[attr-defined]
    return v


def _mixed_history(rng: random.Random, n: int, model: str) -> list[dict]:
    """Events of ``model`` (keyed models on a few keys), with nemesis events, failed,
    crashed and never-completed ops, keys now on the invoke and now only on the completion,
    and reads that return values nothing wrote: valid and invalid histories alike."""
    events: list[dict] = []
    open_: dict[int, tuple] = {}
    procs = list(range(4))
    next_p = 4

    def add(p, typ, f, key, value, key_on_invoke=True):
        e = {"index": len(events), "time": len(events), "process": p, "type": typ, "f": f, "value": value}
        if key is not None and (typ != "invoke" or key_on_invoke):
            e["key"] = key
        events.append(e)

    for _ in range(n):
        if rng.random() < 0.05:
            add("nemesis", "info", "kill", None, None)
            continue
        p = rng.choice(procs)
        if p in open_:
            f, key, v = open_.pop(p)
            r = rng.random()
            if r < 0.15:
                add(p, "info", f, key, v)
                procs[procs.index(p)] = next_p
                next_p += 1
            elif r < 0.25:
                add(p, "fail", f, key, v)
            else:
                add(p, "ok", f, key, _ok_value(model, f, v, rng))
        else:
            f, key, v = _op_of(model, rng)
            open_[p] = (f, key, v)
            add(p, "invoke", f, key, v, key_on_invoke=rng.random() < 0.8)
    return events


def test_one_pass_pairing_is_the_general_pairing():
    from checkers.history import Op, _in_index_order, _pair, pair_records, pair_records_in_order

    rng = random.Random(1616)
    took_fast = 0
    for _ in range(400):
        events = _mixed_history(rng, rng.randrange(0, 40), rng.choice(["kv", "register", "set"]))
        general = _pair(_in_index_order(events))
        fast = pair_records_in_order(events)
        if fast is not None:
            took_fast += 1
            assert fast == general
        assert pair_records(events) == general
        # out of index order, or without indices: the general pass, the same records
        shuffled = events[:]
        rng.shuffle(shuffled)
        assert pair_records(shuffled) == general
        assert pair_records([{k: v for k, v in e.items() if k != "index"} for e in events]) == [
            (*rec[:8], None, None) for rec in general]
        ops = pair_operations(events)
        assert ops == [Op(i, *rec) for i, rec in enumerate(general)]
    assert took_fast > 300


def test_pairing_errors_are_the_general_ones():
    def ev(i, p, typ, **extra):
        return {"index": i, "process": p, "type": typ, "f": "read", "value": None, **extra}

    cases = [
        ([ev(0, 0, "invoke"), ev(1, 0, "invoke")], "index 1: process 0 invokes while its operation at index 0"),
        ([ev(0, 0, "ok")], "index 0: ok for process 0 with no open invoke"),
        ([ev(0, 0, "invoke"), ev(1, 0, "done")], "index 1: bad type 'done'"),
        ([ev(0, 0, "invoke"), ev(0, 0, "ok")], 'duplicate "index" 0'),
        ([ev(0, 0, "invoke"), {"process": 0, "type": "ok", "f": "read"}], 'event 1: some events have an "index"'),
    ]
    for events, message in cases:
        with pytest.raises(HistoryError) as info:
            pair_operations(events)
        assert str(info.value).startswith(message)


@pytest.mark.parametrize("model", ["kv", "register", "cas-register", "set", "fifo-queue", "mutex", "multi-register"])
def test_checking_records_is_checking_ops(model):
    """check() on events (paired into records, no Op per operation) gives the very result
    check() on their Op values does: verdict, counterexample, prefix, pending, state."""
    rng = random.Random(len(model))
    seen = set()
    for _ in range(150):
        events = _mixed_history(rng, rng.randrange(2, 30), model)
        a = check(events, model)
        b = check(pair_operations(events), model)
        assert a.to_json() == b.to_json(), events
        assert a.op == b.op and a.pending == b.pending
        seen.add(a.valid)
    assert seen == {True, False}


def test_a_rejected_op_is_named_as_before():
    """An op the model does not know: the same ModelError, naming the first such op of the
    first partition, with or without the records path."""
    from checkers.linearizable import ModelError

    events = []
    for i, (key, f, value) in enumerate([("x", "put", "a"), ("y", "cas", ["a", "b"]), ("x", "append", 3)]):
        events += [{"index": 2 * i, "process": i, "type": "invoke", "f": f, "key": key, "value": value},
                   {"index": 2 * i + 1, "process": i, "type": "ok", "f": f, "key": key, "value": value}]
    with pytest.raises(ModelError) as on_events:
        check(events, "kv")
    with pytest.raises(ModelError) as on_ops:
        check(pair_operations(events), "kv")
    assert str(on_events.value) == str(on_ops.value)
    assert "appends strings only" in str(on_events.value) and "key=\"x\"" in str(on_events.value)


def test_events_that_are_not_all_dicts_are_refused_as_before():
    class Event(dict):
        pass

    class Mapping:
        def __init__(self, d):
            self.d = d

        def __getitem__(self, k):
            return self.d[k]

    events = _mixed_history(random.Random(3), 20, "kv")
    subclassed = [Event(e) for e in events]
    assert check(subclassed, "kv").to_json() == check(events, "kv").to_json()
    with pytest.raises(HistoryError, match="wants a list of event dicts"):
        check(events[:-1] + [Mapping(events[-1])], "kv")
    with pytest.raises(HistoryError, match="wants a list of event dicts"):
        check([Mapping(e) for e in events], "kv")


# --------------------------------------------------- pairing, compiling and partitioning in one pass


def _step_of(fn):
    """What a compiled step is: its code and the values it was made with."""
    return fn.__code__, fn.__defaults__, tuple(c.cell_contents for c in fn.__closure__ or ())


@pytest.mark.parametrize("model", ["kv", "register", "cas-register", "set", "fifo-queue", "mutex", "multi-register"])
def test_one_pass_parts_are_pairing_then_partitioning(model):
    """`event_parts` gives what `pair_records` and then `_record_parts` give, with invoke
    positions for op ids: partitions, their order and keys, ops, calls, returns, steps,
    info classes, the op count, and the records of any ops asked for."""
    from checkers.history import pair_records
    from checkers.linearizable.columns import event_parts
    from checkers.linearizable.models import RECORD_MODELS, get_model
    from checkers.linearizable.search import _record_parts, _value_class

    mdl = get_model(model)
    by_key = RECORD_MODELS[type(mdl)]
    rng = random.Random(7 + len(model))
    took = 0
    for _ in range(200):
        events = _mixed_history(rng, rng.randrange(0, 40), model)
        if rng.random() < 0.3:  # keys of equal value and another type: 1.0 for 1, True for 1
            for e in events:
                if e.get("key") == ["z", 1]:
                    e["key"] = ["z", rng.choice([1, 1.0, True])]
        records = pair_records(events)
        want = _record_parts(records, mdl, by_key)
        got = event_parts(events, mdl.compile_value, by_key)
        if want is None:  # an op the model rejects: the one pass refuses too
            assert got is None
            continue
        assert got is not None, events
        took += 1
        parts, classes, n_ops, records_at = got
        assert n_ops == len(records)
        id_of = {rec[5]: i for i, rec in enumerate(records)}
        assert len(parts) == len(want)
        for p, w in zip(parts, want):
            key, ok_ops, ok_call, ok_ret, ok_fns, info_ops, info_call, info_fns = p
            assert key == w[0] and type(key) is type(w[0])
            assert [id_of[c] for c in ok_ops] == list(w[1]) and list(ok_call) == list(w[2])
            assert list(ok_ret) == list(w[3])
            assert list(map(_step_of, ok_fns)) == list(map(_step_of, w[4]))
            assert [id_of[c] for c in info_ops] == list(w[5]) and list(info_call) == list(w[6])
            assert list(map(_step_of, info_fns)) == list(map(_step_of, w[7]))
            assert [classes[c] for c in info_ops] == [_value_class(records[i]) for i in w[5]]
        positions = [rec[5] for rec in records]
        rng.shuffle(positions)
        for some in (positions[:2], positions):  # few: paired again one by one; many: all paired
            assert records_at(some) == [(id_of[c], records[id_of[c]]) for c in some]
    assert took > 150


def test_one_pass_refuses_what_is_not_the_usual_history():
    from checkers.linearizable.columns import event_parts
    from checkers.linearizable.models import get_model

    compile_value = get_model("kv").compile_value
    events = _mixed_history(random.Random(5), 30, "kv")
    assert event_parts(events, compile_value, True) is not None
    swapped = events[:]
    swapped[3], swapped[4] = swapped[4], swapped[3]
    assert event_parts(swapped, compile_value, True) is None  # indices out of order
    assert event_parts([{k: v for k, v in e.items() if k != "index"} for e in events], compile_value, True) is None
    assert event_parts(events[:-1] + [list(events[-1].items())], compile_value, True) is None
    doubled = events + [{**events[0], "index": 10**6}, {**events[0], "index": 10**6 + 1}]
    assert event_parts(doubled, compile_value, True) is None or doubled[-1]["type"] != "invoke"
    bad_f = [{**e, "f": "cas"} if e["type"] == "invoke" and e["process"] != "nemesis" else e for e in events]
    assert event_parts(bad_f, compile_value, True) is None  # kv has no cas: the model's error, the old way


def _sequential_kv(n_ops: int, n_keys: int, bad_key: int) -> list[dict]:
    """One client putting to and then getting each of ``n_keys`` keys in turn, the last
    get of key ``bad_key`` reading a value never written."""
    events: list[dict] = []
    for i in range(n_ops):
        key, put = str(i % n_keys), (i // n_keys) % 2 == 0
        f, value = ("put", f"v{i}") if put else ("get", f"v{i - n_keys}")
        events.append({"index": len(events), "process": 0, "type": "invoke", "f": f, "key": key,
                       "value": value if put else None})
        events.append({"index": len(events), "process": 0, "type": "ok", "f": f, "key": key, "value": value})
    assert check(events, "kv").valid is True
    for e in reversed(events):
        if e["type"] == "ok" and e["f"] == "get" and e["key"] == str(bad_key):
            e["value"] = "never written"
            break
    return events


@pytest.mark.parametrize("n_keys, paired_whole", [(1, True), (2, True), (40, False)])
def test_one_pass_counterexample_is_the_op_paths(n_keys, paired_whole, monkeypatch):
    """A counterexample with a long prefix (its records paired all at once) and one with
    a short one in a long history (paired one by one) name the ops the `Op` path names."""
    from checkers.linearizable import columns

    events = _sequential_kv(400, n_keys, bad_key=n_keys - 1)
    whole: list[int] = []
    real = columns.pair_records
    monkeypatch.setattr(columns, "pair_records", lambda ev: whole.append(1) or real(ev))
    a = check(events, "kv")
    b = check(pair_operations(events), "kv")
    assert a.valid is False
    assert a.to_json() == b.to_json()
    assert a.op == b.op and a.pending == b.pending
    assert bool(whole) is paired_whole

