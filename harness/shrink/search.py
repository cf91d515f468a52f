"""The searches the shrinking passes are built from: Zeller's ddmin over a list, and
bisection over an integer, each with a batch oracle (``First``) so a pass can judge a
round's candidates in parallel and still choose exactly as sequential evaluation would.
They know nothing of runs: the passes (`harness.shrink.passes`) give them candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: ``first(candidates)``: the index of the first candidate, in order, that still fails
#: the same way, or None. A batch oracle lets a pass evaluate candidates in parallel and
#: still choose exactly as sequential evaluation would.
First = Callable[[list[Any]], "int | None"]


def _sequential(test: Callable[[Any], bool]) -> First:
    return lambda cands: next((i for i, c in enumerate(cands) if test(c)), None)


def ddmin(items: Sequence[T], test: Callable[[list[T]], bool] | None = None, *,
          first: First | None = None) -> list[T]:
    """A 1-minimal subsequence of ``items`` for which ``test`` holds (``test(items)`` must).

    Instead of ``test``, ``first`` may judge a round's candidates together (subsets first,
    then complements, as Zeller's ddmin tries them one by one)."""
    if first is None:
        assert test is not None
        first = _sequential(test)
    items = list(items)
    if not items:
        return items
    if first([[]]) == 0:
        return []
    n = 2
    while len(items) >= 2:
        chunks = [items[len(items) * k // n: len(items) * (k + 1) // n] for k in range(n)]
        cands = list(chunks)
        if n > 2:  # with two chunks the complements are the chunks
            cands += [[x for j, c in enumerate(chunks) if j != k for x in c] for k in range(n)]
        i = first(cands)
        if i is not None:
            items, n = cands[i], (2 if i < n else max(n - 1, 2))
            continue
        if n >= len(items):
            break
        n = min(2 * n, len(items))
    return items


def shrink_int(value: int, lowest: int, test: Callable[[int], bool] | None = None, *,
               first: First | None = None, width: int = 1, hints: Iterable[int] = ()) -> int:
    """The smallest value found by search in [lowest, value] for which ``test`` holds
    (``test(value)`` must); exact when ``test`` is monotone, a good guess otherwise.

    Bisection; with ``first`` and ``width`` k, each round probes k values at once (a
    (k+1)-ary search). ``hints`` are guesses tried in the first round, beside ``lowest``."""
    if first is None:
        assert test is not None
        first = _sequential(test)
    if value <= lowest:
        return value
    lo, hi = lowest - 1, value  # lo fails (or is below the range), hi holds
    probes = sorted({lowest, *(h for h in hints if lowest < h < value)})
    while True:
        if len(probes) < width:
            a = max(probes, default=lo)
            probes += [a + (hi - a) * k // (width - len(probes) + 1) for k in range(1, width - len(probes) + 1)]
            probes = sorted({p for p in probes if lo < p < hi})
        if not probes:
            return hi
        i = first(probes)
        if i is None:
            lo = probes[-1]
        else:
            hi = probes[i]
            lo = probes[i - 1] if i > 0 else lo
        probes = []
