"""Small things in words for the report: verdicts, keys, operations, zxids the way
ZooKeeper logs them, nanoseconds in seconds, anchors, and a checker's own sentences tidied."""

from __future__ import annotations

import re
from typing import Any

from reports.rundata import NS, Operation, fmt_value

#: fields holding a zxid (an int: epoch in the high 32 bits, counter in the low 32),
#: shown the way ZooKeeper writes them, 0x<epoch><counter>
ZXID_FIELDS = re.compile(r"(^|_)(zxids?|tokens?)$")  # (a fencing token is its /master's czxid)
#: fields holding simulated nanoseconds, shown in seconds
NS_FIELDS = re.compile(r"^(time|at|start|end|idle|timeout|lag|duration|since|until|from|to)$|_(ns|time|at)$")


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-")
    return s or "x"


def verdict_words(valid: Any, counted: bool = True) -> tuple[str, str]:
    """(badge text, css class) for a verdict."""
    if not counted:
        if valid is False:
            return "expected, not counted", "expected"
        if valid is True:
            return "valid (not counted)", "info"
        return "unknown (not counted)", "info"
    if valid is True:
        return "valid", "valid"
    if valid is False:
        return "INVALID", "invalid"
    return "unknown", "unknown"


def key_words(key: Any) -> str:
    """A key as a reader writes it: ``x2`` for a string, JSON otherwise."""
    return key if isinstance(key, str) else fmt_value(key, 60)


def op_words(op: Operation | None) -> str:
    """``read x2 → 3``, ``write x1 4``, ``cas x0 [1,2]``: an operation in a few words."""
    if op is None:
        return "an operation"
    key = "" if op.key is None else f" {key_words(op.key)}"
    if op.f == "read":
        if op.type == "ok":
            return f"read{key} → {fmt_value(op.result, 60)}"
        return f"read{key}"
    arg = "" if op.value is None else " " + fmt_value(op.value, 60)
    return f"{op.f}{key}{arg}"


def op_where(op: Operation) -> str:
    a = "?" if op.invoke_index is None else op.invoke_index
    b = "…" if op.complete_index is None else op.complete_index
    return f"process {op.process}, history {a}–{b}"


_PY_LIST = re.compile(r"\[((?:'[^'\[\]]*'(?:, )?)+)\]")


def tidy(text: str) -> str:
    """A checker's sentence as a reader wants it: Python list reprs such as
    ``['n1', 'n2']`` become ``{n1, n2}``."""
    return _PY_LIST.sub(lambda m: "{" + ", ".join(x.strip("'") for x in m.group(1).split(", ")) + "}", text)


def _capital(text: str) -> str:
    """Capitalise a sentence unless it starts with a name (n5, b2, c10, 0x...)."""
    first = text.split(" ", 1)[0]
    if any(ch.isdigit() for ch in first) or not first[:1].islower():
        return text
    return text[:1].upper() + text[1:]


def zxid_words(z: int) -> str:
    """``0x200000004`` (epoch 2, counter 4): a zxid the way ZooKeeper logs it."""
    return f"0x{z:x} (epoch {z >> 32}, counter {z & 0xFFFFFFFF})"


def field_value(key: str, val: Any) -> str:
    """An anomaly record's field for the page: zxids in hex, nanoseconds in seconds."""
    def is_int(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool)

    if ZXID_FIELDS.search(key):
        if is_int(val):
            return zxid_words(val)
        if isinstance(val, list) and val and all(is_int(x) for x in val):
            shown = ", ".join(f"0x{x:x}" for x in val[:20])
            return shown + (f", … ({len(val)} in all)" if len(val) > 20 else "")
    if NS_FIELDS.search(key) and is_int(val) and abs(val) >= 1000:
        return f"{val / NS:.3f} s"
    if isinstance(val, str):
        return val if len(val) <= 200 else val[:199] + "…"
    if (isinstance(val, list) and val and len(val) <= 20
            and all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in val)):
        return ", ".join(map(str, val))
    return fmt_value(val, 200)


def seconds(ns: Any) -> str:
    return f"{ns / NS:.3f}" if isinstance(ns, (int, float)) else ""
