"""What the history says each key's log holds: offset -> value, from sends and polls together.

Jepsen's Kafka checker calls this the *version order*. Every ok send that reports an offset
and every record an ok poll returns is one observation ``(offset, value)`` of a key's log,
made by one operation. From the observations of a key we get:

* the offsets *known to exist* (sorted, for bisection): a consumer that jumps over one of
  them skipped it (poll-skip, int-poll-skip);
* ``inconsistent-offsets``: an offset observed with more than one value;
* ``duplicate``: a value observed at more than one offset.

Offsets are used as Kafka returns them, gaps included: transaction markers and compaction
leave holes in real logs, so only offsets someone observed count as skippable.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from checkers.durability.history import show as _j, show_list as _list, thaw

__all__ = ["KeyLog", "MAX_WITNESSES"]

#: Operations cited per observation. An offset read by fifty consumers needs three of them
#: to make the point, not fifty: more only bloats results.json and the report.
MAX_WITNESSES = 3


class KeyLog:
    """The observations of one key's log."""

    __slots__ = ("key", "at", "offsets", "_by_value")

    def __init__(self, key: Any) -> None:
        self.key = key
        #: offset -> value -> history indices of (at most MAX_WITNESSES) operations showing it
        self.at: dict[int, dict[Any, list[int]]] = {}
        self.offsets: list[int] = []
        self._by_value: dict[Any, list[int]] | None = None

    def observe(self, offset: int, value: Any, index: int) -> None:
        values = self.at.get(offset)
        if values is None:
            self.at[offset] = {value: [index]}
            return
        witnesses = values.get(value)
        if witnesses is None:
            values[value] = [index]
        elif len(witnesses) < MAX_WITNESSES and witnesses[-1] != index:
            witnesses.append(index)

    def finish(self) -> None:
        """Sort the known offsets; call once every observation is in."""
        self.offsets = sorted(self.at)

    def offsets_of(self, value: Any) -> list[int]:
        """The known offsets holding ``value`` (an index built on first use, after ``finish``)."""
        if self._by_value is None:
            self._by_value = {}
            for offset in self.offsets:
                for v in self.at[offset]:
                    self._by_value.setdefault(v, []).append(offset)
        return self._by_value.get(value, [])

    def known_between(self, lo: int, hi: int) -> int:
        """How many known offsets lie strictly between ``lo`` and ``hi``."""
        return max(0, bisect_left(self.offsets, hi) - bisect_right(self.offsets, lo))

    def records_between(self, lo: int, hi: int, limit: int) -> list[list[Any]]:
        """Up to ``limit`` known ``[offset, value]`` records strictly between ``lo`` and ``hi``."""
        start = bisect_right(self.offsets, lo)
        out = []
        for offset in self.offsets[start:start + limit]:
            if offset >= hi:
                break
            out.append([offset, thaw(next(iter(self.at[offset])))])
        return out

    def inconsistent_offsets(self) -> list[dict[str, Any]]:
        """One anomaly per offset observed with more than one value."""
        out = []
        for offset in self.offsets:
            values = self.at[offset]
            if len(values) < 2:
                continue
            shown = [thaw(v) for v in values]
            indices = sorted({i for ws in values.values() for i in ws})
            out.append({
                "kind": "inconsistent-offsets",
                "key": thaw(self.key),
                "offsets": [offset],
                "values": shown,
                "indices": indices,
                "witnesses": [{"value": thaw(v), "indices": ws} for v, ws in values.items()],
                "explanation": f"offset {offset} of key {_j(self.key)} holds {len(shown)} different values "
                               f"({', '.join(_j(v) for v in values)}), judging by the sends and polls at "
                               f"indices {_list(indices)}.",
            })
        return out

    def duplicates(self) -> list[dict[str, Any]]:
        """One anomaly per value observed at more than one offset."""
        where: dict[Any, list[int]] = {}
        for offset in self.offsets:
            for value in self.at[offset]:
                where.setdefault(value, []).append(offset)
        out = []
        for value, offsets in where.items():
            if len(offsets) < 2:
                continue
            indices = sorted({i for o in offsets for i in self.at[o][value]})
            out.append({
                "kind": "duplicate",
                "key": thaw(self.key),
                "offsets": offsets,
                "values": [thaw(value)],
                "indices": indices,
                "witnesses": [{"offset": o, "indices": self.at[o][value]} for o in offsets],
                "explanation": f"value {_j(value)} sits at {len(offsets)} offsets of key {_j(self.key)} "
                               f"({_list(offsets)}), as the operations at indices {_list(indices)} show.",
            })
        return out

