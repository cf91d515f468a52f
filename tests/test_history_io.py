"""Loading histories (JSONL, EDN) and pairing events into operations, Jepsen style."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from checkers.history import INFINITY, HistoryError, Op, freeze, load_history, pair_operations, thaw


def write_jsonl(path: Path, events: list) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def ev(index, process, type_, f, value=None, **extra) -> dict:
    return {"index": index, "time": 1000 + index, "process": process, "type": type_, "f": f, "value": value, **extra}


# --------------------------------------------------------------------------- JSONL


def test_jsonl_round_trip_ignores_extra_fields_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(
        json.dumps(ev(0, 1, "invoke", "write", 3, node="n2", extra={"a": 1})) + "\n\n"
        + json.dumps(ev(1, 1, "ok", "write", 3, node="n2")) + "\n"
    )
    events = load_history(path)
    assert [e["type"] for e in events] == ["invoke", "ok"]
    (op,) = pair_operations(events)
    assert (op.f, op.value, op.type, op.call, op.ret) == ("write", 3, "ok", 0, 1)


@pytest.mark.parametrize(
    "line,fragment",
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "not an object"),
        ('{"index": 1, "process": 1, "type": "done", "f": "read"}', '"type"'),
        ('{"index": 1, "type": "ok", "f": "read"}', '"process"'),
        ('{"index": 1, "process": 1.5, "type": "ok", "f": "read"}', '"process"'),
        ('{"index": "1", "process": 1, "type": "ok", "f": "read"}', '"index"'),
        ('{"index": 1, "process": 1, "type": "ok"}', '"f"'),
    ],
)
def test_jsonl_malformed_line_names_file_and_line(tmp_path: Path, line: str, fragment: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ev(0, 1, "invoke", "read")) + "\n" + line + "\n")
    with pytest.raises(HistoryError) as info:
        load_history(path)
    message = str(info.value)
    assert message.startswith(f"{path}:2: ")
    assert fragment in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no such file"):
        load_history(tmp_path / "nope.jsonl")


# --------------------------------------------------------------------------- EDN


def test_edn_keywords_become_strings_and_nemesis_is_a_string_process(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(
        "[{:type :invoke, :f :cas, :value [1 2], :process 0, :index 0}\n"
        " {:type :info, :f :start, :process :nemesis, :value \"cut\", :index 1}\n"
        " {:type :ok, :f :cas, :value [1 2], :process 0, :index 2, :error :timeout}]\n"
    )
    events = load_history(path)
    assert events[0] == {"type": "invoke", "f": "cas", "value": [1, 2], "process": 0, "index": 0}
    assert events[1]["process"] == "nemesis"
    assert events[2]["error"] == "timeout"
    (op,) = pair_operations(events)
    assert op.value == (1, 2) and op.ret == 2


def test_edn_one_map_per_line_without_outer_vector(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(
        "{:type :invoke, :f :read, :value nil, :process 0}\n{:type :ok, :f :read, :value 5, :process 0}\n"
    )
    (op,) = pair_operations(load_history(path))
    assert (op.f, op.value, op.call, op.ret) == ("read", 5, 0, 1)


def test_edn_independent_tuples_become_key_and_value(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(
        "[{:type :invoke, :f :write, :value [:k1 3], :process 0}\n"
        " {:type :ok, :f :write, :value [:k1 3], :process 0}\n"
        " {:type :invoke, :f :read, :value [:k2 nil], :process 1}\n"
        " {:type :ok, :f :read, :value [:k2 3], :process 1}\n"
        " {:type :info, :f :kill, :value nil, :process :nemesis}]\n"
    )
    events = load_history(path)
    assert events[0]["key"] == "k1" and events[0]["value"] == 3
    ops = pair_operations(events)
    assert [(o.key, o.f, o.value) for o in ops] == [("k1", "write", 3), ("k2", "read", 3)]


def test_edn_tagged_independent_tuple(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(
        "[{:type :invoke, :f :cas, :value #jepsen.independent.Tuple{:key 7, :value [1 2]}, :process 0}\n"
        " {:type :ok, :f :cas, :value #jepsen.independent.Tuple{:key 7, :value [1 2]}, :process 0}]"
    )
    (op,) = pair_operations(load_history(path))
    assert (op.key, op.value) == (7, (1, 2))


def test_edn_cas_pairs_are_not_mistaken_for_tuples(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(
        "[{:type :invoke, :f :cas, :value [1 2], :process 0}\n"
        " {:type :ok, :f :cas, :value [1 2], :process 0}\n"
        " {:type :invoke, :f :read, :value nil, :process 0}\n"
        " {:type :ok, :f :read, :value 2, :process 0}]"
    )
    ops = pair_operations(load_history(path))
    assert ops[0].key is None and ops[0].value == (1, 2)


@pytest.mark.parametrize(
    "text,line",
    [
        ("[{:type :invoke, :process 0, :f :read}\n {:type :ok :process}\n]", 2),
        ("[{:type :invoke, :process 0, :f :read}\n {:type :ok, :process 0, :f :read}]\n]", 3),
        ("[{:type :invoke, :process 0, :f :read}\n {:type :ok, :process 0, :f :read \"x}]", 2),
        ("[{:type :invoke, :process 0, :f :read}\n\n {:type :bogus, :process 0, :f :read}]", 3),
        ("[{:type :invoke, :process 0, :f :read}\n 42]", 2),
    ],
)
def test_edn_malformed_names_the_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "bad.edn"
    path.write_text(text)
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- pairing


def test_order_is_by_index_not_time_nor_list_order() -> None:
    events = [
        {"index": 2, "time": 1, "process": 0, "type": "ok", "f": "read", "value": 1},
        {"index": 0, "time": 9, "process": 0, "type": "invoke", "f": "read", "value": None},
        {"index": 1, "time": 5, "process": 1, "type": "invoke", "f": "write", "value": 1},
        {"index": 3, "time": 0, "process": 1, "type": "ok", "f": "write", "value": 1},
    ]
    ops = pair_operations(events)
    assert [(o.f, o.call, o.ret, o.invoke_index, o.complete_index) for o in ops] == [
        ("read", 0, 2, 0, 2),
        ("write", 1, 3, 1, 3),
    ]


def test_without_index_line_order_is_used() -> None:
    events = [
        {"time": 5, "process": 0, "type": "invoke", "f": "write", "value": 1},
        {"time": 1, "process": 0, "type": "ok", "f": "write", "value": 1},
    ]
    (op,) = pair_operations(events)
    assert (op.call, op.ret, op.invoke_index) == (0, 1, None)


def test_values_filled_fail_dropped_info_and_pending_infinite_nemesis_ignored() -> None:
    events = [
        ev(0, 0, "invoke", "read"),
        ev(1, "nemesis", "info", "start", "partition"),
        ev(2, 1, "invoke", "write", 4),
        ev(3, 0, "ok", "read", 7),
        ev(4, 1, "fail", "write", 4, error="refused"),
        ev(5, 2, "invoke", "cas", [1, 2]),
        ev(6, 2, "info", "cas", [1, 2], error="timeout"),
        ev(7, 3, "invoke", "write", 9),
        ev(8, "nemesis", "info", "stop", None),
    ]
    ops = pair_operations(events)
    assert [(o.id, o.process, o.f, o.value, o.output, o.type) for o in ops] == [
        (0, 0, "read", 7, 7, "ok"),
        (1, 2, "cas", (1, 2), None, "info"),
        (2, 3, "write", 9, None, "info"),
    ]
    assert ops[1].ret == INFINITY and ops[2].ret == INFINITY
    assert ops[2].complete_index is None


@pytest.mark.parametrize(
    "events,fragment",
    [
        ([ev(0, 0, "ok", "read", 1)], "no open invoke"),
        ([ev(0, 0, "invoke", "read"), ev(1, 0, "invoke", "read")], "still open"),
        ([ev(0, 0, "invoke", "read"), ev(0, 0, "ok", "read", 1)], "duplicate"),
        ([ev(0, 0, "invoke", "read"), {"process": 0, "type": "ok", "f": "read"}], "index"),
    ],
)
def test_pairing_errors(events: list, fragment: str) -> None:
    with pytest.raises(HistoryError, match=fragment):
        pair_operations(events)


def test_op_is_a_frozen_slotted_hashable_value() -> None:
    (op,) = pair_operations([ev(0, 0, "invoke", "txn", [["read", "x", None]]),
                             ev(1, 0, "ok", "txn", [["read", "x", 1]])])
    assert op.value == (("read", "x", 1),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.value = 3  # type: ignore[misc]
    assert not hasattr(op, "__dict__")
    assert hash(op) == hash(dataclasses.replace(op))
    assert json.loads(json.dumps(op.to_dict()))["value"] == [["read", "x", 1]]
    assert "txn" in str(op)


def test_freeze_and_thaw() -> None:
    value = {"a": [1, {"b": [2]}], "c": None}
    frozen = freeze(value)
    hash(frozen)
    assert thaw(frozen) == value
    assert thaw(frozenset({3, 1})) == [1, 3]
    assert thaw(math.inf) is None
    assert isinstance(Op.__slots__, tuple)


def test_edn_tagged_op_records_and_lines_after_discards(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(
        "#jepsen.history.Op{:index 0, :type :invoke, :f :write, :value 1, :process 0}\n"
        "#_ {:ignored true}\n"
        "#jepsen.history.Op{:index 1, :type :ok, :f :write, :value 1, :process 0}\n"
    )
    (op,) = pair_operations(load_history(path))
    assert (op.f, op.value, op.invoke_index, op.complete_index) == ("write", 1, 0, 1)
    path.write_text(
        "{:index 0, :type :invoke, :f :write, :value 1, :process 0}\n"
        "#_ {:ignored true} ; comment\n"
        "#jepsen.history.Op{:index 1, :type :done, :f :write, :value 1, :process 0}\n"
    )
    with pytest.raises(HistoryError, match=r"h\.edn:3: "):
        load_history(path)
