"""ZooKeeper recipes as nodes: the election workload's candidate, and its storage service.

The seed's story: ZooKeeper elects the master database. Several database servers (the
*candidates*, one per client worker ``c0``, ``c1``...) race to create the ephemeral znode
``/master``; the winner acts as master and writes to a storage service; the others watch
``/master`` and race again when it vanishes. This module holds both nodes; the election
workload (workloads/election.py) drives the candidates and checkers/mutex.py judges them.

Theory of operation of a candidate
==================================

A candidate embeds a ZooKeeper client (``systems/zab/api.py``: a ``ZabClient`` built with
the candidate's own node id) and forwards it ZooKeeper messages and ``zk.`` timers. Its
own state is one of::

    IDLE ──acquire──► CAMPAIGN ──/master is ours──► (FENCING) ──► MASTER ──► IDLE
                         ▲   │ NodeExists: watch /master, wait for NodeDeleted
                         └───┘

- **Campaign** (``acquire``): ``create /master`` (ephemeral, data = the candidate's
  *tag*, its id plus a nonce drawn per session). ``NodeExists``: ``getData /master``
  with a watch, and wait for ``NodeDeleted``, then race again. A create whose fate is
  unknown (``info``) is settled the same way: the ``getData`` shows whose ``/master`` it
  is, by the tag. The candidate knows it won when ``getData`` returns its own tag; the
  znode's ``czxid`` is its **fencing token** (zxids only grow, so a later master always
  has a larger token). An acquire gives up after ``acquire_wait`` of its own clock; if
  a create of its might still be in the pipeline, it closes its session (and so any
  ``/master`` it might yet get) and opens a new one, so no orphan ``/master`` blocks the
  others.
- **Fencing** (only with ``settings["fencing"]``): before it believes it is master, the
  winner registers its token with the storage service (a fence message); the storage
  then rejects any write carrying a lower token. Registering *before* believing is what
  lets the checker demand that no write of a deposed master is accepted once a newer
  master has begun.
- **The lease.** A master believes it is master until its own monotonic clock reaches
  ``lease_deadline``. Every ``renew_interval`` it reads ``/master`` (``getData`` with a
  watch); an answer showing its tag and token, to a read *sent* at ``s``, moves the
  deadline to ``s + lease``, with ``lease`` = 2/3 of the session timeout. That is
  ZooKeeper's own reasoning (its client declares a connection dead after 2/3 of the
  timeout without an answer, while the leader expires the session only after the whole
  timeout without hearing from it): the last third is a margin for the clocks of the
  candidate and the leader drifting apart. The candidate also steps down at once when it
  sees ``/master`` deleted or taken, or its session expired. It does *not* step down on
  ``Disconnected``: the lease decides.
- **Why the lease is not safe.** The lease runs on the candidate's clock; expiry runs on
  the leader's. A candidate whose clock runs slow, or which is *paused* (a GC pause, a
  SIGSTOP) past the session timeout, still believes it is master after ZooKeeper has
  expired its session, deleted ``/master`` and let another candidate win. A renewal read
  may also be answered by a server cut off from the leader, which goes on serving until
  it notices (``syncLimit`` ticks of *its* clock: late, if that clock is slow). What
  campaigns showed (5 servers, 60 s, no fencing): clock faults alone (the ``clock``
  family's +-20% rate skew, wall-clock bumps and strobes) never broke it in 300 seeds: a
  live master keeps its session alive, and one cut off sees its lease run out first;
  pauses of candidates broke it in about a third of the runs; clocks running at 5-50%
  speed (``slow``, on servers and candidates) in about a tenth (21 of 200 seeds), mostly
  by a slow server, deposed without noticing, vouching for renewals of a session the new
  leader expired; so did the planted ``zk-wallclock-session-expiry`` with clock
  bumps. Checking the lease before each action does not close the gap either: a master
  **checks its lease, then spends ``write_work`` ns preparing a write, then sends it
  without looking again** (the gap between ``if lease.valid()`` and ``storage.write()``
  that every real program has). A pause in that gap is Kleppmann's example: the write
  leaves after the lease ran out. Only fencing makes that harmless.
- **Release** (``release``): the master stops believing, then closes its ZooKeeper
  session, which deletes ``/master`` (only its own: an ephemeral belongs to its session,
  so a stale master can never delete a newer master's znode, as a plain ``delete`` could),
  and opens a new session.

Operations (workload requests, ``ClientRequest.f``) and their outcomes:

=========  ==============================================================================
acquire    ok (value: the token) once master, at once if already master; fail ``timeout``
           after ``acquire_wait`` without winning
write v    ok if the storage accepted the write (sent with the master's token); fail
           ``not master`` (refused before sending: not master, or the lease ran out),
           ``stale token`` (the storage rejected it: fencing)
release    ok (no longer master); fail ``not master``
check      the final operation: ``sync`` and read ``/master``; ok (value: who holds it)
           if ZooKeeper answered, fail if not
=========  ==============================================================================

Completions carry ``token``, ``lease_deadline`` (the candidate's clock), ``session`` and,
for writes, ``wid`` (the write's id, also in the storage's trace). Trace kinds (true time
is added by the simulator): ``master_begin`` (token, tag, session, lease_ns,
lease_deadline, mono), ``master_end`` (token, reason, mono), ``write_checked`` (token,
wid, mono, lease_deadline: the lease was valid), ``write_sent`` (token, wid, value,
checked_mono, mono), ``lease_renewed`` (token, server: who answered, zxid: its state,
sent_mono, lease_deadline, mono), ``orphan_released``; and from the storage ``storage_write``
(wid, candidate, token, value, accepted, max_token, fencing) and ``storage_fence``.

The storage service
===================

A node with the reserved id ``storage``: the runner builds it beside the clients (the
workload names it in ``ElectionWorkload.services``) through the system's ``make_client``,
so like the clients it is never partitioned, killed, paused or skewed: it stands for a
reliable disk array, as Jepsen's control node stands for reliable clients. It accepts
every write and records it; with fencing it rejects any write (or fence) whose token is
lower than the highest it has seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.node import (
    CancelTimer,
    ClientRequest,
    ClientResponse,
    Effect,
    Node,
    OpType,
    Reply,
    Send,
    SetTimer,
    trace,
)
from harness.system import NodeContext
from systems.zab import api

#: the storage service's node id (reserved: never a client worker)
STORAGE_ID = "storage"
MASTER_PATH = "/master"

MS = 1_000_000

#: election settings, overridable through the run's settings
ELECTION_DEFAULTS: dict = {
    # Fencing tokens checked by the storage (``harness run --set fencing=true``).
    "fencing": False,
    # The lease as a fraction of the session timeout: ZooKeeper's readTimeout, 2/3.
    "lease_fraction": 2 / 3,
    # A master re-reads /master this often (session timeout / 6 = 333 ms by default): about
    # four renewals per lease, so one lost answer does not end a healthy mastership.
    "renew_interval": None,
    # An acquire waits this long for /master to vanish (candidate's clock). 4 s: two
    # session timeouts, so a dead master's session expires within it; under the harness's
    # 10 s operation timeout, so the acquire ends fail, not info.
    "acquire_wait": 4000 * MS,
    # Time between a write's lease check and its send: the payload being built. 50 ms is a
    # small database transaction; long enough that a pause sometimes lands inside it.
    "write_work": 50 * MS,
    # Pause before retrying a ZooKeeper call that failed for want of a connection.
    "election_retry": 50 * MS,
}

# candidate states
IDLE, CAMPAIGN, FENCING, MASTER = "idle", "campaign", "fencing", "master"

# timers (not under api.TIMER_PREFIX: those belong to the embedded client)
T_RENEW = "election.renew"
T_LEASE = "election.lease"
T_ACQUIRE = "election.acquire"
T_WORK = "election.work"
T_RETRY = "election.retry"


# ------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class StorageWrite:
    """A candidate's write (or, with ``fence``, a token registration) to the storage."""

    wid: str
    candidate: str
    token: int | None
    value: Any = None
    fence: bool = False


@dataclass(frozen=True, slots=True)
class StorageAck:
    wid: str
    accepted: bool
    error: str | None = None
    max_token: int | None = None


def election_settings(settings: dict | None) -> dict:
    """ZAB's defaults, then the election's, then the run's settings."""
    from systems.zab.settings import merged

    s = merged(settings)
    for k, v in ELECTION_DEFAULTS.items():
        s.setdefault(k, v)
    if s.get("renew_interval") is None:
        s["renew_interval"] = int(s["session_timeout"]) // 6
    return s


def make_election_candidate(ctx: NodeContext) -> Node:
    """What ``ZabSpec.make_client`` builds for the election workload."""
    if ctx.node_id == STORAGE_ID:
        return StorageService(ctx)
    return ElectionCandidate(ctx)


# ------------------------------------------------------------------------ candidate


@dataclass(slots=True)
class _Call:
    purpose: str  # create | inspect | renew | reopen | close | sync | check
    sent_at: int  # the candidate's clock when the request left
    gen: int  # the session generation it was sent in
    op_id: int | None = None  # the workload operation it serves (check)


class ElectionCandidate(Node):
    """A database server that wants to be master (see the module docstring).

    ``zk`` (with ``is_zk``, the test for its messages) replaces the embedded ZabClient in
    unit tests.
    """

    def __init__(self, ctx: NodeContext, zk: Any = None,
                 is_zk: Callable[[Any], bool] | None = None) -> None:
        self.node_id = ctx.node_id
        self.rng = ctx.rng
        s = election_settings(ctx.settings)
        self.fencing = bool(s["fencing"])
        self.session_timeout = int(s["session_timeout"])
        self.lease_ns = int(self.session_timeout * float(s["lease_fraction"]))
        self.renew_interval = int(s["renew_interval"])
        self.acquire_wait = int(s["acquire_wait"])
        self.write_work = int(s["write_work"])
        self.retry_delay = int(s["election_retry"])
        if zk is None:
            from systems.zab.client import ZabClient

            zk = ZabClient(ctx)
        self.zk = zk
        self.is_zk = is_zk or api.is_zk_message
        self.state = IDLE
        self.gen = 0  # session generation: bumped with each new session
        self.tag = self._new_tag()
        self.token: int | None = None
        self.session: Any = None  # the ephemeralOwner of our /master
        self.lease_deadline = 0
        self.holder: Any = None  # who held /master when we last looked
        self.calls: dict[int, _Call] = {}
        self.next_call = 1
        self.op: ClientRequest | None = None  # the workload operation in progress
        self.create_out = False  # a create of ours is unanswered
        self.inspect_out = False  # a getData of the campaign is unanswered
        self.unknown_create = False  # a create of ours ended info: it may yet commit
        self.wseq = 0
        self.fence_wid: str | None = None
        self.write: tuple | None = None  # (req, wid, value, token, checked_mono)
        # Closing our session: requests wait until the close is answered and a new session
        # is asked for (a reopen while the close is in flight would abandon the close).
        self.closing = False
        self.deferred: list[tuple] = []
        # A new session not yet connected: an Expired event now is about the old one.
        self.fresh = False

    # ================================================================ plumbing
    def _new_tag(self) -> str:
        return f"{self.node_id}#{self.rng.getrandbits(32):08x}"

    def _zk(self, effects: list[Effect], now: int) -> list[Effect]:
        """Pass the client's effects through; consume its replies."""
        out: list[Effect] = []
        for e in effects:
            if type(e) is Reply:
                out.extend(self._on_zk_reply(e.response, now))
            else:
                out.append(e)
        return out

    def _call(self, f: str, args: dict | None, purpose: str, now: int,
              path: str | None = MASTER_PATH, op_id: int | None = None) -> list[Effect]:
        if self.closing and purpose != "close":
            self.deferred.append((f, args, purpose, path, op_id))
            return []
        cid = self.next_call
        self.next_call += 1
        self.calls[cid] = _Call(purpose, now, self.gen, op_id)
        req = ClientRequest(cid, f, path, args if args is not None else {})
        return self._zk(self.zk.on_client(req, now), now)

    def _reply(self, type_: OpType, value: Any = None, error: str | None = None,
               extra: tuple = (), f: str | None = None, op_id: int | None = None) -> list[Effect]:
        """Complete the workload operation in progress (only if it is of kind ``f`` /
        has id ``op_id``, when given)."""
        req = self.op
        if req is None or (f is not None and req.f != f) or (op_id is not None and req.op_id != op_id):
            return []
        self.op = None
        return [Reply(ClientResponse(req.op_id, type_, value, error, None, extra))]

    def _extra(self) -> tuple:
        return (("token", self.token), ("lease_deadline", self.lease_deadline), ("session", self.session))

    # ================================================================== inputs
    def on_start(self, stored: dict[str, tuple], now: int) -> list[Effect]:
        return self._zk(self.zk.on_start({}, now), now)

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        if isinstance(msg, StorageAck):
            return self._on_storage_ack(msg, now)
        if self.is_zk(msg):
            return self._zk(self.zk.on_message(src, msg, now), now)
        return []

    def on_wallclock(self, wall_offset: int, now: int) -> list[Effect]:
        return self._zk(self.zk.on_wallclock(wall_offset, now), now)

    def on_timer(self, name: str, now: int) -> list[Effect]:
        if name.startswith(api.TIMER_PREFIX):
            return self._zk(self.zk.on_timer(name, now), now)
        if name == T_RENEW:
            return self._renew(now)
        if name == T_LEASE:
            if self.state == MASTER and now >= self.lease_deadline:
                return self._step_down(now, "lease expired")
            return []
        if name == T_ACQUIRE:
            return self._acquire_deadline(now)
        if name == T_WORK:
            return self._send_write(now)
        if name == T_RETRY and self.state == CAMPAIGN:
            return self._create(now)
        return []

    def on_client(self, request: ClientRequest, now: int) -> list[Effect]:
        # The harness gives a worker one operation at a time; a new one while another is in
        # progress means the harness gave up on the old one (recorded it info): drop it.
        self.op = request
        f = request.f
        if f == "acquire":
            return self._acquire(now)
        if f == "write":
            return self._write(request, now)
        if f == "release":
            return self._release(now)
        if f == "check":
            return (self._call("sync", {}, "sync", now)
                    + self._call("getData", {"watch": False}, "check", now, op_id=request.op_id))
        return self._reply("fail", error=f"unknown op {f!r}")

    # ================================================================ campaign
    def _acquire(self, now: int) -> list[Effect]:
        effects: list[Effect] = []
        if self.state == MASTER:
            if now < self.lease_deadline:
                return self._reply("ok", self.token, extra=self._extra() + (("already", True),))
            effects += self._step_down(now, "lease expired")
        effects.append(SetTimer(T_ACQUIRE, now + self.acquire_wait))
        if self.state in (CAMPAIGN, FENCING):
            return effects  # a campaign is under way (for an operation the harness gave up on)
        self.state = CAMPAIGN
        return effects + self._create(now)

    def _create(self, now: int) -> list[Effect]:
        if self.create_out or self.inspect_out:
            return []
        self.create_out = True
        return self._call("create", {"data": self.tag, "ephemeral": True, "sequential": False}, "create", now)

    def _inspect(self, now: int) -> list[Effect]:
        if self.inspect_out:
            return []
        self.inspect_out = True
        return self._call("getData", {"watch": True}, "inspect", now)

    def _acquire_deadline(self, now: int) -> list[Effect]:
        if self.state != CAMPAIGN:
            return []  # (FENCING: /master is ours; the storage's answer is a round trip away)
        self.state = IDLE
        effects: list[Effect] = []
        if self.create_out or self.unknown_create:
            # A create of ours may still commit: give up the session, and any /master with it.
            effects += self._new_session(now, close=True)
        return effects + self._reply("fail", error="timeout", extra=(("holder", self.holder),), f="acquire")

    def _won(self, now: int, stat: dict, sent_at: int) -> list[Effect]:
        token = stat.get("czxid")
        if self.state != CAMPAIGN:
            # We gave up on this campaign, yet /master is ours: let it go.
            return [trace("orphan_released", token=token, tag=self.tag)] + self._new_session(now, close=True)
        if sent_at + self.lease_ns <= now:
            return self._inspect(now)  # the answer is older than a lease: ask again
        self.token = token
        self.session = stat.get("ephemeralOwner")
        self.lease_deadline = sent_at + self.lease_ns
        self.unknown_create = False
        self.holder = self.node_id
        if self.fencing:
            self.state = FENCING
            self.wseq += 1
            self.fence_wid = f"{self.node_id}:{self.wseq}"
            return [Send(STORAGE_ID, StorageWrite(self.fence_wid, self.node_id, token, None, fence=True))]
        return self._become_master(now)

    def _become_master(self, now: int) -> list[Effect]:
        if now >= self.lease_deadline:
            self.state = CAMPAIGN
            return self._inspect(now)
        self.state = MASTER
        effects: list[Effect] = [
            trace("master_begin", token=self.token, tag=self.tag, session=self.session,
                  lease_ns=self.lease_ns, lease_deadline=self.lease_deadline, mono=now),
            CancelTimer(T_ACQUIRE),
            SetTimer(T_LEASE, self.lease_deadline),
            SetTimer(T_RENEW, now + self.renew_interval),
        ]
        return effects + self._reply("ok", self.token, extra=self._extra(), f="acquire")

    def _step_down(self, now: int, reason: str) -> list[Effect]:
        if self.state != MASTER:
            return []
        self.state = IDLE
        effects: list[Effect] = [
            trace("master_end", token=self.token, reason=reason, mono=now, lease_deadline=self.lease_deadline),
            CancelTimer(T_LEASE),
            CancelTimer(T_RENEW),
        ]
        self.token = None
        return effects

    def _new_session(self, now: int, close: bool) -> list[Effect]:
        """Open a new session (after closing ours, when ``close``); a new tag goes with it.

        Answers to requests of the old session are ignored from here on (``gen``)."""
        self.gen += 1
        self.tag = self._new_tag()
        self.unknown_create = False
        if close and not self.closing:
            self.closing = True
            return self._call("close", {}, "close", now, path=None)
        if self.closing:
            return []  # the reopen follows the close's answer
        return self._reopen(now)

    def _reopen(self, now: int) -> list[Effect]:
        self.fresh = True
        effects = self._call("reopen", {}, "reopen", now, path=None)
        deferred, self.deferred = self.deferred, []
        for f, args, purpose, path, op_id in deferred:
            effects += self._call(f, args, purpose, now, path=path, op_id=op_id)
        return effects

    # ==================================================================== lease
    def _renew(self, now: int) -> list[Effect]:
        if self.state != MASTER:
            return []
        return [SetTimer(T_RENEW, now + self.renew_interval)] + self._call("getData", {"watch": True}, "renew", now)

    # ============================================================ zk answers
    def _on_zk_reply(self, r: ClientResponse, now: int) -> list[Effect]:
        if r.op_id == api.EVENT_OP_ID:
            return self._on_event(r.value or {}, now)
        call = self.calls.pop(r.op_id, None)
        if call is None:
            return []
        p = call.purpose
        if p == "create":
            self.create_out = False
        elif p == "inspect":
            self.inspect_out = False
        if p == "close":
            # Closed (or not: then the old session is left to expire). Now a new one.
            self.closing = False
            return self._reopen(now)
        if r.error == api.SESSION_EXPIRED_ERROR and p != "reopen":
            effects = self._session_expired(now) if call.gen == self.gen else []
            if p == "check":
                effects += self._reply("fail", error=r.error, op_id=call.op_id)
            return effects
        if call.gen != self.gen and p in ("create", "inspect", "renew"):
            return []  # about a session we have left
        if p == "create":
            return self._on_create(r, now)
        if p == "inspect":
            return self._on_inspect(r, call, now)
        if p == "renew":
            return self._on_renew(r, call, now)
        if p == "check":
            if r.type == "ok":
                return self._reply("ok", {"master": _owner((r.value or {}).get("data"))}, op_id=call.op_id)
            if r.error == api.NO_NODE:
                return self._reply("ok", {"master": None}, op_id=call.op_id)
            return self._reply("fail", error=r.error or "no answer", op_id=call.op_id)
        return []  # sync, close, reopen: nothing to do

    def _on_create(self, r: ClientResponse, now: int) -> list[Effect]:
        if r.type == "info":
            self.unknown_create = True
        if self.state != CAMPAIGN:
            return []
        if r.type in ("ok", "info") or r.error == api.NODE_EXISTS:
            return self._inspect(now)  # whose /master is it?
        return [SetTimer(T_RETRY, now + self.retry_delay)]  # not sent (ConnectionLoss...)

    def _on_inspect(self, r: ClientResponse, call: _Call, now: int) -> list[Effect]:
        if r.type == "ok":
            data = (r.value or {}).get("data")
            if data == self.tag:
                return self._won(now, (r.value or {}).get("stat") or {}, call.sent_at)
            self.holder = _owner(data)
            return []  # someone else's: the watch tells us when it goes
        if self.state != CAMPAIGN:
            return []
        if r.error == api.NO_NODE:
            self.holder = None
            return self._create(now)
        return [SetTimer(T_RETRY, now + self.retry_delay)]

    def _on_renew(self, r: ClientResponse, call: _Call, now: int) -> list[Effect]:
        if self.state != MASTER:
            return []
        if r.type == "ok":
            data = (r.value or {}).get("data")
            stat = (r.value or {}).get("stat") or {}
            if data == self.tag and stat.get("czxid") == self.token:
                deadline = call.sent_at + self.lease_ns
                # which server vouched, from its state as of which zxid (a server cut off from
                # the leader, or slow to notice it, answers from an old state)
                effects: list[Effect] = [trace("lease_renewed", token=self.token, server=r.node,
                                               zxid=dict(r.extra).get("zxid"), sent_mono=call.sent_at,
                                               lease_deadline=max(deadline, self.lease_deadline), mono=now)]
                if deadline > self.lease_deadline:
                    self.lease_deadline = deadline
                    effects.append(SetTimer(T_LEASE, deadline))
                return effects
            return self._step_down(now, f"/master is held by {_owner(data)}")
        if r.error == api.NO_NODE:
            return self._step_down(now, "/master is gone")
        return []  # no answer: the lease runs out by itself

    def _on_event(self, ev: dict, now: int) -> list[Effect]:
        t = ev.get("type")
        if t == api.SYNC_CONNECTED:
            self.fresh = False
            return []
        if t == api.SESSION_EXPIRED:
            if self.fresh or self.closing:
                return []  # about a session we have already left
            return self._session_expired(now)
        if ev.get("path") != MASTER_PATH:
            return []
        if t == api.NODE_DELETED:
            if self.state == MASTER:
                return self._step_down(now, "/master deleted")
            if self.state == FENCING:
                self.state = CAMPAIGN  # the fence ack, when it comes, is for nothing
            if self.state == CAMPAIGN:
                return self._create(now)
            return []
        if t in (api.NODE_CREATED, api.NODE_DATA_CHANGED) and self.state == CAMPAIGN:
            return self._inspect(now)
        return []

    def _session_expired(self, now: int) -> list[Effect]:
        effects = self._step_down(now, "session expired")
        if self.state == FENCING:
            self.state = CAMPAIGN
        self.create_out = self.inspect_out = False  # their answers are about the old session
        effects += self._new_session(now, close=False)
        if self.state == CAMPAIGN:
            effects += self._create(now)
        return effects

    # =================================================================== writes
    def _write(self, req: ClientRequest, now: int) -> list[Effect]:
        if self.state == MASTER and now >= self.lease_deadline:
            effects = self._step_down(now, "lease expired")
            return effects + self._reply("fail", error="not master",
                                         extra=(("lease_deadline", self.lease_deadline),))
        if self.state != MASTER:
            return self._reply("fail", error="not master")
        # The lease is valid now; the write leaves after write_work, without looking again.
        self.wseq += 1
        wid = f"{self.node_id}:{self.wseq}"
        self.write = (req, wid, req.value, self.token, now)
        return [trace("write_checked", token=self.token, wid=wid, mono=now, lease_deadline=self.lease_deadline),
                SetTimer(T_WORK, now + self.write_work)]

    def _send_write(self, now: int) -> list[Effect]:
        if self.write is None:
            return []
        _req, wid, value, token, checked = self.write
        return [
            trace("write_sent", token=token, wid=wid, value=value, checked_mono=checked, mono=now,
                  still_master=self.state == MASTER and now < self.lease_deadline),
            Send(STORAGE_ID, StorageWrite(wid, self.node_id, token, value)),
        ]

    def _on_storage_ack(self, msg: StorageAck, now: int) -> list[Effect]:
        if msg.wid == self.fence_wid:
            self.fence_wid = None
            if self.state != FENCING:
                return []
            if msg.accepted:
                return self._become_master(now)
            # A newer master registered with the storage: our /master must be gone.
            self.state = CAMPAIGN
            return self._inspect(now)
        w = self.write
        if w is None or msg.wid != w[1]:
            return []
        self.write = None
        req, wid, value, token, checked = w
        extra = (("token", token), ("wid", wid), ("checked_mono", checked))
        if msg.accepted:
            return self._reply("ok", value, extra=extra, op_id=req.op_id)
        return self._reply("fail", error=msg.error or "rejected",
                           extra=extra + (("max_token", msg.max_token),), op_id=req.op_id)

    # ================================================================= release
    def _release(self, now: int) -> list[Effect]:
        if self.state != MASTER:
            return self._reply("fail", error="not master")
        token = self.token
        effects = self._step_down(now, "released")
        effects += self._new_session(now, close=True)
        return effects + self._reply("ok", token)


def _owner(data: Any) -> Any:
    """The candidate id in a /master tag (``c3#1a2b3c4d`` -> ``c3``)."""
    if isinstance(data, str) and "#" in data:
        return data.split("#", 1)[0]
    return data


# -------------------------------------------------------------------------- storage


class StorageService(Node):
    """The storage the masters write to; with fencing it checks their tokens."""

    def __init__(self, ctx: NodeContext) -> None:
        self.node_id = ctx.node_id
        s = election_settings(ctx.settings)
        self.fencing = bool(s["fencing"])
        self.max_token: int | None = None
        self.accepted = 0

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        if not isinstance(msg, StorageWrite):
            return []
        tok = msg.token
        stale = self.fencing and self.max_token is not None and (tok is None or tok < self.max_token)
        before = self.max_token
        if not stale and tok is not None and (self.max_token is None or tok > self.max_token):
            self.max_token = tok
        kind = "storage_fence" if msg.fence else "storage_write"
        effects: list[Effect] = [trace(kind, wid=msg.wid, candidate=msg.candidate, token=tok, value=msg.value,
                                       accepted=not stale, max_token=before, fencing=self.fencing)]
        if not stale and not msg.fence:
            self.accepted += 1
        return effects + [Send(src, StorageAck(msg.wid, not stale, "stale token" if stale else None,
                                               self.max_token))]
