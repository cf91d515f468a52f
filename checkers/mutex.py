"""Mutual exclusion of the election workload: overlapping masters and stale writes.

The ``election`` workload (workloads/election.py, systems/zab/recipes.py) has database
servers race for the ephemeral ``/master`` znode; the winner acts as master and writes to
a storage service until its lease says it may have lost the session. What must hold:

- **one master at a time**: no two candidates believed they were master at the same
  true (simulator) time. A candidate's belief is the interval between its
  ``master_begin`` and ``master_end`` trace events (true time). The end is when the
  candidate *stopped believing*: when it processed its lease running out, the loss of
  its session or znode, or its release. A paused candidate keeps believing through the
  pause: its memory still says "master", and whatever it had decided to do before the
  pause (a write in preparation) it does when it resumes, without looking again. A
  belief still open at the end of the run lasts until the last trace event.
- **no stale write accepted**: the storage service accepted no write from a stale
  master. Two kinds, read from the storage's ``storage_write`` trace events and the
  candidates' ``master_begin`` events:

  - ``token-regression``: the storage accepted a write whose fencing token (the czxid of
    the writer's ``/master``) is lower than one it had already accepted: an older master
    overwrote a newer one's work.
  - ``deposed-writer``: the storage accepted a write with token ``t`` after a newer
    master (token ``> t``) had begun: the writer's ``/master`` had been deleted and
    re-created by another by then.

What counts. Without fencing (the default) both overlapping masters and stale writes make
the run invalid: mutual exclusion rests on the lease alone, and clock skew and pauses
break leases (the lease problem). With fencing (``--set fencing=true``, i.e. the run's
``settings["fencing"]``) the storage rejects tokens lower than the highest it has seen, and
a new master registers its token with the storage before it believes it is master; then
overlapping beliefs are harmless (Kleppmann's point: the resource, not the lock holder,
enforces the order), so overlaps are reported under ``allowed`` and do not count, while
any stale write accepted still does.

Each record says who, when and for how long in true time, and why (``causes``, and in
words): from the trace and the fault log, whether ZooKeeper expired the old master's
session (``session_expired``, ``ephemeral_deleted``) prematurely (the leader had heard of
it within the timeout: ``premature-expiry``, e.g. after a ``leader-wall-clock-jump``) or
with its clock running fast (``fast-leader-clock``); whether the old master was paused
(``pause``) or its clock ran slow (``slow-master-clock``); whether its last lease renewal
was answered after the deletion from an old state (``stale-renewal``) or by a server cut
off from the expiring leader (``partition``), maybe one whose clock ran too slow to notice
it had lost the leader (``slow-server-clock``); or whether no server deleted its /master at
all before another was created (``znode-not-deleted``: replicas that disagree, as with
the planted ``zk-ephemeral-lingers``). A stale write also says when its writer
checked its lease and sent it (``write_checked``, ``write_sent``), and whether it was
paused in between (Kleppmann's example).

Result: a `CheckResult`; ``anomalies``/``allowed`` map kinds (``overlapping-masters``,
``stale-write``) to records; ``details`` has ``overlaps`` and ``stale_writes`` (the same
records, whether counted or allowed), ``masters``, ``writes``, ``fencing`` and
``overlap_ns``.
"""

from __future__ import annotations

from typing import Any

from checkers.result import CheckResult

NS = 1_000_000_000

#: trace kinds of the candidate and the storage service (systems/zab/recipes.py)
MASTER_BEGIN = "master_begin"
MASTER_END = "master_end"
STORAGE_WRITE = "storage_write"


def _s(ns: int | float) -> str:
    return f"{ns / NS:.3f} s"


def _hex(t: Any) -> str:
    return f"0x{t:x}" if isinstance(t, int) and not isinstance(t, bool) else str(t)


# ----------------------------------------------------------------------- intervals


def master_intervals(trace: list[dict[str, Any]], end_time: int | None = None) -> list[dict[str, Any]]:
    """One record per mastership: node, token, begin, end (true ns), how it ended.

    A ``master_begin`` with no later ``master_end`` of the same node is open until
    ``end_time`` (default: the last trace event).
    """
    if end_time is None:
        end_time = max((ev.get("time", 0) for ev in trace), default=0)
    open_: dict[Any, dict[str, Any]] = {}  # node -> its open interval
    out: list[dict[str, Any]] = []
    for ev in trace:
        kind = ev.get("kind")
        node = ev.get("node")
        if kind == MASTER_BEGIN:
            prev = open_.pop(node, None)
            if prev is not None:  # a begin without an end: close it here
                prev.update(end=ev["time"], reason="began again")
                out.append(prev)
            open_[node] = {"node": node, "token": ev.get("token"), "begin": ev["time"], "end": None,
                           "reason": None, "session": ev.get("session"),
                           "lease_ns": ev.get("lease_ns"), "tag": ev.get("tag")}
        elif kind == MASTER_END and node in open_:
            iv = open_.pop(node)
            iv.update(end=ev["time"], reason=ev.get("reason"))
            out.append(iv)
        elif kind == "crash" and node in open_:
            iv = open_.pop(node)
            iv.update(end=ev["time"], reason="crashed")
            out.append(iv)
    for iv in open_.values():
        iv.update(end=max(end_time, iv["begin"]), reason="still master at the end of the run")
        out.append(iv)
    out.sort(key=lambda iv: (iv["begin"], str(iv["node"])))
    return out


def find_overlaps(intervals: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any], int, int]]:
    """(older, newer, from, to) for each pair of masterships of different nodes that
    overlap in true time for a positive duration."""
    out = []
    for i, a in enumerate(intervals):
        for b in intervals[i + 1:]:
            if b["begin"] >= a["end"]:
                break  # sorted by begin: no later one starts before a ends either
            if a["node"] == b["node"]:
                continue
            lo, hi = b["begin"], min(a["end"], b["end"])
            if hi > lo:
                out.append((a, b, lo, hi))
    return out


# --------------------------------------------------------------------- why, in words


def _faults_of(faults: list[dict[str, Any]], node: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    return [f for f in faults if f.get("node") == node and f.get("kind") in kinds]


def _pauses(faults: list[dict[str, Any]], node: str, lo: int, hi: int) -> list[tuple[int, int | None]]:
    """(paused at, resumed at or None) of ``node`` that overlap [lo, hi]."""
    spans: list[tuple[int, int | None]] = []
    start = None
    for f in faults:
        k = f.get("kind")
        if k == "pause" and f.get("node") == node and f.get("changed", True):
            start = f["time"]
        elif start is not None and ((k == "resume" and f.get("node") == node) or k == "heal-all"):
            spans.append((start, f["time"]))
            start = None
    if start is not None:
        spans.append((start, None))
    return [(a, b) for a, b in spans if a < hi and (b is None or b > lo)]


def _skews(faults: list[dict[str, Any]], node: str, lo: int, hi: int) -> list[tuple[int, int | None, int]]:
    """(from, to or None, ppm) of clock-rate skews of ``node`` in effect somewhere in [lo, hi]."""
    spans: list[tuple[int, int | None, int]] = []
    cur: tuple[int, int] | None = None
    for f in faults:
        k = f.get("kind")
        mine = f.get("node") == node
        if k == "clock-skew" and mine:
            if cur is not None:
                spans.append((cur[0], f["time"], cur[1]))
            cur = (f["time"], int(f.get("ppm", 0)))
        elif cur is not None and ((k == "clock-reset" and mine) or k == "heal-all"):
            spans.append((cur[0], f["time"], cur[1]))
            cur = None
    if cur is not None:
        spans.append((cur[0], None, cur[1]))
    return [s for s in spans if s[2] != 0 and s[0] < hi and (s[1] is None or s[1] > lo)]


def _partitions(faults: list[dict[str, Any]], lo: int, hi: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    for f in faults:
        k = f.get("kind")
        if k == "partition":
            if cur is not None:
                out.append(dict(cur, until=f["time"]))
            cur = {"from": f["time"], "mode": f.get("mode"), "cut": f.get("cut", [])}
        elif k in ("heal", "heal-all") and cur is not None:
            out.append(dict(cur, until=f["time"]))
            cur = None
    if cur is not None:
        out.append(dict(cur, until=None))
    return [p for p in out if p["from"] < hi and (p["until"] is None or p["until"] > lo)]


def session_expiries(trace: list[dict[str, Any]], session: Any) -> list[dict[str, Any]]:
    """Trace events of a server expiring (or closing) ``session``: any kind naming an
    expiry or a closeSession, with a ``session`` field equal to it."""
    if session is None:
        return []
    out = []
    for ev in trace:
        k = str(ev.get("kind", ""))
        if ("expire" in k or "close_session" in k or "closesession" in k.lower()) and \
                ev.get("session") == session:
            out.append(ev)
    return out


def _wall_jumps(faults: list[dict[str, Any]], node: str, upto: int) -> list[tuple[int, int]]:
    """(time, wall offset after) of the wall-clock changes of ``node`` up to ``upto`` that
    left its wall clock off true time: bumps, and strobes (their high offset)."""
    out: list[tuple[int, int]] = []
    offset = 0
    for f in faults:
        if f["time"] > upto:
            break
        k = f.get("kind")
        if k == "clock-bump" and f.get("node") == node:
            offset += int(f.get("delta_ns", 0))
            out.append((f["time"], offset))
        elif k == "clock-strobe" and f.get("node") == node:
            out.append((f["time"], int(f.get("delta_ns", 0))))
        elif (k == "clock-reset" and f.get("node") == node) or k == "heal-all":
            offset = 0
            out = []
    return out


def why_session_ended(iv: dict[str, Any], trace: list[dict[str, Any]], faults: list[dict[str, Any]],
                      until: int) -> tuple[list[str], list[str]]:
    """What the trace says about the end of ``iv``'s session before ``until``: who expired
    it, when, after how long a silence, and what was off with that server's clock."""
    why: list[str] = []
    causes: list[str] = []
    node = iv["node"]
    expiries = [e for e in session_expiries(trace, iv.get("session")) if e["time"] <= until]
    deleted = [e for e in trace if e.get("kind") == "ephemeral_deleted" and iv.get("session") is not None
               and e.get("session") == iv.get("session") and e.get("path") == "/master" and e["time"] <= until]
    gone = f" and deleted its /master at {_s(deleted[0]['time'])}" if deleted else ""
    if not expiries:
        if deleted:
            why.append(f"ZooKeeper deleted {node}'s /master at {_s(deleted[0]['time'])}")
        return why, causes
    e = expiries[0]
    leader = e.get("node")
    why.append(f"ZooKeeper ended {node}'s session at {_s(e['time'])}"
               + (f" (server {leader})" if leader else "") + gone)
    idle, timeout = e.get("idle"), e.get("timeout")
    if isinstance(idle, int) and isinstance(timeout, int) and idle < timeout:
        causes.append("premature-expiry")
        why.append(f"{leader} had heard of the session {_s(idle)} before on its own monotonic clock, "
                   f"within the {_s(timeout)} timeout: the expiry was premature")
        jumps = [j for j in _wall_jumps(faults, leader, e["time"]) if j[1] > 0] if leader else []
        if jumps:
            causes.append("leader-wall-clock-jump")
            t, off = jumps[-1]
            why.append(f"{leader}'s wall clock had jumped {_s(off)} ahead at {_s(t)}: expiry measured on "
                       f"the wall clock (ZOOKEEPER-1366) ends every session at once")
    for frm, _to, ppm in _skews(faults, leader, iv["begin"], e["time"]) if leader else []:
        if ppm > 0:
            causes.append("fast-leader-clock")
            why.append(f"{leader}'s clock ran {ppm / 1e4:.1f}% fast (from {_s(frm)}), so its "
                       f"session timeout ran out early in true time")
    return why, causes


def _why_stale_renewal(a: dict[str, Any], trace: list[dict[str, Any]],
                       faults: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Who vouched for ``a``'s last lease renewal? A server answering after the deletion of
    ``a``'s /master answered from an old state; a server cut off from the leader that
    expired the session vouched for a session that leader no longer heard of. Either way
    the server was cut off, or its clock too slow to notice it had lost the leader."""
    renewals = [e for e in trace if e.get("kind") == "lease_renewed" and e.get("node") == a["node"]
                and e.get("token") == a["token"] and a["begin"] <= e["time"] <= a["end"]]
    if not renewals:
        return [], []
    r = renewals[-1]
    server = r.get("server")
    deleted = [e for e in trace if e.get("kind") == "ephemeral_deleted" and a.get("session") is not None
               and e.get("session") == a.get("session") and e.get("path") == "/master"]
    expired = session_expiries(trace, a.get("session"))
    leader = expired[0].get("node") if expired else None
    why: list[str] = []
    causes: list[str] = []
    if deleted and r["time"] > deleted[0]["time"]:
        d = deleted[0]
        causes.append("stale-renewal")
        why.append(f"{a['node']} renewed its lease at {_s(r['time'])}, after the deletion, on a read that "
                   f"{server} answered from its state as of zxid {_hex(r.get('zxid'))}, older than the "
                   f"deletion (zxid {_hex(d.get('zxid'))})")
    cut = None
    for p in _partitions(faults, r["time"] - 1, r["time"]):
        if server and leader and server != leader and any(
                server in pair and leader in pair for pair in p.get("cut", [])):
            cut = p
    if cut is not None:
        causes.append("partition")
        why.append(f"its last renewal, at {_s(r['time'])}, was answered by {server}, cut off from {leader} "
                   f"(the leader that expired the session) by a partition ({cut.get('mode')}) from "
                   f"{_s(cut['from'])}: {server} vouched for a session {leader} no longer heard of")
    if causes and server:
        for frm, _to, ppm in _skews(faults, server, r["time"] - 1, r["time"]):
            if ppm < 0:
                causes.append("slow-server-clock")
                why.append(f"{server}'s clock ran at {100 + ppm / 1e4:.0f}% speed from {_s(frm)}, so it "
                           f"noticed late that it had lost the leader, and went on serving reads")
    if not causes and server and server != leader:
        # no stale answer, no partition: the server answering the master's renewals had
        # lost the leader that expired the session (typically: it *was* the leader, and
        # its slow clock let the others depose it before its own timers noticed), so the
        # master's pings reached a server whose word no longer counted
        until = expired[0]["time"] if expired else r["time"]
        for frm, _to, ppm in _skews(faults, server, r["time"] - 1, until):
            if ppm < 0:
                causes.append("slow-server-clock")
                why.append(f"its renewals (the last at {_s(r['time'])}) were answered by {server}, whose clock ran "
                           f"at {100 + ppm / 1e4:.0f}% speed from {_s(frm)}: the others moved on to "
                           f"{leader or 'a new leader'} before {server}'s timers noticed, so {a['node']}'s pings "
                           f"reached only a server {leader or 'the leader'} no longer heard, and {server} went on "
                           f"vouching for a session {leader or 'the leader'} expired")
                break
    return why, causes


def _why_master_went_on(a: dict[str, Any], faults: list[dict[str, Any]],
                        session_timeout: int | None) -> tuple[list[str], list[str]]:
    why: list[str] = []
    causes: list[str] = []
    for p_from, p_to in _pauses(faults, a["node"], a["begin"], a["end"]):
        causes.append("pause")
        dur = (p_to if p_to is not None else a["end"]) - p_from
        longer = (f", longer than the {_s(session_timeout)} session timeout"
                  if session_timeout and dur > session_timeout else "")
        why.append(f"{a['node']} was paused from {_s(p_from)} to "
                   f"{_s(p_to) if p_to is not None else 'the end'} ({_s(dur)}{longer}): a paused "
                   f"process cannot notice that its lease ran out, it just resumes as master")
    for frm, _to, ppm in _skews(faults, a["node"], a["begin"], a["end"]):
        if ppm < 0:
            causes.append("slow-master-clock")
            why.append(f"{a['node']}'s clock ran {-ppm / 1e4:.1f}% slow from {_s(frm)}, so its lease, "
                       f"measured on that clock, lasted longer in true time")
        else:
            causes.append("fast-master-clock")
            why.append(f"{a['node']}'s clock ran {ppm / 1e4:.1f}% fast from {_s(frm)}")
    return why, causes


def explain_overlap(a: dict[str, Any], b: dict[str, Any], lo: int, hi: int, trace: list[dict[str, Any]],
                    faults: list[dict[str, Any]], session_timeout: int | None) -> tuple[str, list[str]]:
    """The sentence for one overlap, and the short names of the causes found."""
    why, causes = why_session_ended(a, trace, faults, hi)
    if why:
        why[0] += f", yet {a['node']} went on believing it was master until {_s(a['end'])}"
    elif a.get("session") is not None and any(e.get("kind") == "ephemeral_deleted" for e in trace):
        # the servers trace deletions, and none removed a's /master before b created its own
        causes.append("znode-not-deleted")
        why.append(f"no server deleted {a['node']}'s /master (token {_hex(a['token'])}) before {b['node']} "
                   f"created its own at {_s(b['begin'])}: ZooKeeper let two creates of /master succeed "
                   f"(replicas that disagree? see the convergence checker)")
    else:
        why.append(f"{a['node']}'s /master (token {_hex(a['token'])}) was gone by {_s(b['begin'])}, "
                   f"when {b['node']} created its own, yet {a['node']} went on believing it was "
                   f"master until {_s(a['end'])}")
    w2, c2 = _why_master_went_on(a, faults, session_timeout)
    why += w2
    causes += c2
    w3, c3 = _why_stale_renewal(a, trace, faults)
    why += w3
    causes += c3
    parts = _partitions(faults, a["begin"], a["end"])
    if parts and not causes:
        causes.append("partition")
        p = parts[0]
        why.append(f"a partition ({p.get('mode')}) from {_s(p['from'])} may have left {a['node']} "
                   f"renewing its lease by reads from a server cut off from the leader")
    if not causes:
        causes.append("unexplained")
        why.append("no pause, clock fault or partition explains it")
    sentence = (f"{a['node']} believed it was master (token {_hex(a['token'])}) from {_s(a['begin'])} "
                f"to {_s(a['end'])} ({a.get('reason')}), while {b['node']} was master (token "
                f"{_hex(b['token'])}) from {_s(b['begin'])}: two masters for {_s(hi - lo)}. Why: "
                + "; ".join(why) + ".")
    return sentence, causes


def explain_stale_write(w: dict[str, Any], trace: list[dict[str, Any]], faults: list[dict[str, Any]],
                        intervals: list[dict[str, Any]], write_sent: dict[str, Any] | None,
                        write_checked: dict[str, Any] | None = None) -> tuple[str, list[str]]:
    """Why a stale master's write reached the storage: when it checked its lease and sent
    the write, what happened to its session, and whether it was paused in between."""
    who, tok, t = w["candidate"], w["token"], w["time"]
    mine = [iv for iv in intervals if iv["node"] == who and iv["token"] == tok and iv["begin"] <= t]
    why: list[str] = []
    causes: list[str] = []
    if write_sent is not None:
        sent = write_sent["time"]
        if write_checked is not None:
            checked = write_checked["time"]
            why.append(f"{who} checked its lease at {_s(checked)} and sent the write at {_s(sent)}")
        else:  # on its own clock: close enough for a sentence
            checked = sent - (write_sent.get("mono", 0) - write_sent.get("checked_mono", 0))
            why.append(f"{who} checked its lease about {_s(checked)} and sent the write at {_s(sent)}")
        for p_from, p_to in _pauses(faults, who, checked, sent + 1):
            causes.append("pause")
            why.append(f"{who} was paused from {_s(p_from)} to {_s(p_to) if p_to is not None else 'the end'}, "
                       f"between its lease check and its send")
    if mine:
        iv = mine[-1]
        w2, c2 = why_session_ended(iv, trace, faults, t)
        why += w2
        causes += c2
        if iv["end"] <= t:
            why.append(f"{who} itself stopped believing it was master at {_s(iv['end'])} ({iv.get('reason')}), "
                       f"a write already on its way")
    if not causes:
        causes.append("check-then-act")
        why.append("the write left between the lease check and the loss of /master")
    return "; ".join(why), causes


# ---------------------------------------------------------------------- stale writes


def find_stale_writes(trace: list[dict[str, Any]], intervals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Writes the storage accepted from a stale master (see the module docstring)."""
    begins = sorted((iv["begin"], iv["token"], iv["node"]) for iv in intervals
                    if isinstance(iv.get("token"), int))
    out: list[dict[str, Any]] = []
    max_tok: int | None = None
    max_by: tuple[Any, Any] = (None, None)  # (time, candidate) of max_tok
    for ev in trace:
        if ev.get("kind") != STORAGE_WRITE or not ev.get("accepted"):
            continue
        tok, t, who = ev.get("token"), ev["time"], ev.get("candidate")
        if not isinstance(tok, int):
            continue
        rec: dict[str, Any] | None = None
        if max_tok is not None and tok < max_tok:
            rec = {"kind": "token-regression",
                   "explanation": (f"at {_s(t)} the storage accepted {who}'s write {ev.get('value')!r} "
                                   f"with token {_hex(tok)}, after it had accepted token {_hex(max_tok)} "
                                   f"from {max_by[1]} at {_s(max_by[0])}: an older master overwrote a "
                                   f"newer one's work")}
        else:
            newer = [(bt, btok, bn) for bt, btok, bn in begins if btok > tok and bt < t]
            if newer:
                bt, btok, bn = newer[0]
                rec = {"kind": "deposed-writer",
                       "explanation": (f"at {_s(t)} the storage accepted {who}'s write {ev.get('value')!r} "
                                       f"with token {_hex(tok)}, though {bn} had become master with token "
                                       f"{_hex(btok)} at {_s(bt)}: {who}'s /master was gone, it was no "
                                       f"longer master")}
        if rec is not None:
            rec.update(time=t, candidate=who, token=tok, value=ev.get("value"), wid=ev.get("wid"),
                       sent_at=ev.get("sent_at"))
            out.append(rec)
        if max_tok is None or tok > max_tok:
            max_tok, max_by = tok, (t, who)
    return out


# --------------------------------------------------------------------------- check


def _op_indices(history: list[dict[str, Any]]) -> tuple[dict[Any, int], dict[Any, int]]:
    """token -> index of the acquire ok that reported it; wid -> index of the write's
    completion."""
    by_token: dict[Any, int] = {}
    by_wid: dict[Any, int] = {}
    for ev in history:
        if ev.get("type") == "invoke":
            continue
        if ev.get("f") == "acquire" and ev.get("type") == "ok" and "token" in ev:
            by_token.setdefault(ev["token"], ev["index"])
        if ev.get("f") == "write" and "wid" in ev:
            by_wid.setdefault(ev["wid"], ev["index"])
    return by_token, by_wid


def check_mutex(out: Any, settings: dict[str, Any] | None = None) -> CheckResult:
    """Judge one election run (a ``harness.runner.SimOutput``). ``settings`` are the run's
    settings over its system's defaults (``harness.system.run_settings``); without them,
    the run config's own ``settings``."""
    if settings is None:
        settings = dict(getattr(out.config, "settings", None) or {})
    return check_mutex_trace(out.trace, out.faults, out.history, fencing=bool(settings.get("fencing")),
                             session_timeout=settings.get("session_timeout"))


def check_mutex_trace(trace: list[dict[str, Any]], faults: list[dict[str, Any]],
                      history: list[dict[str, Any]] | None = None,
                      fencing: bool = False, session_timeout: int | None = None) -> CheckResult:
    """The checker on its inputs: the trace (true times), the fault log, the history."""
    history = history or []
    end_time = max([ev.get("time", 0) for ev in trace] + [ev.get("time", 0) for ev in history] + [0])
    intervals = master_intervals(trace, end_time)
    by_token, by_wid = _op_indices(history)

    overlaps: list[dict[str, Any]] = []
    for a, b, lo, hi in find_overlaps(intervals):
        sentence, causes = explain_overlap(a, b, lo, hi, trace, faults, session_timeout)
        acted = [ev for ev in trace if ev.get("kind") == "write_sent" and ev.get("node") == a["node"]
                 and ev.get("token") == a["token"] and lo <= ev["time"] <= hi]
        rec = {"kind": "overlapping-masters", "explanation": sentence, "causes": causes,
               "old_master": a["node"], "old_token": a["token"], "new_master": b["node"],
               "new_token": b["token"], "from": lo, "to": hi, "duration_ns": hi - lo,
               "old_ended": a.get("reason"), "old_writes_sent_during": len(acted),
               "indices": [i for i in (by_token.get(a["token"]), by_token.get(b["token"])) if i is not None]}
        overlaps.append(rec)

    stale = find_stale_writes(trace, intervals)
    sent_by_wid = {ev.get("wid"): ev for ev in trace if ev.get("kind") == "write_sent"}
    checked_by_wid = {ev.get("wid"): ev for ev in trace if ev.get("kind") == "write_checked"}
    for rec in stale:
        rec["indices"] = [i for i in (by_wid.get(rec.get("wid")),) if i is not None]
        why, causes = explain_stale_write(rec, trace, faults, intervals, sent_by_wid.get(rec.get("wid")),
                                          checked_by_wid.get(rec.get("wid")))
        rec["explanation"] += f". Why: {why}."
        rec["causes"] = causes

    writes = [ev for ev in trace if ev.get("kind") == STORAGE_WRITE]
    accepted = sum(1 for ev in writes if ev.get("accepted"))
    n_nodes = len({iv["node"] for iv in intervals})
    anomalies: dict[str, list[Any]] = {}
    allowed: dict[str, list[Any]] = {}
    if overlaps:
        (allowed if fencing else anomalies)["overlapping-masters"] = overlaps
    if stale:
        anomalies["stale-write"] = stale
    valid = not anomalies

    head = (f"{len(intervals)} masterships ({n_nodes} candidates); the storage accepted {accepted} "
            f"of {len(writes)} writes; fencing {'on' if fencing else 'off'}")
    if valid and not overlaps:
        expl = f"one master at a time and no stale write accepted: {head}"
    elif valid:
        expl = (f"{len(overlaps)} overlap(s) of masters, not counted: with fencing an overlap is "
                f"harmless, and the storage accepted no write from a stale master ({head}). "
                f"First: {overlaps[0]['explanation']}")
    else:
        parts = []
        if overlaps and not fencing:
            parts.append(f"{len(overlaps)} overlap(s) of masters (mutual exclusion by lease alone "
                         f"broken)")
        if stale:
            parts.append(f"{len(stale)} stale write(s) accepted by the storage")
        first = (overlaps[0] if overlaps and not fencing else stale[0])["explanation"]
        expl = f"{' and '.join(parts)}: {head}. First: {first}"
    if not intervals:
        expl = f"no candidate ever became master: {head}"
    return CheckResult(valid, expl, anomalies=anomalies, allowed=allowed, details={
        "fencing": fencing,
        "overlaps": overlaps,
        "stale_writes": stale,
        "masters": len(intervals),
        "writes": {"sent": len(writes), "accepted": accepted, "rejected": len(writes) - accepted},
        "overlap_ns": sum(o["duration_ns"] for o in overlaps),
    })
