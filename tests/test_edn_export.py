"""history.edn (harness/export.py): Jepsen's op maps that Knossos and Elle read, and the
same operations as history.jsonl, read back through edn-format and the project's reader."""

from __future__ import annotations

import json
from pathlib import Path

import edn_format
import pytest

from checkers.history import load_history
from harness.cli import main
from harness.export import edn_op, history_edn, read_history_edn

K = edn_format.Keyword


def _run(tmp_path: Path, system: str, workload: str, *extra: str) -> Path:
    store = tmp_path / "store"
    args = ["run", "--system", system, "--workload", workload, "--seed", "3", "--time-limit", "6",
            "--nemesis", "partition,kill,crash", "--store", str(store), "--no-report", *extra]
    assert main(args) in (0, 1, 2)
    (run_dir,) = (store / "runs").iterdir()
    return run_dir


def _jsonl(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def _ops(run_dir: Path) -> list:
    return list(edn_format.loads_all((run_dir / "history.edn").read_text()))


def _check_jepsen_shape(ops: list, events: list[dict]) -> None:
    """Every op is a map with Jepsen's keys: keyword :type and :f, integer :process and
    :index, the :time of its event, in history.jsonl's order."""
    assert len(ops) == len(events) > 20
    for op, e in zip(ops, events):
        assert op[K("type")] == K(e["type"]) and op[K("type")].name in ("invoke", "ok", "fail", "info")
        assert op[K("f")] == K(e["f"])
        assert isinstance(op[K("process")], int) and op[K("process")] == e["process"]
        assert op[K("index")] == e["index"] and op[K("time")] == e["time"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("edn")
    out = {"register": _run(tmp / "r", "zab", "register", "--edn"), "election": _run(tmp / "e", "zab", "election")}
    out["queue"] = _run(tmp / "q", "kafka", "queue")
    for workload in ("election", "queue"):  # written afterwards, by the export command
        assert main(["export", str(out[workload])]) == 0
    return out


@pytest.mark.parametrize("workload", ["register", "election", "queue"])
def test_edn_reads_back_as_the_jsonl_history_op_by_op(runs: dict[str, Path], workload: str) -> None:
    run_dir = runs[workload]
    events = _jsonl(run_dir)
    _check_jepsen_shape(_ops(run_dir), events)
    back = read_history_edn(run_dir / "history.edn", workload)
    for a, b in zip(back, events):
        assert a == b
    assert len(back) == len(events)


def test_register_values_are_independent_tuples_for_knossos(runs: dict[str, Path]) -> None:
    run_dir = runs["register"]
    events = _jsonl(run_dir)
    for op, e in zip(_ops(run_dir), events):
        key, value = op[K("value")]  # jepsen.independent: [key value]
        assert key == e["key"]
        if e["f"] == "cas":
            assert list(value) == e["value"] and len(value) == 2  # [old new]
        else:
            assert value == e["value"]
    # and the project's own EDN reader takes it as the same keyed history
    assert load_history(run_dir / "history.edn") == events


def test_election_history_through_the_project_reader(runs: dict[str, Path]) -> None:
    run_dir = runs["election"]
    assert load_history(run_dir / "history.edn") == _jsonl(run_dir)


def test_queue_ops_are_jepsen_kafka_micro_ops(runs: dict[str, Path]) -> None:
    run_dir = runs["queue"]
    seen = set()
    for op, e in zip(_ops(run_dir), _jsonl(run_dir)):
        value = op[K("value")]
        if e["f"] == "send":
            ((mop, key, v),) = value
            assert mop == K("send") and key == e["key"]
            if e["type"] == "ok":
                assert list(v) == [e["offset"], e["value"]]  # Jepsen: [offset value]
            else:
                assert v == e["value"]
            seen.add(("send", e["type"]))
        elif e["f"] == "poll":
            (mop, *rest) = value[0]
            assert mop == K("poll")
            if e["type"] == "ok":
                assert {k: [list(r) for r in rs] for k, rs in rest[0].items()} == e["value"]
            seen.add(("poll", e["type"]))
    assert {("send", "invoke"), ("send", "ok"), ("poll", "invoke"), ("poll", "ok")} <= seen


def test_shapes_exactly() -> None:
    send_ok = {"index": 3, "time": 5, "process": 1, "type": "ok", "f": "send", "key": "k0", "value": 9, "offset": 7}
    poll_ok = {"index": 4, "time": 6, "process": 2, "type": "ok", "f": "poll", "value": {"k0": [[7, 9]]}}
    cas = {"index": 0, "time": 1, "process": 0, "type": "invoke", "f": "cas", "key": "x1", "value": [1, 2]}
    info = {"index": 1, "time": 2, "process": 5, "type": "info", "f": "write", "key": "x2", "value": 3,
            "error": "timeout"}
    assert history_edn([send_ok, poll_ok], "queue") == (
        '{:index 3 :time 5 :type :ok :process 1 :f :send :value [[:send "k0" [7 9]]]}\n'
        '{:index 4 :time 6 :type :ok :process 2 :f :poll :value [[:poll {"k0" [[7 9]]}]]}\n'
    )
    assert history_edn([cas, info], "register") == (
        '{:index 0 :time 1 :type :invoke :process 0 :f :cas :value ["x1" [1 2]]}\n'
        '{:index 1 :time 2 :type :info :process 5 :f :write :value ["x2" 3] :error "timeout"}\n'
    )
    # a send that never got an offset keeps its plain value; a non-client process is a keyword
    assert edn_op({"type": "info", "process": "nemesis", "f": "send", "key": "k", "value": 1}, "queue")[K("value")] == [
        [K("send"), "k", 1]
    ]
    nemesis_op = edn_op({"type": "info", "process": "nemesis", "f": "start", "value": None}, "election")
    assert nemesis_op[K("process")] == K("nemesis")


def test_export_of_a_directory_without_history_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["export", str(tmp_path)]) == 254
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no history.jsonl" in err


def test_harness_check_reads_an_exported_queue_history(runs: dict[str, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    """``harness check --workload queue`` judges history.edn as it judges history.jsonl, a
    broken history too: the first value every poll returned is taken out of it."""
    events = _jsonl(runs["queue"])
    taken = None
    for e in events:
        if e["f"] == "poll" and e["type"] == "ok" and e["value"]:
            for key, records in e["value"].items():
                if taken is None and records:
                    taken = (key, records[0][0])
                e["value"][key] = [r for r in records if (key, r[0]) != taken]
    assert taken is not None
    jsonl, edn = tmp_path / "broken.jsonl", tmp_path / "broken.edn"
    jsonl.write_text("".join(json.dumps(e) + "\n" for e in events))
    edn.write_text(history_edn(events, "queue"))
    verdicts = []
    for path in (runs["queue"] / "history.edn", jsonl, edn):
        code = main(["check", "--workload", "queue", "--json", str(path)])
        out = capsys.readouterr()
        assert "Traceback" not in out.err, out.err
        verdicts.append((code, {k: v for k, v in json.loads(out.out).items() if k != "file"}))
    assert verdicts[0] == (0, {"valid": True, "anomalies": {}})
    assert verdicts[1][0] == 1 and verdicts[1][1]["anomalies"], verdicts[1]
    assert verdicts[2] == verdicts[1]


@pytest.mark.parametrize("value", ["[[:send 1 5] [:send 2 6]]", "5", "[[:poll]]"])
def test_a_queue_edn_send_that_is_not_one_send_micro_op_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                   value: str) -> None:
    p = tmp_path / "txn.edn"
    p.write_text(f"{{:index 0 :type :invoke :process 0 :f :send :value {value}}}\n")
    assert main(["check", "--workload", "queue", str(p)]) == 254
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a send must hold one [:send ...] micro-op" in err, err


def test_a_queue_edn_txn_is_refused_saying_why(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Jepsen's Kafka test writes :txn operations; the error said only 'bad or missing "f"'."""
    p = tmp_path / "txn.edn"
    p.write_text("{:index 0 :type :invoke :process 0 :f :txn :value [[:send 1 5] [:poll]]}\n")
    assert main(["check", "--workload", "queue", str(p)]) == 254
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a :txn (a transaction of micro-ops) is not supported" in err, err


def test_an_export_cut_short_leaves_the_old_file(runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """history.edn is written aside and renamed into place: a disk that fills up halfway
    left a truncated file, which `harness check` then read as a shorter history."""
    import harness.export as export

    run_dir = runs["election"]
    before = (run_dir / "history.edn").read_text()
    real = Path.write_text

    def half_then_full(self: Path, text: str, *a: object, **kw: object) -> int:
        real(self, text[: len(text) // 2], *a, **kw)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_full)
    with pytest.raises(OSError):
        export.write_history_edn(run_dir)
    monkeypatch.undo()
    assert (run_dir / "history.edn").read_text() == before
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []
