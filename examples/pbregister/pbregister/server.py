"""A replica of the primary-backup register: sans-IO, against ``harness.node``.

Views. View ``v`` has a fixed primary, ``servers[v % n]``; view 0 has none, so the first
primary is chosen like every later one. A server that hears nothing from its view's
primary for an election timeout moves to the next view: it *promises* the new view (it
will accept nothing from older ones), tells everyone (``ViewChange``), and sends its state
to the new primary (``DoViewChange``). The new primary starts the view once a majority
promised it, from the newest state among theirs ((state view, seq) highest): every write
committed in an older view was made durable by a majority, which meets this one.

Operations. The serving primary applies each operation to its state in arrival order,
gives it the next ``seq`` and sends the whole state (small: a few registers) to the
backups (``Prepare``, also sent as the heartbeat). An operation commits, and is answered,
once a majority (the primary among them) has that seq durable. Reads go through the same
order, so a primary cut off from the majority answers nothing, not stale values.

Disk: one file, ``pb``, whose one record is (promised view, state view, seq, data). A
server acts (acks, votes) only on what is durable. A restarted server never leads a view
it may have led before the crash.

Planted bug ``pb-stale-promotion``: the new primary starts its view at once from its own
state, without the majority's: a backup that missed the last writes is promoted, and
acknowledged writes vanish.
"""

from __future__ import annotations

from typing import Any

from harness.node import Effect, Node, Persist, Send, SetTimer, trace
from harness.system import NodeContext
from pbregister.messages import Ack, DoViewChange, NotPrimary, Prepare, Request, Response, ViewChange

MS = 1_000_000
STALE_PROMOTION = "pb-stale-promotion"


class PBServer(Node):
    def __init__(self, ctx: NodeContext):
        self.node_id = ctx.node_id
        self.servers = ctx.servers
        self.rng = ctx.rng
        self.bugs = ctx.bugs
        self.heartbeat = int(ctx.settings.get("heartbeat_ms", 50)) * MS
        self.election = int(ctx.settings.get("election_timeout_ms", 400)) * MS
        self.majority = len(self.servers) // 2 + 1
        self.view = 0  # the highest view promised
        self.state_view, self.seq, self.data = 0, 0, {}
        self.durable: tuple = (0, 0, 0)  # (view, state_view, seq) last made durable
        self.voted = 0  # the last view whose primary got our state
        self.lead_after = 0  # we may lead only views above this one (see on_start)
        self.last_heard = 0
        self.active = False  # the serving primary of self.view
        self.votes: dict[str, tuple] = {}
        self.acks: dict[str, int] = {}
        self.pending: list[tuple] = []  # (seq, client, Response) awaiting commit

    def primary(self, view: int) -> str:
        return self.servers[view % len(self.servers)]

    # ------------------------------------------------------------------ inputs

    def on_start(self, stored: dict[str, tuple], now: int) -> list[Effect]:
        if stored.get("pb"):
            self.view, self.state_view, self.seq, items = stored["pb"][-1]
            self.data = dict(items)
            # we may have led self.view before the crash, with state we have lost
            self.durable, self.voted, self.lead_after = self._now_state(), self.view, self.view
        self.last_heard = now
        return [trace("boot", view=self.view, seq=self.seq), self._election_timer(now)]

    def on_timer(self, name: str, now: int) -> list[Effect]:
        if name == "heartbeat":
            if not self.active:
                return []
            return self._broadcast(self._prepare()) + [SetTimer("heartbeat", now + self.heartbeat)]
        if self.active or now - self.last_heard < self.election:
            return [self._election_timer(now)]
        self.last_heard = now
        return self._promise(self.view + 1, now) + self._broadcast(ViewChange(self.view))

    def on_persisted(self, token: Any, now: int) -> list[Effect]:
        self.durable = token
        view, state_view, seq = token
        out: list[Effect] = []
        if token == self._now_state() and self.voted < view:
            self.voted = view
            vote = DoViewChange(view, state_view, seq, self._items())
            out += self._on_vote(self.node_id, vote, now) if self.primary(view) == self.node_id \
                else [Send(self.primary(view), vote)]
        if view == state_view == self.view:
            if self.active:
                out += self._on_ack(self.node_id, seq, now)
            elif self.primary(view) != self.node_id:
                out.append(Send(self.primary(view), Ack(view, seq)))
        return out

    def on_message(self, src: str, msg: Any, now: int) -> list[Effect]:
        if isinstance(msg, Request):
            return self._on_request(src, msg, now)
        if isinstance(msg, Prepare):
            return self._on_prepare(src, msg, now)
        if isinstance(msg, Ack):
            return self._on_ack(src, msg.seq, now) if self.active and msg.view == self.view else []
        if isinstance(msg, ViewChange):
            return self._promise(msg.view, now) if msg.view > self.view else []
        if isinstance(msg, DoViewChange):
            return self._on_vote(src, msg, now)
        return []

    # -------------------------------------------------------------- the primary

    def _on_request(self, src: str, msg: Request, now: int) -> list[Effect]:
        if not self.active:
            return [Send(src, NotPrimary(msg.op_id, self.primary(self.view)))]
        current = self.data.get(msg.key)
        if msg.f == "read":
            resp = Response(msg.op_id, "ok", current)
        elif msg.f == "write":
            self.data[msg.key] = msg.value
            resp = Response(msg.op_id, "ok")
        elif msg.f == "cas" and current == msg.value[0]:
            self.data[msg.key] = msg.value[1]
            resp = Response(msg.op_id, "ok")
        else:
            resp = Response(msg.op_id, "fail", error="value mismatch" if msg.f == "cas" else "unknown op")
        self.seq += 1
        self.pending.append((self.seq, src, resp))
        return [self._persist()] + self._broadcast(self._prepare())

    def _on_ack(self, src: str, seq: int, now: int) -> list[Effect]:
        self.acks[src] = max(seq, self.acks.get(src, 0))
        committed = sorted(self.acks.values(), reverse=True)[self.majority - 1] \
            if len(self.acks) >= self.majority else 0
        done = [p for p in self.pending if p[0] <= committed]
        if not done:
            return []
        self.pending = self.pending[len(done):]
        return [trace("commit", view=self.view, seq=committed)] + [Send(c, r) for _, c, r in done]

    def _on_vote(self, src: str, msg: DoViewChange, now: int) -> list[Effect]:
        if msg.view != self.view or self.active or self.primary(msg.view) != self.node_id \
                or msg.view <= self.lead_after:
            return []
        self.votes[src] = (msg.state_view, msg.seq, msg.data)
        need = 1 if STALE_PROMOTION in self.bugs else self.majority  # bug: pb-stale-promotion
        # our own vote too: then our promise of the view is durable, and after a crash we
        # can never start this view a second time
        if self.node_id not in self.votes or len(self.votes) < need:
            return []
        _state_view, seq, data = max(self.votes.values(), key=lambda v: (v[0], v[1]))
        self.state_view, self.seq, self.data = self.view, seq, dict(data)
        self.active, self.acks, self.votes = True, {}, {}
        return [trace("start_view", view=self.view, seq=seq), self._persist(),
                SetTimer("heartbeat", now + self.heartbeat)] + self._broadcast(self._prepare())

    # -------------------------------------------------------------- the backups

    def _on_prepare(self, src: str, msg: Prepare, now: int) -> list[Effect]:
        if msg.view < self.view:
            return [Send(src, ViewChange(self.view))]  # the sender missed a view change
        out: list[Effect] = []
        if msg.view > self.view:
            self._step_down()
            self.view = msg.view
            out.append(trace("view", view=self.view, primary=src))
        self.last_heard = now
        if (msg.view, msg.seq) > (self.state_view, self.seq):
            self.state_view, self.seq, self.data = msg.view, msg.seq, dict(msg.data)
            self.voted = max(self.voted, msg.view)  # the view has started: no vote needed
            return out + [self._persist()]
        if self.durable == self._now_state():  # a heartbeat: ack again (acks can be lost)
            out.append(Send(src, Ack(self.view, self.seq)))
        return out

    def _promise(self, view: int, now: int) -> list[Effect]:
        self._step_down()
        self.view, self.last_heard = view, now
        return [trace("view", view=view, primary=self.primary(view)), self._persist(), self._election_timer(now)]

    def _step_down(self) -> None:
        # operations still pending may yet commit in the next view: their clients time out
        self.active, self.pending, self.votes, self.acks = False, [], {}, {}

    # ----------------------------------------------------------------- helpers

    def _now_state(self) -> tuple:
        return (self.view, self.state_view, self.seq)

    def _items(self) -> tuple:
        return tuple(sorted(self.data.items()))

    def _persist(self) -> Persist:
        record = (self.view, self.state_view, self.seq, self._items())
        return Persist("pb", (record,), token=self._now_state(), mode="replace")

    def _prepare(self) -> Prepare:
        return Prepare(self.view, self.seq, self._items())

    def _broadcast(self, msg: Any) -> list[Effect]:
        return [Send(s, msg) for s in self.servers if s != self.node_id]

    def _election_timer(self, now: int) -> SetTimer:
        return SetTimer("election", now + self.election + self.rng.randrange(self.election))

    def state_digest(self) -> Any:
        return {"data": dict(sorted(self.data.items()))}
