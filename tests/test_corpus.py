"""The Knossos corpus: every history, in JSONL and in EDN, gets the verdict Knossos expects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checkers.history import load_history, pair_operations
from checkers.linearizable import check

CORPUS = Path(__file__).resolve().parent / "corpus"
MANIFEST = CORPUS / "manifest.json"


def _histories() -> list:
    if not MANIFEST.exists():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))]
    entries = json.loads(MANIFEST.read_text())["histories"]
    params = []
    for entry in entries:
        for fmt in ("file", "edn"):
            params.append(pytest.param(entry, fmt, id=entry[fmt]))
    return params


@pytest.mark.parametrize("entry,fmt", _histories())
def test_corpus_verdict(entry: dict, fmt: str) -> None:
    events = load_history(CORPUS / entry[fmt])
    ops = pair_operations(events)
    assert len(ops) == entry["ops_not_failed"]
    assert sum(op.type == "info" for op in ops) == entry["info"] + entry["never_completed"]
    result = check(ops, entry["model"], initial=entry["init"], time_limit=30)
    assert result.valid == entry["linearizable"], result.summary()
    if result.valid is False:
        assert result.op is not None
        assert len(result.prefix) <= len(ops)
        json.dumps(result.to_json())


def test_corpus_is_complete() -> None:
    if not MANIFEST.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    entries = json.loads(MANIFEST.read_text())["histories"]
    assert len(entries) == 122
    for entry in entries:
        assert (CORPUS / entry["file"]).exists()
        assert (CORPUS / entry["edn"]).exists()


def test_jsonl_and_edn_agree_on_ops() -> None:
    """Both renderings of a history pair into the same operations (values, order, types)."""
    if not MANIFEST.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    entries = json.loads(MANIFEST.read_text())["histories"]
    picked = [e for e in entries if "multi-register" in e["file"] or "mutex" in e["file"] or "bad/" in e["file"]]
    for entry in picked:
        a = pair_operations(load_history(CORPUS / entry["file"]))
        b = pair_operations(load_history(CORPUS / entry["edn"]))
        assert [(o.process, o.f, o.key, o.value, o.type) for o in a] == [
            (o.process, o.f, o.key, o.value, o.type) for o in b
        ], entry["file"]
