"""Terminal tables in tabulate's ``simple`` format, without importing tabulate when the
cells are plain text.

Importing tabulate (0.10) imports ``importlib.metadata`` to read its own version, and
with it email, zipfile and csv: about as much CPU as checking the standard run. Every
``harness run`` prints one table, so `simple_table` writes the common case itself —
every cell a string of characters one terminal column wide, none that tabulate would
read as a number, no surrounding whitespace nor two blanks in a row — exactly as tabulate would (left-aligned
columns two spaces apart, at least the header's width plus two, cells wrapped at
``maxcolwidths`` as by ``textwrap``, trailing blanks stripped), and hands anything else
to tabulate itself. tests/test_table.py compares the two.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# characters one column wide on a terminal (for wcwidth, which tabulate measures with):
# printable ASCII, Latin-1 without the soft hyphen, general punctuation (dashes, quotes,
# ellipsis), arrows and mathematical operators
_NARROW = re.compile(r"[ -~\u00a0-\u00ac\u00ae-\u00ff\u2010-\u2027\u2030-\u205e\u2190-\u22ff]*")


def _plain(cell: Any) -> bool:
    """A cell the fast path writes as tabulate would."""
    if type(cell) is not str or cell != cell.strip() or _NARROW.fullmatch(cell) is None \
            or cell in ("True", "False") or "  " in cell:  # a bool to tabulate; a run of blanks it wraps its own way
        return False
    for parse in (float, lambda s: int(s, 0)):  # tabulate right-aligns numbers: not plain
        try:
            parse(cell.replace(",", "").replace("_", ""))
        except ValueError:
            continue
        return False
    return True


def simple_table(rows: Sequence[Sequence[Any]], headers: Sequence[str],
                 maxcolwidths: Sequence[int | None] | None = None) -> str:
    """``tabulate(rows, headers=headers, tablefmt="simple", maxcolwidths=maxcolwidths)``."""
    ncol = len(headers)
    widths_max = list(maxcolwidths or []) + [None] * (ncol - len(maxcolwidths or []))
    if not (all(len(r) == ncol for r in rows) and all(_plain(c) for r in rows for c in r)
            and all(_plain(h) for h in headers)):
        from tabulate import tabulate

        return str(tabulate(rows, headers=list(headers), tablefmt="simple", maxcolwidths=maxcolwidths))
    wrappers: dict[int, Any] = {}
    cells: list[list[list[str]]] = []  # row -> column -> lines
    for r in rows:
        out = []
        for i, c in enumerate(r):
            w = widths_max[i]
            if w is not None and len(c) > w:
                if w not in wrappers:
                    import textwrap

                    wrappers[w] = textwrap.TextWrapper(width=w)
                out.append(wrappers[w].wrap(c) or [""])
            else:
                out.append([c])
        cells.append(out)
    widths = [max([len(h) + 2] + [len(line) for r in cells for line in r[i]]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for r in cells:
        for k in range(max(len(c) for c in r)):
            lines.append("  ".join((c[k] if k < len(c) else "").ljust(w) for c, w in zip(r, widths)).rstrip())
    return "\n".join(lines)
