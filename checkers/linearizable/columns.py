"""One pass from history events to the columns the linearizability search reads.

For a built-in model (`models.RECORD_MODELS`), `event_parts` pairs the events, compiles
each operation's step (`ValueModel.compile_value`) and splits the operations by key in
a single loop over the events, making no record or `Op` per operation: an operation
stands for itself by the position of its invoke event. This is the checker's usual way
on a long history (a kv history of many keys and clients spent most of its check time
pairing and partitioning before this).

It gives exactly what pairing (`checkers.history.pair_records`) and then partitioning
(`search._record_parts`) give, with invoke positions in place of op ids: the same
partitions in the same order, the same operations in each in the same order, the same
steps and info classes. It takes only the usual history (`pair_records_in_order`'s
conditions: dicts, increasing indices, clean pairing) and says None at the first thing
otherwise, leaving it to that way, which names any problem; the same for an op the
model rejects. Records (and so `Op` values) are made again only for the few operations a
counterexample names (`EventParts`' last member).

How: an invoke only opens its process's operation; at the completion the op's step is
compiled and its invoke position added to its key's list (failed ops go nowhere). Each
list is sorted once at the end (in C), which puts the ops in invoke order, and the
returns and steps are picked from two arrays indexed by invoke position; the few info
ops, and ops that change nothing, are then taken out by position.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Sequence
from operator import itemgetter
from typing import Any

from ..history import _ATOMS, _CLIENT_ONLY, INFINITY, OpRecord, freeze, pair_records, record_at
from .models import IDENTITY, _Unsupported

__all__ = ["EventParts", "event_parts"]

#: (partitions, in `search._Part` shape with invoke positions for ops; the info class of
#: each info op by its invoke position; the number of operations, failed ones not counted;
#: `records`: their ids and records as `checkers.history.pair_records` gives them, for a
#: few ops by their invoke positions)
EventParts = tuple[list[tuple[Any, ...]], dict[int, Hashable | None], int,
                   Callable[[Sequence[int], Sequence[int], Sequence[Any]], list[tuple[int, OpRecord]]]]


def _info_class(f: Any, key: Any, value: Any) -> Hashable | None:
    """`Model.info_class` of a built-in model's op."""
    c = (f, key, value)
    try:
        hash(c)
    except TypeError:
        return None
    return c


def event_parts(events: list[Any], compile_value: Callable[[Any, Any], Any], by_key: bool) -> EventParts | None:
    """The partitions of ``events`` (by key when ``by_key``), each as ``(key, ok ops, their
    calls, returns, steps, info ops, their calls, steps)`` with every op its invoke's
    position in ``events`` (so the ops and their calls are one list); the info classes;
    the number of operations; and `records`. None when the events are not the usual
    history or the model rejects an op (see the module docstring)."""
    atoms = _ATOMS
    frz = freeze
    inf = INFINITY
    identity = IDENTITY
    n = len(events)
    # By invoke position: the completion's position (INFINITY for an op that may take
    # effect any time later; None for a position that is no invoke, or whose op failed)
    # and the compiled step.
    ret_at: list[Any] = [None] * n
    op_at = bytearray(n)  # 1 at the invoke of each op that did not fail (for the ids of a counterexample's)
    fn_at: list[Any] = [None] * n
    open_at: dict[int, int] = {}  # process -> its open invoke's position
    calls_of: dict[Any, list[int]] = {}  # key -> its ops' invoke positions, as they complete (fails left out)
    odd: dict[Any, list[int]] = {}  # key -> the invoke positions of its info ops and ops that change nothing
    classes: dict[int, Hashable | None] = {}
    last: float = -inf
    try:
        for pos, event in enumerate(events):
            if type(event) is not dict:
                return None
            idx = event["index"]
            if not last < idx:  # (an index that does not compare with ints raises TypeError)
                return None
            last = idx
            proc = event["process"]
            if type(proc) is not int and (isinstance(proc, bool) or not isinstance(proc, int)):
                if event["type"] in _CLIENT_ONLY and proc != "nemesis":
                    return None  # a client with a string id: the general way says so
                continue  # nemesis and other non-client processes
            typ = event["type"]
            if typ == "invoke":
                if proc in open_at:
                    return None
                open_at[proc] = pos
                continue
            call = open_at.pop(proc)  # (KeyError: no open invoke)
            if typ == "ok":
                invoke = events[call]
                value = event["value"]
                if value is None:  # else Jepsen fills the invoke's value from its ok completion
                    value = invoke["value"]
                if type(value) not in atoms:
                    value = frz(value)
                fn = compile_value(invoke["f"], value)
                ret_at[call] = pos
                fn_at[call] = fn
                op_at[call] = 1
                if by_key:
                    key = invoke.get("key")
                    if key is None:
                        key = event.get("key")
                    if type(key) not in atoms:
                        key = frz(key)
                else:
                    key = None
                calls = calls_of.get(key)
                if calls is None:
                    calls_of[key] = [call]
                else:
                    calls.append(call)
                if fn is identity:
                    odd.setdefault(key, []).append(call)
            elif typ == "info":
                _indeterminate(events, call, event, compile_value, by_key, ret_at, fn_at, op_at, calls_of, odd, classes)
            elif typ != "fail":
                return None
        for call in open_at.values():  # invoked and never completed: may happen any time later
            _indeterminate(events, call, None, compile_value, by_key, ret_at, fn_at, op_at, calls_of, odd, classes)
    except (KeyError, TypeError, AttributeError, _Unsupported):  # a field missing, an op the model rejects
        return None

    n_ops = sum(map(len, calls_of.values()))
    # (first op, key, columns...): partitions are in the order of their first op that did
    # not fail, as pairing and then partitioning give them, and their ops in invoke order
    parts: list[tuple[Any, ...]] = []
    for key, calls in calls_of.items():
        head = calls[0]
        calls.sort()
        first = calls[0]
        # the partition's key as its first op has it (one equal to it, 1.0 for 1, may
        # have completed first)
        part_key = key if first == head or not by_key else record_at(events, first, _completion(events, first))[2]
        rets = _pick(ret_at, calls)
        fns = _pick(fn_at, calls)
        info_ops: list[int] = []
        info_fns: list[Any] = []
        for c in sorted(odd.get(key, ()), reverse=True):  # info ops and ops that change nothing, out
            i = bisect_left(calls, c)
            fn = fns[i]
            if fn is not identity:  # (one that changes nothing runs anywhere: no need to place it)
                info_ops.append(c)
                info_fns.append(fn)
            del calls[i], rets[i], fns[i]
        info_ops.reverse()
        info_fns.reverse()
        parts.append((first, part_key, calls, calls, rets, fns, info_ops, info_ops, info_fns))

    def records(positions: Sequence[int], ok_ops: Sequence[int] = (),
                ok_ret: Sequence[Any] = ()) -> list[tuple[int, OpRecord]]:
        """(id, record) of the ops invoked at ``positions``, as `pair_records` gives them
        (an op's id is the number of ops not failed invoked before it): paired again one
        by one, or all of them when they are many. ``ok_ops`` and ``ok_ret``: the ok ops
        and returns of a partition they are in, which tell where those completed."""
        if len(positions) > n_ops // 8:
            all_records = pair_records(events)
            id_at = {rec[5]: i for i, rec in enumerate(all_records)}
            return [(id_at[c], all_records[id_at[c]]) for c in positions]
        id_at = {}
        n_before = seen = 0  # ops not failed invoked before position ``seen``: ``n_before``
        for c in sorted(set(positions)):
            n_before += op_at.count(1, seen, c)
            seen = c
            id_at[c] = n_before
        out = []
        for c in positions:
            i = bisect_left(ok_ops, c)
            done = ok_ret[i] if i < len(ok_ops) and ok_ops[i] == c else _completion(events, c)
            out.append((id_at[c], record_at(events, c, done)))
        return out

    if not parts:
        return [(None, [], [], [], [], [], [], [])], classes, n_ops, records
    parts.sort(key=itemgetter(0))
    return [p[1:] for p in parts], classes, n_ops, records


def _indeterminate(events: list[Any], call: int, completion: dict[str, Any] | None,
                   compile_value: Callable[[Any, Any], Any], by_key: bool, ret_at: list[Any], fn_at: list[Any],
                   op_at: bytearray, calls_of: dict[Any, list[int]], odd: dict[Any, list[int]],
                   classes: dict[int, Hashable | None]) -> None:
    """`event_parts` on an op that crashed (an info ``completion``) or never completed
    (None): it may take effect any time after its invoke, or never."""
    invoke = events[call]
    f, value = invoke["f"], invoke["value"]
    if type(value) not in _ATOMS:
        value = freeze(value)
    key = invoke.get("key")
    if key is None and completion is not None:
        key = completion.get("key")
    if type(key) not in _ATOMS:
        key = freeze(key)
    fn = compile_value(f, value)
    ret_at[call] = INFINITY
    fn_at[call] = fn
    op_at[call] = 1
    classes[call] = _info_class(f, key, value)
    part = key if by_key else None
    calls_of.setdefault(part, []).append(call)
    odd.setdefault(part, []).append(call)


def _pick(values: list[Any], at: list[int]) -> list[Any]:
    """``[values[i] for i in at]``, the loop in C."""
    return list(itemgetter(*at)(values)) if len(at) > 1 else [values[i] for i in at]


def _completion(events: list[Any], call: int) -> int | None:
    """Where the op invoked at ``call`` completed: its process's next event (the pairing
    was checked), None if there is none."""
    proc = events[call]["process"]
    for pos in range(call + 1, len(events)):
        p = events[pos]["process"]
        if p == proc and (type(p) is int or (isinstance(p, int) and not isinstance(p, bool))):
            return pos
    return None
