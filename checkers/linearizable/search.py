"""Wing–Gong / Lowe linearizability search, as in Porcupine's ``checkSingle``.

Theory of operation
-------------------
Each completed ("ok") operation contributes a *call* entry and a *return* entry to a
doubly linked list ordered by history position. The search walks the list from the
head: at a call entry it tries to apply the operation to the current model state; if
the model accepts and the pair (set of linearized operations, new state) is not in the
cache, the operation is *lifted* (its call and return entries unlinked), pushed on the
stack, and the walk restarts at the head. Reaching a return entry means that operation
had to be linearized by now and was not: backtrack (pop, *unlift*, go on after the
popped call). The history is linearizable when every ok operation is lifted; it is not
when backtracking empties the stack. Lowe's cache of (linearized set, state) pairs
keeps the search from exploring the same configuration twice; the set is Porcupine's
bitset cut in two small ints (see `_search`) so entries stay small on long histories.

Info operations (and invokes never completed) may take effect at any point after their
invoke, or never: their return is at +infinity. They live in a second list of call
entries and are tried only when the walk is stuck at a return entry (candidates: info
ops invoked before that return). Trying completed ops first and indeterminate ones only
when needed is the same search in a different order — every candidate is still tried at
every node — but it avoids eagerly applying a stale info write at every step. Success
needs only the ok operations: the info ops left over never happened.

Info ops make the configurations many: the same ok ops and state, reached with different
sets of info ops. Fewer info ops used is never worse (those left may still happen or
not), so the cache keeps, per (ok ops linearized, state), the sets of info ops it was
reached with, and a configuration whose set contains one of those is *subsumed*: it is
not explored again. Linearizing an info op right after another that the same op would
have overwritten anyway (a crashed write after a crashed write) is skipped too: the node
before them tries the second alone; so is a crashed op where a later crashed one it could
stand in for does the same (a crashed write of 1 where a crashed cas 0->1 would do). And
a partition still undecided after some thousands of steps is checked for an ok op that
no reachable state lets run (a read of a value nothing wrote): it cannot be
linearizable, and the search only goes on to the point where that op must come next, the
counterexample. `_search` says why each prunes no verdict.

Partitions (P-compositionality: per key for registers and kv) are independent searches.
They run smallest first, each with an equal share of the time left, and those that ran
out are resumed round-robin with what remains, so a hard key cannot hide an easy key's
counterexample. The first partition that fails decides the verdict.

The search loop is written for CPython: plain ints and lists, no attribute access,
one precompiled ``state -> state | FAIL`` function per operation. Given events and a
built-in model, the checker never makes an `Op` per operation: it pairs the events,
compiles each op from its f and value (`ValueModel.compile_value`) and partitions them
in one pass over the events (`columns.event_parts`), and makes `Op` values only for the
operations a counterexample names. Events that pass is not for (out of index order, say)
are paired into plain tuples first (`checkers.history.pair_records`, `_record_parts`);
other models, and lists of `Op`, take the general way (`_op_parts`); all give the same
result.
"""

from __future__ import annotations

import gc
import json
import math
import sys
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any

from ..history import INFINITY, HistoryError, Op, OpRecord, pair_records, pair_records_in_order, thaw
from .columns import event_parts
from .models import FAIL, IDENTITY, RECORD_MODELS, Model, ValueModel, _Unsupported, get_model

__all__ = ["Result", "check", "MEMORY_BUDGET", "ENTRY_BYTES"]

#: Iterations between looks at the clock and the cache size. One iteration costs about a
#: microsecond and ``time.monotonic()`` ~50 ns, so this keeps the check under 1% while
#: overshooting a time limit by at most ~1 ms.
CHECK_EVERY = 1024

#: Estimated bytes the caches of all live searches may take. The estimate runs ~1.6x
#: over the real size (an exploding register history stopped at an estimated 640 MiB
#: peaked at 365 MB RSS), so this keeps the process well under 1 GiB with room for the
#: history itself.
MEMORY_BUDGET = 768 * 1024 * 1024

#: Smallest time slice a partition is run or resumed with (seconds): a few thousand
#: search steps, so that with many partitions each still makes progress between the
#: clock checks instead of pausing right after starting.
MIN_SLICE = 0.005
#: The same, in search steps, when the budget is counted in steps (``max_steps``).
MIN_SLICE_STEPS = 20_000


class StepClock:
    """A deterministic clock: it advances by `CHECK_EVERY` each time a search looks at it,
    that is once per `CHECK_EVERY` search steps. With it in place of ``time.monotonic``
    the budget is a number of steps, and the verdict (and where an unknown stopped) is the
    same on every machine under any load."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = 0

    def tick(self) -> int:
        self.steps += CHECK_EVERY
        return self.steps

    def now(self) -> int:
        return self.steps


#: Search steps after which a partition not yet decided is checked for ok operations no
#: reachable state accepts (`_impossible`): easy partitions never pay for it.
IMPOSSIBLE_AFTER = 8 * CHECK_EVERY
#: Once such an operation is found the verdict is "not linearizable"; the search goes on
#: for at most this many steps (not counted against the budget) to reach a point where
#: that operation is the one that must come next, the counterexample.
WITNESS_STEPS = 200_000

#: Partitions with more info ops than this do without `_weaker` (quadratic in them).
MAX_DOMINANCE_INFO = 300

#: Estimated bytes of one cache entry, besides its state and info bitset: a set slot at
#: the set's load factor (~40), the 4-tuple (72), ``low`` and ``window`` (~32 each) and
#: the stack frame that goes with it. Measured ~145 bytes per entry on an exploding
#: register history (tracemalloc); 224 leaves a margin. The state's own size
#: (``sys.getsizeof``, which matters for queues and sets) and the info bitset's are
#: added at each check, as they grow with the history.
ENTRY_BYTES = 224


@dataclass(frozen=True, slots=True)
class Result:
    """The verdict of `check`.

    ``valid`` is True, False or "unknown". For False: ``op`` cannot be linearized after
    the longest linearizable ``prefix`` (op ids, in linearization order) of partition
    ``key``; ``state`` is the model state at the end of that prefix; ``pending`` are the
    other operations that could have come next. For "unknown": ``reason`` ("time limit"
    or "memory"), ``max_prefix`` the longest prefix reached in the first unfinished
    partition, ``unfinished`` one summary per partition left undecided.
    """

    valid: bool | str
    model: str
    ops: int
    partitions: int
    partitions_done: int
    key: Any = None
    op: Op | None = None
    pending: tuple[Op, ...] = ()
    prefix: tuple[int, ...] = ()
    state: Any = None
    reason: str | None = None
    max_prefix: int = 0
    unfinished: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of every field (ops as dicts)."""
        return {
            "valid": self.valid,
            "model": self.model,
            "ops": self.ops,
            "partitions": self.partitions,
            "partitions_done": self.partitions_done,
            "key": thaw(self.key),
            "op": self.op.to_dict() if self.op is not None else None,
            "pending": [op.to_dict() for op in self.pending],
            "prefix": list(self.prefix),
            "state": self.state,
            "reason": self.reason,
            "max_prefix": self.max_prefix,
            "unfinished": [dict(u) for u in self.unfinished],
        }

    def summary(self) -> str:
        """One human line: the verdict and, on failure, the operation that breaks it."""
        if self.valid is True:
            return f"linearizable ({self.ops} ops, {self.partitions} partition(s))"
        key = "" if self.key is None else f" key {_json_text(thaw(self.key))}:"
        if self.valid is False:
            return (
                f"NOT linearizable:{key} {self.op} cannot be linearized after a prefix of "
                f"{len(self.prefix)} ops ending in state {_json_text(self.state)}"
            )
        return (
            f"unknown ({self.reason}):{key} longest prefix {self.max_prefix} ops, "
            f"{self.partitions_done}/{self.partitions} partitions done"
        )


def _json_text(value: Any) -> str:
    """A described state as JSON, as the op beside it is shown (not Python's repr, which
    wrote True, None and single quotes beside the op's true, null and double quotes)."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # a user model's describe() that is not JSON-able
        return repr(value)


# --------------------------------------------------------------------------- the search


#: what the search yields when paused, (max_depth, entries, bytes), and returns when done
Progress = tuple[int, int, int]
Outcome = tuple[str, int, Any]


def _search(ok_ops: Sequence[Any], ok_call: Sequence[Any], ok_ret: Sequence[Any], ok_fns: Sequence[Any],
            info_ops: Sequence[Any], info_call: Sequence[Any], info_fns: Sequence[Any],
            classes: Sequence[Any] | None, init_state: Any, limits: list[Any],
            clock: Callable[[], float] = time.monotonic) -> Generator[Progress, None, Outcome]:
    """Generator: the search over one partition: its ok ops, their calls, returns and
    compiled steps, its info ops, their calls, steps and classes (each list sorted by
    call). The ops themselves (`Op` values or whatever stands for them) are only handed
    back in a counterexample.

    ``limits`` is ``[deadline, max_entries, max_bytes]``, updated by the caller between
    resumptions. Yields ``(max_depth, entries, bytes)`` when ``clock()`` (wall clock, or a
    `StepClock`'s ``tick``) passes the deadline (resume with ``next``); returns ``("ok", max_depth, None)``, ``("fail",
    max_depth, (prefix, state, op, pending))`` or ``("memory", max_depth, None)`` when
    the cache holds more than ``max_entries`` entries or an estimated ``max_bytes``.

    The linearized set is kept as ``(low, window, info_set)``: every ok op numbered below
    ``low`` is linearized, ``window`` is the bitset of the ok ops from ``low`` on, and
    ``info_set`` the bitset of linearized info ops. It is the same set as Porcupine's one
    bitset, but the search mostly linearizes ok ops near the frontier, so the ints stay a
    few words long however long the history: cache entries are ~200 bytes, not n/8.

    ``classes`` (`Model.info_class` of each info op, or None) makes indeterminate ops alike
    interchangeable: of the info ops of one class only the earliest invoked one not yet
    linearized is a candidate. Swapping one for an earlier-invoked twin never breaks a
    linearization (the twin may take effect wherever the later one did, and neither has
    a return), so this prunes nothing but repeats; the linearized info ops of a class
    are always the first few of it, and a history with many crashed writes of a few
    values no longer has a search space of every subset of them.

    Subsumption: the cache maps ``(low, window, state)`` to the info sets explored with
    it (an int, or a list of ints none a subset of another). A configuration whose info
    set includes a stored one is pruned: every way to finish from it (a sequence of ops
    to linearize) also finishes from the stored one, which has every info op it has still
    to use (for twins, up to swapping in an earlier-invoked twin). The argument that
    nothing but repeats is pruned: if the search ends "fail" while some explored
    configuration could finish, take one whose shortest way to finish is shortest; it was
    expanded fully, so the first step of that way was either explored (shorter:
    contradiction) or pruned by a stored configuration that finishes in as few steps
    (contradiction again).

    Sleep: at a node reached from node P by info op ``a``, info op ``b`` is not tried
    when ``b`` applied to P's state gives the same state (``a`` was overwritten unseen):
    P tries ``b`` alone, and that configuration, with fewer info ops, subsumes this one;
    if P tried it earlier it is in the cache. Twins of ``a`` are exempt, as P does not
    try them.

    Dominance: info op ``c`` is not tried where a later-invoked info op ``b`` that it
    can stand in for (`_weaker`) is a candidate too and does the same here: linearizing
    ``b`` instead keeps ``c`` available, which can do whatever ``b`` could later, so that
    configuration subsumes this one in the same sense. A chain of such skips ends (each
    goes to a later op, or for sleep to a shallower node), so the argument above holds.

    Impossible ops: at `IMPOSSIBLE_AFTER` steps, `_impossible` lists the ok ops that no
    state reachable by any sequence of the ops accepts. If there is one, no linearization
    exists; the search then runs (at most `WITNESS_STEPS` more steps, never paused) until
    the walk is stuck at such an op's return, and reports that point.
    """
    k = len(ok_ops)
    # Twins (info ops of one class): cls_succ[b] is the next info op of b's class, and
    # skip[b] is True while an earlier twin of b is not linearized (b is no candidate).
    n_info = len(info_ops)
    cls_succ = [-1] * n_info
    skip = [False] * n_info
    if classes is not None:
        last_of: dict[Any, int] = {}
        for b, c in enumerate(classes):
            if c is None:
                continue
            if c in last_of:
                cls_succ[last_of[c]] = b
                skip[b] = True
            last_of[c] = b
    weaker = _weaker(ok_fns, info_fns, classes, init_state)
    HEAD, END, INFO_HEAD, INFO_BASE = 0, 2 * k + 2, 2 * k + 3, 2 * k + 4
    size = INFO_BASE + len(info_ops)
    nxt = [END] * size
    prv = [HEAD] * size
    # The call and return entries in history order: entry 2a+1 at op a's call, 2a+2 at its
    # return. A stable sort by position keeps entries that tie (ops made by hand may) in
    # entry order.
    pos: list[Any] = [None] * (2 * k + 1)
    pos[1::2] = ok_call
    pos[2::2] = ok_ret
    prev = HEAD
    for e in sorted(range(1, 2 * k + 1), key=pos.__getitem__):
        nxt[prev] = e
        prv[e] = prev
        prev = e
    nxt[prev] = END
    if info_ops:  # sorted by call already
        nxt[INFO_HEAD : size - 1] = range(INFO_BASE, size)
        prv[INFO_BASE:size] = range(INFO_HEAD, size - 1)

    remaining = k
    low = window = info_set = 0
    state = init_state
    stack: Any = None  # persistent list of frames (entry, state, bound, low, window, info_set, parent)
    # The depth of the stack is k - remaining + info_depth (info ops on it), worked out
    # only where it matters; max_depth is brought up to date before the stack shrinks
    # (only where the walk is stuck) and at each exit.
    info_depth = max_depth = 0
    best_depth = -1
    best: Any = None
    # (low, window, state) -> the info sets explored with it: an int, or a list of ints
    # (an antichain) when there are several; see `_search`'s docstring.
    cache: dict[Any, Any] = {(0, 0, init_state): 0}
    cache_get = cache.get
    # entries: one per key, and for each key holding a list of info sets, one per extra set
    n_extra = 0
    added: int | None
    monotonic = clock
    getsizeof = sys.getsizeof
    steps = 0
    doomed: list[bool] | None = None  # ok ops no reachable state lets run, once looked for
    doomed_until = 0
    doomed_best: Any = None
    check_every, impossible_after = CHECK_EVERY, IMPOSSIBLE_AFTER  # module globals, for tests
    fail = FAIL
    next_check = check_every  # (a comparison is cheaper than ``steps % check_every`` in CPython)
    if not remaining:
        return ("ok", 0, None)

    def counterexample(at: tuple[Any, ...]) -> tuple[Any, ...]:
        return _counterexample(ok_ops, ok_call, ok_ret, info_ops, info_call, INFO_BASE, at)

    def admit(key: Any, got: Any, new: int) -> int | None:
        """Store ``new`` beside the info sets ``got`` already explored with ``key``, unless
        one of them is a subset of it; drops those that are supersets of it. Returns the
        change in the number of stored sets (negative when ``new`` replaces several), or
        None when ``new`` is subsumed."""
        if type(got) is int:
            if got & new == got:
                return None
            if got & new == new:
                cache[key] = new
                return 0
            cache[key] = [got, new]
            return 1
        kept = []
        for old in got:
            both = old & new
            if both == old:
                return None
            if both != new:  # not a superset of new: stays
                kept.append(old)
        kept.append(new)
        cache[key] = kept
        return len(kept) - len(got)

    entry = nxt[HEAD]
    while True:
        steps += 1
        if steps == next_check:
            next_check += check_every
            depth = k - remaining + info_depth
            if depth > max_depth:
                max_depth = depth
            n_entries = len(cache) + n_extra
            per_entry = ENTRY_BYTES + getsizeof(state) + getsizeof(info_set)
            if doomed is not None:  # the verdict is known; a witness is being looked for
                if steps >= doomed_until or n_entries > limits[1] or n_entries * per_entry > limits[2]:
                    return ("fail", max_depth, counterexample(best or doomed_best))
            elif n_entries > limits[1] or n_entries * per_entry > limits[2]:
                return ("memory", max_depth, None)
            else:
                if steps == impossible_after:
                    impossible = _impossible(ok_fns, info_fns, init_state)
                    if impossible:
                        doomed = [False] * k
                        for a in impossible:
                            doomed[a] = True
                        doomed_until = steps + WITNESS_STEPS
                        doomed_best = (None, init_state, 2 * impossible[0] + 2, 0, 0, 0)
                if doomed is None and monotonic() > limits[0]:
                    yield (max_depth, n_entries, n_entries * per_entry)
        if entry & 1:  # a call: try to linearize it here
            a = entry >> 1
            new_state = ok_fns[a](state)
            if new_state is not fail:
                if a != low:
                    new_window = window | (1 << (a - low))
                    new_low = low
                elif window == 0:  # the lowest op, and none after it linearized
                    new_window = 0
                    new_low = low + 1
                else:  # the lowest op: slide the window past the run of linearized ops
                    new_window = window | 1
                    t = (~new_window & (new_window + 1)).bit_length() - 1
                    new_window >>= t
                    new_low = low + t
                key = (new_low, new_window, new_state)
                got = cache_get(key)
                if got is None:
                    cache[key] = info_set
                elif got == info_set or (added := admit(key, got, info_set)) is None:
                    entry = nxt[entry]  # explored already, with these info ops or fewer
                    continue
                else:
                    n_extra += added
                stack = (entry, state, 0, low, window, info_set, stack)
                low = new_low
                window = new_window
                state = new_state
                p = prv[entry]
                n = nxt[entry]
                nxt[p] = n
                prv[n] = p
                r = entry + 1
                p = prv[r]
                n = nxt[r]
                nxt[p] = n
                prv[n] = p
                remaining -= 1
                if not remaining:
                    return ("ok", max(max_depth, k + info_depth), None)
                entry = nxt[HEAD]
                continue
            entry = nxt[entry]
            continue

        # A return entry: its op had to be linearized by now. Remember the deepest such
        # dead end for the counterexample, then try info ops invoked before it.
        depth = k - remaining + info_depth
        if depth > max_depth:
            max_depth = depth
        if depth > best_depth:
            best_depth = depth
            best = (stack, state, entry, low, window, info_set)
        if doomed is not None and doomed[(entry >> 1) - 1]:  # no state lets it run: done
            return ("fail", max_depth, counterexample((stack, state, entry, low, window, info_set)))
        bound = ok_ret[(entry >> 1) - 1]
        ie = nxt[INFO_HEAD]
        while True:
            # When the last step was an info op (its frame on top), the node before it
            # tries the same candidates: ``last_b`` is that op, ``last_state`` the state
            # it was applied to (see "sleep" in `_search`'s docstring).
            if stack is not None and stack[2]:
                last_b = stack[0] - INFO_BASE
                last_state = stack[1]
            else:
                last_b = -1
            while ie != END and info_call[ie - INFO_BASE] < bound:
                b = ie - INFO_BASE
                if skip[b]:  # an earlier twin is not linearized: it goes first
                    ie = nxt[ie]
                    continue
                fn = info_fns[b]
                new_state = fn(state)
                if new_state is not fail and (last_b < 0 or cls_succ[last_b] == b
                                              or fn(last_state) != new_state):
                    if weaker[b]:  # a weaker op that does the same here goes instead
                        for w in weaker[b]:
                            if not (info_set >> w) & 1 and not skip[w] and info_call[w] < bound \
                                    and info_fns[w](state) == new_state:
                                break
                        else:
                            w = -1
                        if w >= 0:
                            ie = nxt[ie]
                            continue
                    new_info = info_set | (1 << b)
                    key = (low, window, new_state)
                    got = cache_get(key)
                    if got is None:
                        cache[key] = new_info
                        added = 0
                    else:
                        added = admit(key, got, new_info)
                    if added is not None:
                        n_extra += added
                        stack = (ie, state, bound, low, window, info_set, stack)
                        info_set = new_info
                        state = new_state
                        if cls_succ[b] >= 0:
                            skip[cls_succ[b]] = False
                        info_depth += 1
                        p = prv[ie]
                        n = nxt[ie]
                        nxt[p] = n
                        prv[n] = p
                        break
                ie = nxt[ie]
            else:
                # No candidate left at this node: backtrack.
                if stack is None:
                    return ("fail", max_depth, counterexample(best))
                e, state, bound, low, window, info_set, stack = stack
                if bound:  # an info op: put it back, go on with the info candidates
                    info_depth -= 1
                    nxt[prv[e]] = e
                    prv[nxt[e]] = e
                    if cls_succ[e - INFO_BASE] >= 0:
                        skip[cls_succ[e - INFO_BASE]] = True
                    ie = nxt[e]
                    continue
                r = e + 1
                nxt[prv[r]] = r
                prv[nxt[r]] = r
                nxt[prv[e]] = e
                prv[nxt[e]] = e
                remaining += 1
                entry = nxt[e]
                break
            entry = nxt[HEAD]  # an info op was linearized: walk from the head again
            break


def _states(fns: Sequence[Any], init_state: Any, max_states: int = 256, max_calls: int = 200_000) -> set[Any] | None:
    """The states reachable from ``init_state`` by any sequence of ``fns``, real time
    ignored: a superset of those any linearization passes through. None when there are
    too many to list (appends)."""
    seen = {init_state}
    todo = [init_state]
    calls = 0
    while todo:
        s = todo.pop()
        calls += len(fns)
        if calls > max_calls:
            return None
        for fn in fns:
            t = fn(s)
            if t is not FAIL and t not in seen:
                if len(seen) >= max_states:
                    return None
                seen.add(t)
                todo.append(t)
    return seen


def _impossible(ok_fns: Sequence[Any], info_fns: Sequence[Any], init_state: Any) -> list[int]:
    """The ok ops (indices) that fail in every state `_states` lists: such an op rules out
    every linearization (a read of a value nothing wrote). Empty when there is none, or
    when the states are too many to list."""
    seen = _states([*ok_fns, *info_fns], init_state)
    if seen is None:
        return []
    return [a for a, fn in enumerate(ok_fns) if all(fn(s) is FAIL for s in seen)]


def _weaker(ok_fns: Sequence[Any], info_fns: Sequence[Any], classes: Sequence[Any] | None,
            init_state: Any) -> list[tuple[int, ...]]:
    """For each info op ``c``, the info ops ``b`` invoked after it that ``c`` can stand in
    for: in every reachable state where ``b`` runs, ``c`` runs and ends in the same state
    (a crashed write of v stands in for a later crashed cas to v). Twins are left to the
    twin rule. All empty when the reachable states are too many to list."""
    n = len(info_fns)
    weaker: list[tuple[int, ...]] = [()] * n
    if n < 2 or n > MAX_DOMINANCE_INFO:
        return weaker
    universe = _states([*ok_fns, *info_fns], init_state, max_states=64)
    if universe is None:
        return weaker
    outs = [[fn(u) for u in universe] for fn in info_fns]
    for c in range(n):
        found = []
        for b in range(c + 1, n):
            if classes is not None and classes[b] is not None and classes[b] == classes[c]:
                continue
            runs = False
            for ob, oc in zip(outs[b], outs[c]):
                if ob is FAIL:
                    continue
                if oc is FAIL or oc != ob:
                    break
                runs = True
            else:
                if runs:
                    found.append(b)
        weaker[c] = tuple(found)
    return weaker


def _counterexample(ok_ops: Sequence[Any], ok_call: Sequence[Any], ok_ret: Sequence[Any], info_ops: Sequence[Any],
                    info_call: Sequence[Any], info_base: int, best: tuple[Any, ...]) -> tuple[Any, ...]:
    """(prefix ops in order, state after them, the op that cannot follow, other candidates)."""
    stack, state, entry, low, window, info_set = best
    prefix = []
    while stack is not None:
        e = stack[0]
        prefix.append(info_ops[e - info_base] if e >= info_base else ok_ops[e >> 1])
        stack = stack[-1]
    prefix.reverse()
    stuck = (entry >> 1) - 1
    ret = ok_ret[stuck]
    pending = [
        (ok_call[a], ok_ops[a]) for a in range(low, len(ok_ops))
        if not (window >> (a - low)) & 1 and ok_call[a] < ret and a != stuck
    ]
    pending += [(info_call[b], o) for b, o in enumerate(info_ops) if not (info_set >> b) & 1 and info_call[b] < ret]
    pending.sort(key=itemgetter(0))
    return prefix, state, ok_ops[stuck], tuple(o for _, o in pending)


# --------------------------------------------------------------------------- driver


class _Task:
    """One partition: how many ops it has, the paused search and what it reported last."""

    __slots__ = ("key", "n_ops", "gen", "limits", "max_depth", "entries", "bytes", "outcome", "ok_ops", "ok_ret")

    def __init__(self, key: Any, n_ops: int, searcher: Generator[Progress, None, Outcome], limits: list[Any]) -> None:
        self.key = key
        self.n_ops = n_ops
        self.limits = limits  # the searcher's: what `run` sets, it sees
        self.gen: Generator[Progress, None, Outcome] | None = searcher
        self.max_depth = 0
        self.entries = 0
        self.bytes = 0
        self.outcome: Outcome | None = None
        # the partition's ok ops and returns, where a counterexample needs them (`columns`)
        self.ok_ops: Sequence[Any] = ()
        self.ok_ret: Sequence[Any] = ()

    def run(self, deadline: float, max_entries: float, max_bytes: float) -> str:
        """Run until done or the deadline; returns "ok", "fail", "memory" or "paused"."""
        self.limits[:] = [deadline, max_entries, max_bytes]
        assert self.gen is not None, "the partition's search is over"
        try:
            self.max_depth, self.entries, self.bytes = next(self.gen)
            return "paused"
        except StopIteration as stop:
            outcome: Outcome = stop.value
            self.outcome = outcome
            self.max_depth = outcome[1]
            self.gen = None  # frees the cache
            if outcome[0] != "fail":
                self.ok_ops = self.ok_ret = ()
            self.entries = self.bytes = 0
            return outcome[0]


#: one partition to search: its key, then its ok ops with their calls, returns and
#: compiled steps, and its info ops with their calls and steps, each list in call order
_Part = tuple[Any, Sequence[Any], Sequence[Any], Sequence[Any], Sequence[Any], Sequence[Any], Sequence[Any],
              Sequence[Any]]


def _op_parts(ops: list[Op], mdl: Model) -> Generator[_Part, None, None]:
    """The partitions of a list of `Op`, with the model's own ``partition`` and
    ``compile`` (which raises `ModelError` on an op it does not know)."""
    parts = mdl.partition(ops) or {None: ops}
    compile_op, call_of = mdl.compile, attrgetter("call")
    for key, part in parts.items():
        ok_ops: list[Op] = []
        ok_fns: list[Any] = []
        info_ops: list[Op] = []
        info_fns: list[Any] = []
        for op in sorted(part, key=call_of):
            fn = compile_op(op)  # raises ModelError on unknown ops first
            if fn is IDENTITY:  # runs anywhere, changes nothing: no need to place it
                continue
            if op.ret != INFINITY:
                ok_ops.append(op)
                ok_fns.append(fn)
            else:
                info_ops.append(op)
                info_fns.append(fn)
        yield (key, ok_ops, [op.call for op in ok_ops], [op.ret for op in ok_ops], ok_fns,
               info_ops, [op.call for op in info_ops], info_fns)


def _record_parts(records: list[OpRecord], mdl: Any, by_key: bool) -> list[_Part] | None:
    """The partitions of paired records for a built-in model (`RECORD_MODELS`), in one
    pass: the same as `_op_parts` gives for their `Op` values, with op ids standing for
    the ops. None when the model rejects an op: `_op_parts` then says which, as it always
    did. (One plain loop: on CPython it beats building the columns with zip and map.)"""
    compile_value = mdl.compile_value
    inf = INFINITY
    # key -> (ok ids, their calls, returns, steps, info ids, their calls, steps)
    parts: dict[Any, tuple[list[Any], ...]] = {}
    try:
        for i, rec in enumerate(records):
            key = rec[2] if by_key else None
            p = parts.get(key)
            if p is None:
                p = parts[key] = ([], [], [], [], [], [], [])
            fn = compile_value(rec[1], rec[3])
            if fn is IDENTITY:  # runs anywhere, changes nothing: no need to place it
                continue
            ret = rec[6]
            if ret != inf:
                p[0].append(i)
                p[1].append(rec[5])
                p[2].append(ret)
                p[3].append(fn)
            else:
                p[4].append(i)
                p[5].append(rec[5])
                p[6].append(fn)
    except _Unsupported:
        return None
    if not parts:
        return [(None, [], [], [], [], [], [], [])]
    return [(key, *p) for key, p in parts.items()]


def _value_class(rec: OpRecord) -> Any:
    """`Model.info_class` of a record's op, for a model with ``pure_compile``."""
    c = (rec[1], rec[2], rec[3])
    try:
        hash(c)
    except TypeError:
        return None
    return c


def check(
    events_or_ops: Iterable[dict[str, Any]] | Iterable[Op],
    model: str | Model,
    initial: Any = None,
    time_limit: float | None = None,
    max_cache_entries: int | None = None,
    max_steps: int | None = None,
) -> Result:
    """Is the history linearizable with respect to ``model`` started from ``initial``?

    ``events_or_ops``: history events (dicts, paired with Jepsen semantics) or `Op`s.
    ``time_limit``: seconds of wall clock for the search (None: no limit).
    ``max_cache_entries``: cap on the search caches, all live partitions together
    (default: no cap on entries; their estimated size is capped at `MEMORY_BUDGET`).
    ``max_steps``: a budget of search steps instead of seconds (about a microsecond each):
    the verdict no longer depends on the machine or its load. Not with ``time_limit``.
    Past any limit the verdict is "unknown".
    Raises `HistoryError` / `ModelError` on malformed input.
    """
    # The cyclic garbage collector would scan the growing lists of ops and search frames
    # again and again (a third of the time on long histories); nothing here makes cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _check(events_or_ops, model, initial, time_limit, max_cache_entries, max_steps)
    finally:
        if enabled:
            gc.enable()


def _check(
    events_or_ops: Iterable[dict[str, Any]] | Iterable[Op],
    model: str | Model,
    initial: Any,
    time_limit: float | None,
    max_cache_entries: int | None,
    max_steps: int | None,
) -> Result:
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be > 0, got {time_limit!r}")
    if max_steps is not None:
        if time_limit is not None:
            raise ValueError("give time_limit or max_steps, not both")
        if not (isinstance(max_steps, int) and max_steps > 0):
            raise ValueError(f"max_steps must be an int > 0, got {max_steps!r}")
        steps = StepClock()
        clock: Callable[[], float]
        now_fn: Callable[[], float]
        budget: float | None
        min_slice: float
        clock, now_fn, budget = steps.tick, steps.now, max_steps
        min_slice, limit_reason = MIN_SLICE_STEPS, "step budget"
    else:
        clock, now_fn, budget = time.monotonic, time.monotonic, time_limit
        min_slice, limit_reason = MIN_SLICE, "time limit"
    mdl = get_model(model)
    # (no copy of a list of events: the pairing reads it once, and it stays the caller's)
    items: list[Any] = events_or_ops if type(events_or_ops) is list else list(events_or_ops)
    by_key = RECORD_MODELS.get(type(mdl))
    # The usual events and a built-in model: pairing, compiling and partitioning in one
    # pass, each op standing for itself by its invoke's position (`columns`).
    fused = event_parts(items, mdl.compile_value, by_key) \
        if by_key is not None and isinstance(mdl, ValueModel) and items and type(items[0]) is dict else None
    parts: Iterable[_Part] | None = None
    records: list[OpRecord] | None = None
    one_pass = fused is not None
    fused_classes: dict[int, Any] = {}
    if fused is not None:
        parts, fused_classes, n_ops, records_at = fused
        fused = None
    else:
        # The usual events are paired in one pass that also tells they are all dicts; else
        # look at the types first (a few, however long the history).
        records = pair_records_in_order(items) if items and type(items[0]) is dict else None
        kinds = {dict} if records is not None else set(map(type, items))
        if all(issubclass(t, Op) for t in kinds):
            ops: list[Any] = list(items)
        elif all(issubclass(t, dict) for t in kinds):
            if records is None:
                records = pair_records(items)
            if by_key is not None:
                parts = _record_parts(records, mdl, by_key)
            if parts is None:  # a model of the user's, or an op the built-in one rejects
                ops = [Op(i, *rec) for i, rec in enumerate(records)]
                records = None
            else:
                ops = records
        else:
            raise HistoryError("check() wants a list of event dicts or a list of Op")
        if parts is None:
            parts = _op_parts(ops, mdl)
        n_ops = len(ops)

    tasks: list[_Task] = []
    info_class = mdl.info_class
    for key, ok_ops, ok_call, ok_ret, ok_fns, info_ops, info_call, info_fns in parts:
        if not info_ops:
            classes = None
        elif one_pass:
            classes = [fused_classes[c] for c in info_ops]
        elif records is None:
            classes = [info_class(op) for op in info_ops]
        else:  # `Model.info_class` of a built-in model, on the records
            classes = [_value_class(records[i]) for i in info_ops]
        init_state = mdl.init(mdl.initial_for(key, initial))
        limits = [math.inf, math.inf, math.inf]
        searcher = _search(ok_ops, ok_call, ok_ret, ok_fns, info_ops, info_call, info_fns, classes, init_state,
                           limits, clock)
        task = _Task(key, len(ok_ops) + len(info_ops), searcher, limits)
        if one_pass:
            task.ok_ops, task.ok_ret = ok_ops, ok_ret
        tasks.append(task)
    tasks.sort(key=lambda t: t.n_ops)
    parts, fused_classes = None, {}  # (the searches hold what they need)

    max_entries: float = math.inf if max_cache_entries is None else max_cache_entries

    def result(valid: bool | str, **fields: Any) -> Result:
        return Result(
            valid=valid,
            model=mdl.name,
            ops=n_ops,
            partitions=len(tasks),
            partitions_done=done,
            **fields,
        )

    def failure(task: _Task) -> Result:
        assert task.outcome is not None
        prefix, state, op, pending = task.outcome[2]
        if records is None and not one_pass:  # `Op` values
            return result(False, key=task.key, op=op, pending=tuple(pending), prefix=tuple(o.id for o in prefix),
                          state=mdl.describe(state), max_prefix=task.max_depth)
        if records is not None:
            as_op = {i: Op(i, *records[i]) for i in (*prefix, op, *pending)}
        else:  # the one-pass way: ops are invoke positions; only these are paired again
            named = (*prefix, op, *pending)
            as_op = {c: Op(i, *rec) for c, (i, rec) in zip(named, records_at(named, task.ok_ops, task.ok_ret))}
        return result(
            False,
            key=task.key,
            op=as_op[op],
            pending=tuple(as_op[o] for o in pending),
            prefix=tuple(as_op[o].id for o in prefix),
            state=mdl.describe(state),
            max_prefix=task.max_depth,
        )

    def run(task: _Task, deadline: float) -> str:
        """Resume ``task`` with what the paused searches leave of the memory budgets."""
        others = [t for t in paused if t is not task]
        return task.run(
            deadline,
            max_entries - sum(t.entries for t in others),
            MEMORY_BUDGET - sum(t.bytes for t in others),
        )

    done = 0
    paused: list[_Task] = []
    out_of_memory: list[_Task] = []
    start = now_fn()
    deadline_total = start + budget if budget is not None else math.inf

    # Phase 1: smallest partition first, each with an equal share of the time left.
    for n, task in enumerate(tasks):
        now = now_fn()
        if budget is None:
            deadline = math.inf
        else:
            deadline = min(deadline_total, now + max((deadline_total - now) / (len(tasks) - n), min_slice))
        status = run(task, deadline)
        if status == "fail":
            return failure(task)
        if status == "ok":
            done += 1
        elif status == "paused":
            paused.append(task)
        else:
            out_of_memory.append(task)

    # Phase 2: resume the partitions that ran out, round robin, until time is up.
    while paused and now_fn() < deadline_total:
        for task in list(paused):
            now = now_fn()
            if now >= deadline_total:
                break
            deadline = min(deadline_total, now + max((deadline_total - now) / len(paused), min_slice))
            status = run(task, deadline)
            if status == "paused":
                continue
            paused.remove(task)
            if status == "fail":
                return failure(task)
            if status == "ok":
                done += 1
            else:
                out_of_memory.append(task)

    if not paused and not out_of_memory:
        return result(True, max_prefix=max((t.max_depth for t in tasks), default=0))
    unfinished = sorted(paused + out_of_memory, key=lambda t: t.n_ops)
    first = unfinished[0]
    return result(
        "unknown",
        key=first.key,
        reason=limit_reason if paused else "memory",
        max_prefix=first.max_depth,
        unfinished=tuple(
            {
                "key": thaw(t.key),
                "ops": t.n_ops,
                "max_prefix": t.max_depth,
                "reason": limit_reason if t in paused else "memory",
            }
            for t in unfinished
        ),
    )

