"""Command line for the linearizability checker.

    python -m checkers.linearizable.cli --model cas-register --initial 0 [--time-limit 10] [--json] FILE...

Checks each history file (``.jsonl`` or Jepsen ``.edn``) in one process and prints one
line per file: human-readable, or with ``--json`` one JSON object per line. Exit code:
1 if any history is not linearizable, else 2 if any is unknown, else 0; 254 on bad input
(missing file, malformed history, bad ``--initial``, unknown model), with one line
starting with "error: " on stderr and no traceback.

`add_arguments` and `run` are what the ``harness check`` command wires in.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence

from ..cli_common import (
    EXIT_BAD_INPUT,
    EXIT_INVALID,
    EXIT_UNKNOWN,
    BadInputParser,
    error as _error,
    exit_code,
    file_problem,
)
from ..history import HistoryError, load_history
from .models import MODELS, ModelError, get_model
from .search import check

__all__ = ["add_arguments", "run", "main", "EXIT_INVALID", "EXIT_UNKNOWN", "EXIT_BAD_INPUT"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--model``, ``--initial``, ``--time-limit``, ``--json`` and ``FILE...``."""
    parser.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help=f"sequential model, one of: {', '.join(sorted(MODELS))}",
    )
    parser.add_argument(
        "--initial",
        metavar="JSON",
        default=None,
        help="initial model state as JSON (default null; e.g. 0, '{\"x\": 0}')",
    )
    parser.add_argument(
        "--time-limit",
        metavar="S",
        default=None,
        help="seconds of search per file (> 0); past it the verdict is unknown",
    )
    parser.add_argument(
        "--max-steps",
        metavar="N",
        default=None,
        help="search steps per file (> 0), instead of --time-limit: the same verdict on any machine",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per file per line")
    parser.add_argument("files", nargs="+", metavar="FILE", help="history files (.jsonl or .edn)")


class _BadInput(Exception):
    pass


def _options(args: argparse.Namespace) -> tuple[str, object, float | None, int | None]:
    try:
        model = get_model(args.model).name
    except ModelError as exc:
        raise _BadInput(str(exc)) from None
    initial = None
    if args.initial is not None:
        try:
            initial = json.loads(args.initial)
        except ValueError as exc:
            raise _BadInput(f"--initial is not valid JSON ({exc}): {args.initial!r:.80}") from None
        except RecursionError:
            raise _BadInput("--initial: JSON nested too deep") from None
    limit = args.time_limit
    if limit is not None:
        try:
            limit = float(limit)
        except (TypeError, ValueError):
            raise _BadInput(f"--time-limit wants seconds > 0, got {args.time_limit!r}") from None
        if not (limit > 0 and math.isfinite(limit)):
            raise _BadInput(f"--time-limit wants seconds > 0, got {args.time_limit!r}")
    steps = getattr(args, "max_steps", None)
    if steps is not None:
        try:
            steps = int(steps)
        except (TypeError, ValueError):
            raise _BadInput(f"--max-steps wants an integer > 0, got {args.max_steps!r}") from None
        if steps <= 0:
            raise _BadInput(f"--max-steps wants an integer > 0, got {args.max_steps!r}")
        if limit is not None:
            raise _BadInput("give --time-limit or --max-steps, not both")
    for name in args.files:
        problem = file_problem(name)
        if problem is not None:
            raise _BadInput(problem)
    return model, initial, limit, steps


def run(args: argparse.Namespace) -> int:
    """Check every file; print one line each; return the exit code (0, 1, 2 or 254)."""
    out = sys.stdout
    try:
        model, initial, limit, steps = _options(args)
    except _BadInput as exc:
        return _error(str(exc))
    any_invalid = any_unknown = False
    for name in args.files:
        started = time.monotonic()
        try:
            events = load_history(name)
            result = check(events, model, initial=initial, time_limit=limit, max_steps=steps)
        except (HistoryError, ModelError) as exc:
            text = str(exc)
            return _error(text if text.startswith(name) else f"{name}: {text}")
        except Exception as exc:  # a bug or an unforeseen input: still one line, no traceback
            return _error(f"{name}: {type(exc).__name__}: {exc}")
        ms = round((time.monotonic() - started) * 1000, 1)
        any_invalid |= result.valid is False
        any_unknown |= result.valid == "unknown"
        if args.json:
            record = {"file": name, "valid": result.valid, "ms": ms}
            record.update((k, v) for k, v in result.to_json().items() if k != "valid")
            out.write(json.dumps(record) + "\n")
        else:
            verdict = "valid" if result.valid is True else "INVALID" if result.valid is False else "unknown"
            out.write(f"{name}\t{verdict}\t{ms:.0f} ms\t{result.summary()}\n")
        out.flush()
    return exit_code(any_invalid, any_unknown)


def main(argv: Sequence[str] | None = None) -> int:
    parser = BadInputParser(
        prog="python -m checkers.linearizable.cli",
        description="Check histories for linearizability (Wing-Gong/Lowe search, per key).",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
