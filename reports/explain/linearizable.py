"""A linearizability failure in words, as Knossos and Porcupine show one: the longest
linearizable prefix, the operation that cannot come next, what was pending, and the
operations on the key around them (the history re-paired the way the checker paired it,
the model's state replayed along the prefix)."""

from __future__ import annotations

import json
from typing import Any

from reports.explain.views import Anomaly, CheckerView, LinFailure, LinStep
from reports.explain.words import key_words, op_where, op_words
from reports.rundata import Operation, RunData, fmt_value


def _linearizable(run: RunData, name: str, res: dict, v: CheckerView) -> None:
    n_ops, parts = res.get("ops"), res.get("partitions")
    valid = res.get("valid")
    model = res.get("model")
    if valid is True:
        v.summary = (f"linearizable: {n_ops} operations on {parts} key(s) have a legal order "
                     f"in the {model} model")
        return
    if valid != "unknown" and valid is not False:
        return
    if valid == "unknown":
        reason = res.get("reason") or "budget"
        v.summary = (f"undecided: the search stopped ({reason}) after a prefix of "
                     f"{res.get('max_prefix')} operations; {res.get('partitions_done')} of {parts} "
                     f"key(s) fully checked")
        for u in res.get("unfinished") or []:
            if isinstance(u, dict):
                v.facts.append((f"key {fmt_value(u.get('key'))}",
                                f"{u.get('ops')} operations, longest prefix {u.get('max_prefix')}, "
                                f"stopped on {u.get('reason')}"))
        return

    lin = lin_failure(run, res)
    failing = lin.failing
    key = res.get("key")
    keytxt = "" if key is None else f" on key {key_words(key)}"
    state = fmt_value(res.get("state"))
    what = op_words(failing)
    where = f" ({op_where(failing)})" if failing is not None else ""
    if failing is not None and failing.f == "read" and failing.type == "ok":
        sentence = (f"A read returned a value no legal order allows: {what}{where}. After the longest "
                    f"linearizable prefix of {lin.prefix_len} operations{keytxt} the {model} holds "
                    f"{state}, and no operation concurrent with the read could have changed it to "
                    f"{fmt_value(failing.result)} in time.")
    elif failing is not None and failing.f == "cas":
        sentence = (f"A compare-and-set succeeded against the wrong value: {what}{where}. After the "
                    f"longest linearizable prefix of {lin.prefix_len} operations{keytxt} the {model} "
                    f"holds {state}, not the value the cas expected.")
    else:
        sentence = (f"{what[:1].upper() + what[1:]}{where} cannot be linearized: after the longest "
                    f"linearizable prefix of {lin.prefix_len} operations{keytxt} the {model} is in "
                    f"state {state}, and neither this operation nor any concurrent one can come next.")
    if lin.pending:
        sentence += (f" {len(lin.pending)} other operation(s) were pending then; none of them can come "
                     f"next either.")
    kind = "nonlinearizable" if v.counted else "stale-read (expected)"
    ops = [failing] if failing is not None else []
    ops += [o for o in lin.pending if o is not failing]
    v.anomalies.append(Anomaly(kind=kind, sentence=sentence, anchor=v.anchor + "-a1", ops=ops,
                               time=failing.start if failing is not None else None))
    v.summary = (f"not linearizable{keytxt}: {what} cannot be placed after a linearizable prefix of "
                 f"{lin.prefix_len} operations")
    v.lin = lin


def _checked_events(run: RunData, reads: bool) -> list[dict]:
    if reads:
        return run.history
    return [e for e in run.history if e.get("f") != "read"]


def lin_failure(run: RunData, res: dict, before: int = 12, max_window: int = 60) -> LinFailure:
    """The operations around a linearizability failure, with their place in the prefix.

    The checker names operations by op id (their position among non-failed operations of
    the history it was given), so we pair the history again the way it does — all events,
    or writes and cas only for the "reads are local" scope — and keep the pairing whose op
    id matches the failing op's recorded history index. ``before`` is how many of the last
    linearized operations to show; the window adds every operation on the key that
    overlaps them or the failing op.
    """
    raw_op = res.get("op")
    op_json: dict[str, Any] = raw_op if isinstance(raw_op, dict) else {}
    fail_inv = op_json.get("invoke_index")
    failing = run.op_by_index.get(fail_inv) if isinstance(fail_inv, int) else None
    prefix_ids = [i for i in res.get("prefix") or [] if isinstance(i, int)]
    pending = []
    for p in res.get("pending") or []:
        if isinstance(p, dict) and isinstance(p.get("invoke_index"), int):
            o = run.op_by_index.get(p["invoke_index"])
            if o is not None:
                pending.append(o)

    id_to_op: dict[int, Any] = {}
    try:
        from checkers.history import pair_operations

        scope = str(res.get("scope") or "")
        orders = (False, True) if scope.startswith("writes") else (True, False)
        for reads in orders:
            try:
                cops = pair_operations(_checked_events(run, reads))
            except Exception:
                continue
            oid = op_json.get("id")
            if isinstance(oid, int) and 0 <= oid < len(cops) and cops[oid].invoke_index == fail_inv:
                id_to_op = {o.id: o for o in cops}
                break
    except ImportError:
        pass

    steps_all: list[LinStep] = []
    replayed = False
    states: list[Any] = []
    if id_to_op:
        try:
            from checkers.history import freeze, thaw
            from checkers.linearizable.models import FAIL, get_model

            mdl = get_model(str(res.get("model")))
            state = mdl.init(mdl.initial_for(freeze(res.get("key")), None))
            for i in prefix_ids:
                state = mdl.compile(id_to_op[i])(state)
                if state is FAIL:
                    raise ValueError("replay failed")
                states.append(mdl.describe(state))
            replayed = json.dumps(thaw(states[-1]) if states else None, default=str) == json.dumps(
                res.get("state"), default=str) or not prefix_ids
        except Exception:
            replayed = False
    position: dict[int, int] = {}
    for n, i in enumerate(prefix_ids, 1):
        cop = id_to_op.get(i)
        o = run.op_by_index.get(cop.invoke_index) if cop is not None and cop.invoke_index is not None else None
        if o is not None and o.invoke_index is not None:
            position[o.invoke_index] = n
        steps_all.append(LinStep(n, o, states[n - 1] if replayed else None))
    steps = steps_all[-before:]

    # The window: operations on the failing key between the first step shown and the end
    # of the failing op (plus anything pending), per process.
    key = res.get("key")
    shown = [s.op for s in steps if s.op is not None]
    anchors = shown + ([failing] if failing else []) + pending
    window: list[Operation] = []
    if anchors:
        t0 = min(o.start for o in anchors)
        t1 = max((o.end if o.end is not None else o.start) for o in anchors)
        if failing is not None and failing.end is not None:
            t1 = max(t1, failing.end)
        for o in run.operations:
            if key is not None and o.key != key:
                continue
            if o.type == "fail":
                continue
            end = o.end if o.end is not None else run.end_time
            if end >= t0 and o.start <= t1:
                window.append(o)
        if len(window) > max_window:
            must = {id(o) for o in anchors}
            window = [o for o in window if id(o) in must] + [o for o in window if id(o) not in must]
            window = sorted(window[:max_window], key=lambda o: o.start)
    return LinFailure(key=key, model=str(res.get("model")), state=res.get("state"), failing=failing,
                      prefix_len=len(prefix_ids), steps=steps, position=position, pending=pending,
                      window=window, states_replayed=replayed)
