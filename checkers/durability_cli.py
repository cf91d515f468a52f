"""``harness check --workload queue [--json] FILE...``: the durability checker on history files.

Also runs alone: ``python -m checkers.durability_cli [--json] [--no-final-drain] FILE...``.

Each FILE is a queue history in JSON lines (one event per line, see docs/anomalies.md). Without
``--json`` it prints, per file, one summary line (file, verdict, time, counts) and one
indented line per anomaly kind with an example; with ``--json``, one object per file per
line: ``{"file", "valid", "anomalies": {kind: count}}``.

Exit codes, as everywhere in the harness: 0 all valid, 1 some file invalid, 2 otherwise
some file unknown, 254 bad input (one line starting "error: " on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from checkers.cli_common import BadInputParser, error as _error, exit_code, file_problem
from checkers.durability import ALLOWED_KINDS, KINDS, QueueHistoryError, check_queue
from checkers.result import CheckResult

__all__ = ["add_arguments", "run", "main", "load_queue_history"]


def _has_option(parser: argparse.ArgumentParser, option: str) -> bool:
    return option in parser._option_string_actions  # noqa: SLF001 - argparse has no public query


def _has_dest(parser: argparse.ArgumentParser, dest: str) -> bool:
    return any(a.dest == dest for a in parser._actions)  # noqa: SLF001


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--json``, ``--no-final-drain`` and ``FILE...`` (skipping any the parser already has,
    so that ``harness check`` can share them with the linearizability checker)."""
    if not _has_option(parser, "--json"):
        parser.add_argument("--json", action="store_true", help="one JSON object per file per line")
    if not _has_option(parser, "--no-final-drain"):
        parser.add_argument("--no-final-drain", action="store_true",
                            help="the history has no final drain: acknowledged writes never polled are "
                                 "reported as unseen (allowed), not as lost writes")
    if not _has_dest(parser, "files"):
        parser.add_argument("files", nargs="+", metavar="FILE", help="queue history files (.jsonl or Jepsen .edn)")


def load_queue_history(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON-lines history, or a Jepsen ``.edn`` one as ``harness export`` writes it
    (`load_queue_edn`); raise `QueueHistoryError` naming the file and line."""
    from checkers.history import read_history_text

    path = Path(path)
    if path.suffix.lower() == ".edn":
        return load_queue_edn(path)
    text = read_history_text(path, QueueHistoryError)
    events = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise QueueHistoryError(f"{path}:{lineno}: invalid JSON: {msg}") from None
        except RecursionError:
            raise QueueHistoryError(f"{path}:{lineno}: JSON nested too deep") from None
        if not isinstance(event, dict):
            raise QueueHistoryError(f"{path}:{lineno}: an event must be a JSON object, got {line.strip()[:60]}")
        events.append(event)
    return events


def load_queue_edn(path: Path) -> list[dict[str, Any]]:
    """A queue history in Jepsen's EDN (docs/edn.md): each ``send`` and ``poll`` holds one
    micro-op of Jepsen's Kafka test, ``[[:send k v]]`` (ok: ``[[:send k [offset v]]]``) and
    ``[[:poll]]`` (ok: ``[[:poll {k [[offset v] ...]}]]``), unpacked here into the fields of
    a history.jsonl event. A transaction of several micro-ops is refused, not cut short."""
    from checkers.history import HistoryError, load_history

    try:
        events = load_history(path)
    except HistoryError as exc:
        raise QueueHistoryError(str(exc)) from None
    return [_unpack_micro_op(e, path) for e in events]


def _unpack_micro_op(event: dict[str, Any], path: Path) -> dict[str, Any]:
    f, value = event.get("f"), event.get("value")
    if f == "txn":
        raise QueueHistoryError(f"{path}: event index {event.get('index')}: a :txn (a transaction of "
                                f"micro-ops) is not supported: the queue checker takes one :send or :poll "
                                f"micro-op per operation, as harness export writes it (docs/edn.md)")
    if f not in ("send", "poll"):
        return event
    mop = value[0] if isinstance(value, list) and len(value) == 1 else None
    lengths = (3,) if f == "send" else (1, 2)
    if not isinstance(mop, list) or not mop or mop[0] != f or len(mop) not in lengths:
        shown = json.dumps(value, default=str)
        raise QueueHistoryError(f"{path}: event index {event.get('index')}: a {f} must hold one "
                                f"[:{f} ...] micro-op, as harness export writes it, not "
                                f"{shown if len(shown) <= 60 else shown[:57] + '...'}")
    out = {k: v for k, v in event.items() if k != "value"}
    if f == "poll":
        out["value"] = mop[1] if len(mop) == 2 else None
        return out
    key, sent = mop[1], mop[2]
    out["key"] = key
    if event.get("type") == "ok" and isinstance(sent, list) and len(sent) == 2:  # [offset value]
        out["offset"], sent = sent
    out["value"] = sent
    return out


def run(args: argparse.Namespace) -> int:
    """Check every file in ``args.files``; print the summaries; return the exit code."""
    final_drain = not getattr(args, "no_final_drain", False)
    as_json = bool(getattr(args, "json", False))
    files = list(getattr(args, "files", None) or [])
    if not files:
        return _error("no history files given")
    for name in files:
        problem = file_problem(name)
        if problem is not None:
            return _error(problem)
    out = sys.stdout
    any_invalid = any_unknown = False
    for name in files:
        started = time.monotonic()
        try:
            result = check_queue(load_queue_history(name), final_drain=final_drain)
        except QueueHistoryError as exc:
            text = str(exc)
            return _error(text if text.startswith(name) else f"{name}: {text}")
        except Exception as exc:  # an unforeseen input: still one line, no traceback
            return _error(f"{name}: {type(exc).__name__}: {exc}")
        ms = (time.monotonic() - started) * 1000
        any_invalid |= result.valid is False
        any_unknown |= result.valid == "unknown"
        if as_json:
            out.write(json.dumps({"file": name, "valid": result.valid, "anomalies": _found(result)}) + "\n")
        else:
            out.write(summary(name, result, ms))
        out.flush()
    return exit_code(any_invalid, any_unknown)


def _found(result: CheckResult) -> dict[str, int]:
    """kind -> how many, of every anomaly kind found, counted or (unseen) allowed; not the
    jumps across a reassignment."""
    found = {**result.anomalies, **{k: v for k, v in result.allowed.items() if k in ALLOWED_KINDS}}
    return {kind: len(found[kind]) for kind in KINDS if kind in found}


def summary(name: str, result: CheckResult, ms: float | None = None) -> str:
    """The human summary of one file's result: a headline and a line per anomaly kind."""
    verdict = {True: "valid", False: "INVALID"}.get(result.valid, "unknown")
    st = result.details["stats"]
    s, p = st["sends"], st["polls"]
    counts = _found(result)
    found = ", ".join(f"{k} {n}" for k, n in counts.items()) or "no anomalies"
    took = f"\t{ms:.0f} ms" if ms is not None else ""
    lines = [f"{name}\t{verdict}{took}\t{found}\t({st['events']} events, {st['keys']} keys; sends "
             f"{s['ok']} ok/{s['info']} info/{s['fail']} fail; polls {p['ok']} ok/{p['info']} info/{p['fail']} fail)"]
    for kind, items in result.anomalies.items():
        lines.append(f"  {kind} x{len(items)}: {items[0]['explanation']}")
    for kind in ALLOWED_KINDS & set(result.allowed):
        items = result.allowed[kind]
        lines.append(f"  {kind} (allowed) x{len(items)}: {items[0]['explanation']}")
    for kind, items in result.allowed.items():
        if kind not in ALLOWED_KINDS:
            lines.append(f"  {kind} across a reassignment (allowed) x{len(items)}: {items[0]['explanation']}")
    unseen = result.details["unseen"]
    if unseen:
        lines.append("  unseen at the end: " + ", ".join(f"{k}={n}" for k, n in unseen.items()))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m checkers.durability_cli``."""
    parser = BadInputParser(prog="python -m checkers.durability_cli",
                            description="Check queue (Kafka) histories for durability anomalies (Jepsen's taxonomy).")
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except SystemExit as exc:  # --help, or a usage error already reported
        return int(exc.code or 0)


if __name__ == "__main__":
    sys.exit(main())
