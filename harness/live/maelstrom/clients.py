"""Clients of a Maelstrom run: workload operations in, Maelstrom requests out, and back.

Each worker of the client pool drives one client endpoint (``c1..cK``), bound to server
``n((i mod N) + 1)``. An operation becomes one request (a kafka ``assign`` or a final
drain, several), its reply a completion:

- a ``*_ok`` reply: ``ok`` with the value the workload's mapping reads from it;
- an ``error`` with a definite code (the operation did not happen): ``fail``; an
  indefinite code (0 timeout, 13 crash, 1000 and up): ``info``; no reply within the
  client's timeout: ``info``;
- a server that is down (killed, or not yet answering ``init``): ``fail`` at once: the
  request was never delivered, like a refused connection. A client stays with its
  server (as Maelstrom's do), so the final reads cover every node.

Every ``msg_id`` a client ever sent is remembered: a reply to one the client never sent
is a protocol problem; a late reply to one that timed out is not.

The workloads, as Maelstrom names them: ``lin-kv`` (our register), ``kafka`` (our
queue; ``assign`` lists the committed offsets and starts polling there), ``broadcast``,
``g-counter``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.live.maelstrom.network import Network
from harness.live.maelstrom.problems import Problems
from harness.node import ClientRequest, ClientResponse, OpType

#: codes after which the operation certainly did not happen
DEFINITE = frozenset({1, 10, 11, 12, 14, 20, 21, 22, 30})
ERROR_NAMES = {0: "timeout", 1: "node-not-found", 10: "not-supported", 11: "temporarily-unavailable",
               12: "malformed-request", 13: "crash", 14: "abort", 20: "key-does-not-exist",
               21: "key-already-exists", 22: "precondition-failed", 30: "txn-conflict"}


def error_outcome(body: dict[str, Any]) -> tuple[OpType, str]:
    """(type, error text) of an ``error`` reply."""
    code = body.get("code")
    name = ERROR_NAMES.get(code, f"code {code}") if isinstance(code, int) else f"code {code!r}"
    text = body.get("text")
    # the system's answer to the operation itself (no such key, value differs) keeps the
    # bare name, which the availability count knows as served; the rest keeps the text
    err = name if code in (20, 21, 22) or not text else f"{name}: {text}"
    definite = isinstance(code, int) and code in DEFINITE
    return ("fail" if definite else "info"), err


class Op:
    """One operation in flight: what it asked, and for multi-request ones, its progress."""

    __slots__ = ("acc", "extra", "msg_id", "req", "req_type", "server", "steps")

    def __init__(self, req: ClientRequest, server: str):
        self.req = req
        self.server = server
        self.msg_id = 0
        self.req_type = ""
        self.acc: Any = None
        self.steps = 0
        self.extra: tuple[Any, ...] = ()


class ClientNode:
    incarnation = 0

    def __init__(self, name: str, index: int, servers: list[str], net: Network, loop: Any,
                 problems: Problems, mapping: Any, timeout_s: float,
                 ready: Callable[[str], bool], on_reply: Callable[[str, ClientResponse], None]):
        self.name = name
        self.index = index
        self.servers = servers
        self.home = servers[index % len(servers)]
        self.net = net
        self.loop = loop
        self.problems = problems
        self.mapping = mapping
        self.timeout_ns = int(timeout_s * 1e9)
        self.ready = ready
        self.on_reply = on_reply
        self.next_id = 0
        self.sent_ids: set[int] = set()
        self.op: Op | None = None
        self.state: dict[str, Any] = {}  # a kafka consumer's assignment and positions

    # ------------------------------------------------------------------ requests
    def request(self, req: ClientRequest) -> None:
        op = Op(req, self.home)
        self.op = op
        body = self.mapping.first(op, self.state)
        if body is None:  # answered without the server (e.g. nothing assigned to poll)
            self.loop.call_at(self.loop.now, lambda: self._finish(op, "ok", op.acc, None))
            return
        self._send(op, body)

    def _send(self, op: Op, body: dict[str, Any]) -> None:
        if not self.ready(op.server):
            self.loop.call_at(self.loop.now, lambda: self._finish(op, "fail", None, f"{op.server} is down"))
            return
        self.next_id += 1
        op.msg_id = self.next_id
        op.steps += 1
        self.sent_ids.add(op.msg_id)
        op.req_type = str(body.get("type"))
        body = dict(body, msg_id=op.msg_id)
        self.net.send(self.name, {"src": self.name, "dest": op.server, "body": body})
        mid = op.msg_id
        self.loop.call_at(self.loop.now + self.timeout_ns, lambda: self._timeout(op, mid))

    def _timeout(self, op: Op, mid: int) -> None:
        if self.op is op and op.msg_id == mid:
            self._finish(op, "info", None, "timeout: no reply")

    def deliver(self, msg: dict[str, Any], line: bytes | None) -> None:
        body = msg["body"]
        irt = body.get("in_reply_to")
        # a msg_id the client sent is an int: anything else (a list would not even hash,
        # true would pass for 1) is a reply to nothing
        if not isinstance(irt, int) or isinstance(irt, bool) or irt not in self.sent_ids:
            self.problems.add("unknown-in-reply-to", str(msg.get("src")), self.loop.rel(),
                              f"{msg.get('src')} sent {self.name} a {body.get('type')!r} in reply to "
                              f"msg_id {irt!r}, which {self.name} never sent")
            return
        op = self.op
        if op is None or irt != op.msg_id:
            return  # late: already recorded as info
        self.problems.reply(op.req_type, body.get("type") == "error" and body.get("code") == 10)
        if body.get("type") == "error":
            t, err = error_outcome(body)
            special = self.mapping.on_error(op, body)
            if special is not None:
                t, err = special
            self._finish(op, t, op.acc if t == "ok" else None, err)
            return
        try:
            nxt = self.mapping.reply(op, self.state, body)
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as e:
            self.problems.add("bad-reply", str(msg.get("src")), self.loop.rel(),
                              f"{msg.get('src')} answered {op.req.f} with {body!r:.160}: {type(e).__name__}: {e}")
            self._finish(op, "info", None, f"unreadable reply: {type(e).__name__}")
            return
        if nxt is None:
            self._finish(op, "ok", op.acc, None)
        else:
            self._send(op, nxt)

    def _finish(self, op: Op, type_: OpType, value: Any, error: str | None) -> None:
        if self.op is not op:
            return
        self.op = None
        if type_ == "info":
            self.state.clear()  # a new process: a reopened client has no assignment
        self.on_reply(self.name, ClientResponse(op.req.op_id, type_, value, error, op.server, op.extra))


#: msg_id of the ``topology`` request to a node (by the node's incarnation: init's msg_id
#: is the incarnation itself)
TOPOLOGY_MSG_ID = 1_000_000


class AdminClient:
    """``c0``: sends ``init`` (and ``topology``), hears ``init_ok`` (and the reply to
    ``topology``: any reply sets the node up; what it does next is the checker's)."""

    name = "c0"
    incarnation = 0

    def __init__(self, nodes: dict[str, Any]):
        self.nodes = nodes

    def deliver(self, msg: dict[str, Any], line: bytes | None) -> None:
        body = msg["body"]
        node = self.nodes.get(str(msg.get("src")))
        if node is None:
            return
        if body.get("type") == "init_ok":
            node.init_ok(body.get("in_reply_to"))
        elif body.get("in_reply_to") == TOPOLOGY_MSG_ID + node.incarnation and node.ready:
            node.set_up = True
