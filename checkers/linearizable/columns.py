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
conditions: dicts, increasing indices, clean pairing; every key on its invoke) and says
None at the first thing otherwise, leaving it to that way, which names any problem.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Sequence
from operator import itemgetter
from typing import Any

from ..history import _ATOMS, INFINITY, OpRecord, freeze, pair_records, record_at
from .models import IDENTITY, _Unsupported

__all__ = ["EventParts", "event_parts"]

#: (partitions, in `search._Part` shape with invoke positions for ops; the info class of
#: each info op by its invoke position; the number of operations, failed ones not counted;
#: `records`: their ids and records as `checkers.history.pair_records` gives them, for a
#: few ops by their invoke positions)
EventParts = tuple[list[tuple[Any, ...]], dict[int, Hashable | None], int,
                   Callable[[Sequence[int]], list[tuple[int, OpRecord]]]]


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
    and the number of operations. None when the events are not the usual history or the
    model rejects an op (see the module docstring)."""
    atoms = _ATOMS
    frz = freeze
    inf = INFINITY
    identity = IDENTITY
    n = len(events)
    # By invoke position: the completion's position (INFINITY for an info op; None while
    # open or when it failed) and the compiled step.
    ret_at: list[Any] = [None] * n
    fn_at: list[Any] = [None] * n
    open_at: dict[int, int] = {}  # process -> its open invoke's position
    calls_of: dict[Any, list[int]] = {}  # key -> its invokes' positions, in order
    no_key: set[int] = set()  # invokes without a key (by_key): their completion must have none either
    classes: dict[int, Hashable | None] = {}
    info_done: dict[int, int] = {}  # info op's invoke position -> its completion's
    odd: set[Any] = set()  # keys with an op that failed, is indeterminate or changes nothing
    n_failed = 0
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
                continue  # nemesis and other non-client processes
            typ = event["type"]
            if typ == "invoke":
                if proc in open_at:
                    return None
                open_at[proc] = pos
                key = None
                if by_key:
                    key = event.get("key")
                    if key is None:
                        no_key.add(pos)
                    elif type(key) not in atoms:
                        key = frz(key)
                calls = calls_of.get(key)
                if calls is None:
                    calls_of[key] = [pos]
                else:
                    calls.append(pos)
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
                if no_key and call in no_key and event.get("key") is not None:
                    return None  # its key is on the completion: the general way
                if fn is identity:
                    odd.add(_key_of(invoke, by_key))
            elif typ == "info":
                invoke = events[call]
                f, value = invoke["f"], invoke["value"]
                if type(value) not in atoms:
                    value = frz(value)
                key = invoke.get("key")
                if key is None:
                    key = event.get("key")
                    if by_key and key is not None:
                        return None
                if type(key) not in atoms:
                    key = frz(key)
                ret_at[call] = inf
                fn_at[call] = compile_value(f, value)
                classes[call] = _info_class(f, key, value)
                info_done[call] = pos
                odd.add(key if by_key else None)
            elif typ == "fail":
                n_failed += 1
                odd.add(_key_of(events[call], by_key))
            else:
                return None
        for call in open_at.values():  # invoked and never completed: may happen any time later
            invoke = events[call]
            f, key, value = invoke["f"], invoke.get("key"), invoke["value"]
            if type(key) not in atoms:
                key = frz(key)
            if type(value) not in atoms:
                value = frz(value)
            ret_at[call] = inf
            fn_at[call] = compile_value(f, value)
            classes[call] = _info_class(f, key, value)
            odd.add(key if by_key else None)
    except (KeyError, TypeError, AttributeError, _Unsupported):  # a field missing, an op the model rejects
        return None

    n_ops = sum(map(len, calls_of.values())) - n_failed
    # (first op not failed, key, columns...): partitions are in the order of their first
    # op that did not fail, as pairing and then partitioning give them
    parts: list[tuple[Any, ...]] = []
    for key, calls in calls_of.items():
        if key not in odd:  # every op completed ok and does something: the columns as they are
            parts.append((calls[0], key, calls, calls, [ret_at[c] for c in calls], [fn_at[c] for c in calls],
                          [], [], []))
            continue
        ok_ops: list[int] = []
        ok_ret: list[Any] = []
        ok_fns: list[Any] = []
        info_ops: list[int] = []
        info_fns: list[Any] = []
        first = None
        for c in calls:
            ret = ret_at[c]
            if ret is None:  # failed
                continue
            if first is None:
                first = c
            fn = fn_at[c]
            if fn is identity:  # runs anywhere, changes nothing: no need to place it
                continue
            if ret != inf:
                ok_ops.append(c)
                ok_ret.append(ret)
                ok_fns.append(fn)
            else:
                info_ops.append(c)
                info_fns.append(fn)
        if first is None:  # every op failed: no partition
            continue
        if first != calls[0] and by_key:  # the key as its first op that did not fail has it
            key = _key_of(events[first], by_key)
        parts.append((first, key, ok_ops, ok_ops, ok_ret, ok_fns, info_ops, info_ops, info_fns))

    def records(positions: Sequence[int]) -> list[tuple[int, OpRecord]]:
        """(id, record) of the ops invoked at ``positions``, as `pair_records` gives them
        (an op's id is the number of ops not failed invoked before it): paired again one
        by one, or all of them when they are many."""
        if len(positions) > n_ops // 8:
            all_records = pair_records(events)
            id_at = {rec[5]: i for i, rec in enumerate(all_records)}
            return [(id_at[c], all_records[id_at[c]]) for c in positions]
        done = sorted(c for calls in calls_of.values() for c in calls if ret_at[c] is not None)
        return [(bisect_left(done, c), record_at(events, c, info_done.get(c) if ret_at[c] == inf else ret_at[c]))
                for c in positions]

    if not parts:
        return [(None, [], [], [], [], [], [], [])], classes, n_ops, records
    parts.sort(key=itemgetter(0))
    return [p[1:] for p in parts], classes, n_ops, records


def _key_of(invoke: dict[str, Any], by_key: bool) -> Any:
    """The partition key of an op whose key is on its invoke (or nowhere)."""
    if not by_key:
        return None
    key = invoke.get("key")
    return key if type(key) in _ATOMS else freeze(key)
