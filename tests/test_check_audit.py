"""`harness check` on histories a user brings: regressions found by an audit of the
checkers, each a history that got a wrong or unexplained answer."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli import main


def _history(tmp_path: Path, ops: list, name: str = "h.jsonl") -> Path:
    """ops: (process, f, invoke value, completion type or None, completion value)."""
    events, i = [], 0
    for proc, f, value, ctype, out in ops:
        events.append({"index": i, "process": proc, "type": "invoke", "f": f, "value": value})
        i += 1
        if ctype is not None:
            events.append({"index": i, "process": proc, "type": ctype, "f": f, "value": out})
            i += 1
    p = tmp_path / name
    p.write_text("".join(json.dumps(e) + "\n" for e in events))
    return p


def _check(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    if code == 254:
        assert len(err.strip().splitlines()) == 1, err
    return code, out, err


def test_string_client_processes_are_refused_not_ignored(tmp_path, capsys):
    """A client with a string id ("c1") was taken for a nemesis and all its events left
    out: a read of "x" after a write of "a" came out "linearizable (0 ops)", exit 0."""
    p = _history(tmp_path, [("c1", "write", "a", "ok", "a"), ("c2", "read", None, "ok", "x")])
    code, _, err = _check(["--model", "register", str(p)], capsys)
    assert code == 254, err
    assert "'c1'" in err and "not an integer" in err


def test_the_nemesis_is_still_ignored(tmp_path, capsys):
    p = tmp_path / "n.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in [
        {"index": 0, "process": "nemesis", "type": "info", "f": "start", "value": None},
        {"index": 1, "process": 0, "type": "invoke", "f": "write", "value": 1},
        {"index": 2, "process": 0, "type": "ok", "f": "write", "value": 1},
        {"index": 3, "process": "nemesis", "type": "info", "f": "stop", "value": None},
    ]))
    code, out, _ = _check(["--model", "register", str(p)], capsys)
    assert code == 0 and "1 ops" in out


def test_a_boolean_is_not_a_number(tmp_path, capsys):
    """Python's True == 1 made a read of true match a write of 1 (also inside lists and
    maps): Jepsen (Clojure =) tells them apart, and so must the checker."""
    for model in ("register", "cas-register"):
        p = _history(tmp_path, [(0, "write", 1, "ok", 1), (1, "read", None, "ok", True)])
        code, out, _ = _check(["--model", model, str(p)], capsys)
        assert code == 1 and "read true" in out, out
        p = _history(tmp_path, [(0, "write", {"a": [0]}, "ok", {"a": [0]}), (1, "read", None, "ok", {"a": [False]})])
        code, out, _ = _check(["--model", model, str(p)], capsys)
        assert code == 1, out
    p = _history(tmp_path, [(0, "write", True, "ok", True), (1, "read", None, "ok", True),
                            (0, "cas", [True, False], "ok", [True, False]), (1, "read", None, "ok", False)])
    code, out, _ = _check(["--model", "cas-register", "--json", str(p)], capsys)
    assert code == 0, out
    p = _history(tmp_path, [(0, "read", None, "ok", 0)])
    code, out, _ = _check(["--model", "register", "--initial", "false", str(p)], capsys)
    assert code == 1, out


def test_the_state_of_a_counterexample_is_shown_as_json_like_its_op(tmp_path, capsys):
    """The op was JSON ("read true") and the state Python's repr ("state True",
    "{'a': [1]}", "None"): one line, two notations."""
    p = _history(tmp_path, [(0, "acquire", None, "ok", None), (1, "acquire", None, "ok", None)])
    code, out, _ = _check(["--model", "mutex", str(p)], capsys)
    assert code == 1 and out.rstrip().endswith("ending in state true"), out
    p = _history(tmp_path, [(0, "write", {"a": [None]}, "ok", {"a": [None]}), (1, "read", None, "ok", 3)])
    code, out, _ = _check(["--model", "register", str(p)], capsys)
    assert code == 1 and out.rstrip().endswith('ending in state {"a": [null]}'), out


def test_queue_string_client_processes_are_refused_not_ignored(tmp_path, capsys):
    """The queue checker too left out a client with a string id: a poll of a value never
    sent was not seen, and the history came out valid or unknown."""
    p = tmp_path / "q.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in [
        {"index": 0, "process": 0, "type": "invoke", "f": "send", "key": "k", "value": 1},
        {"index": 1, "process": 0, "type": "ok", "f": "send", "key": "k", "value": [0, 1]},
        {"index": 2, "process": "c1", "type": "invoke", "f": "poll", "value": None},
        {"index": 3, "process": "c1", "type": "ok", "f": "poll", "value": {"k": [[0, 2]]}},
        {"index": 4, "process": "nemesis", "type": "info", "f": "start", "value": None},
    ]))
    code, _, err = _check(["--workload", "queue", str(p)], capsys)
    assert code == 254 and "'c1'" in err and "not an integer" in err, err


def test_an_initial_state_or_append_the_model_cannot_hold_is_one_clear_line(tmp_path, capsys):
    """--initial 3 for fifo-queue said "TypeError: 'int' object is not iterable"; kv's append
    to a key holding a number "TypeError: unsupported operand type(s) for +"."""
    p = _history(tmp_path, [(0, "enqueue", 1, "ok", 1)])
    code, _, err = _check(["--model", "fifo-queue", "--initial", "3", str(p)], capsys)
    assert code == 254 and "model fifo-queue wants an initial list" in err, err
    p = _history(tmp_path, [(0, "add", 1, "ok", 1)])
    code, _, err = _check(["--model", "set", "--initial", "3", str(p)], capsys)
    assert code == 254 and "model set wants an initial list" in err, err
    p = _history(tmp_path, [(0, "put", 5, "ok", 5), (0, "append", "a", "ok", "a")])
    code, _, err = _check(["--model", "kv", str(p)], capsys)
    assert code == 254 and "model kv appends to strings only" in err and "holds 5" in err, err
    p = _history(tmp_path, [(0, "append", "a", "ok", "a"), (1, "get", None, "ok", "ba")])
    code, out, _ = _check(["--model", "kv", "--initial", '"b"', str(p)], capsys)
    assert code == 0, out


def test_kv_initial_object_on_a_history_with_no_keyed_op_is_fine(tmp_path, capsys):
    p = _history(tmp_path, [(0, "put", "a", "fail", "a")])
    code, out, _ = _check(["--model", "kv", "--initial", '{"k": "0"}', str(p)], capsys)
    assert code == 0, out


def _queue(tmp_path: Path, polled: object, key: str = "k") -> Path:
    p = tmp_path / "q.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in [
        {"index": 0, "process": 0, "type": "invoke", "f": "send", "key": key, "value": 1},
        {"index": 1, "process": 0, "type": "ok", "f": "send", "key": key, "value": 1, "offset": 0},
        {"index": 2, "process": 1, "type": "invoke", "f": "poll", "value": None},
        {"index": 3, "process": 1, "type": "ok", "f": "poll", "value": {key: [[0, polled]]}},
    ]))
    return p


def test_queue_a_poll_of_true_is_not_the_send_of_1(tmp_path, capsys):
    """The queue checker's sets and dicts took a polled true for the 1 sent at that offset."""
    code, out, _ = _check(["--workload", "queue", str(_queue(tmp_path, True))], capsys)
    assert code == 1 and "unexpected-value" in out and "(1, true)" in out, out
    code, out, _ = _check(["--workload", "queue", str(_queue(tmp_path, 1))], capsys)
    assert code == 0, out


def test_queue_explanations_show_unicode_as_it_is(tmp_path, capsys):
    """A key "ключ" was shown as "\\u043a\\u043b\\u044e\\u0447" in the explanations."""
    code, out, _ = _check(["--workload", "queue", str(_queue(tmp_path, 2, key="ключ"))], capsys)
    assert code == 1 and '"ключ"' in out and "\\u043a" not in out, out


def test_a_counterexample_shows_keys_and_values_in_one_notation_unescaped(tmp_path, capsys):
    """The key was Python's repr ('ключ') before the op, JSON with \\u escapes inside it."""
    p = tmp_path / "u.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in [
        {"index": 0, "process": 1, "type": "invoke", "f": "write", "key": "ключ", "value": "x"},
        {"index": 1, "process": 1, "type": "ok", "f": "write", "key": "ключ", "value": "x"},
        {"index": 2, "process": 2, "type": "invoke", "f": "read", "key": "ключ", "value": None},
        {"index": 3, "process": 2, "type": "ok", "f": "read", "key": "ключ", "value": "héllo"},
    ]))
    code, out, _ = _check(["--model", "register", str(p)], capsys)
    assert code == 1 and 'key "ключ":' in out and 'read key="ключ" "héllo"' in out, out


def test_a_per_key_initial_object_reaches_integer_keys(tmp_path, capsys):
    """JSON object keys are strings, Jepsen's independent keys integers: --initial
    '{"1": 0, "2": 5}' was looked up as initial.get(1), never found, and every key began
    at null (a false INVALID on a read of 0 from key 1)."""
    p = tmp_path / "ind.edn"
    p.write_text("[{:type :invoke, :process 0, :f :read, :value [1 nil]}\n"
                 " {:type :ok, :process 0, :f :read, :value [1 0]}\n"
                 " {:type :invoke, :process 1, :f :read, :value [2 nil]}\n"
                 " {:type :ok, :process 1, :f :read, :value [2 5]}]\n")
    code, out, _ = _check(["--model", "cas-register", "--initial", '{"1": 0, "2": 5}', str(p)], capsys)
    assert code == 0, out
    code, out, _ = _check(["--model", "cas-register", "--initial", '{"1": 0, "2": 4}', str(p)], capsys)
    assert code == 1 and "key 2:" in out, out
