"""What the checkers' command lines share: exit codes, the one-line bad-input error, a
parser whose usage errors are bad input, and the checks on the history files named.

Exit codes, as everywhere in the harness: 0 all valid, 1 some history invalid, 2
otherwise some unknown, 254 bad input (one line starting "error: " on stderr, no
traceback). argparse's own exit code 2 would mean "unknown" here, hence `BadInputParser`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

EXIT_VALID, EXIT_INVALID, EXIT_UNKNOWN, EXIT_BAD_INPUT = 0, 1, 2, 254


def error(message: str) -> int:
    """Report bad input on one line of stderr; the exit code for it."""
    sys.stderr.write("error: " + " ".join(message.split()) + "\n")
    sys.stderr.flush()
    return EXIT_BAD_INPUT


class BadInputParser(argparse.ArgumentParser):
    """Usage errors are bad input: one "error: " line and exit code 254."""

    def error(self, message: str) -> NoReturn:
        error(message)
        sys.exit(EXIT_BAD_INPUT)


def file_problem(name: str) -> str | None:
    """Why ``name`` cannot be read as a history file, or None."""
    path = Path(name)
    if not path.exists():
        return f"{name}: no such file"
    if path.is_dir():
        return f"{name}: is a directory"
    if not path.is_file():
        return f"{name}: not a regular file"
    return None


def exit_code(any_invalid: bool, any_unknown: bool) -> int:
    """1 if any history is invalid, else 2 if any is unknown, else 0."""
    return EXIT_INVALID if any_invalid else EXIT_UNKNOWN if any_unknown else EXIT_VALID
