"""The ZooKeeper client API that nodes embedding a ZooKeeper session program against.

This is a contract between ``systems/zab/client.py`` (which implements it) and the nodes
that use ZooKeeper as a coordination service: the ``election`` workload's candidates and
Kafka's brokers and controller. It is the subset of ZooKeeper's client API they need,
with ZooKeeper's names.

Embedding. A host node owns a ``ZabClient`` (built with a ``NodeContext`` whose
``node_id`` is the host's own id, so servers answer the host) and forwards to it:
messages from ZooKeeper servers (``is_zk_message(msg)``), its timers (names starting with
``TIMER_PREFIX``), and its own requests as ``on_client(ClientRequest(...))``. The client
returns effects; the host passes ``Send``/``SetTimer``/``CancelTimer``/``Trace`` through
unchanged and consumes the ``Reply`` effects itself:

- ``Reply(ClientResponse(op_id, ...))`` with the op id the host chose: the answer to one of
  its requests (``ok`` / ``fail`` with a ZooKeeper error code in ``error`` / ``info``).
- ``Reply(ClientResponse(EVENT_OP_ID, "ok", value={"type": ..., "path": ...}))``: a watch
  event (``NodeCreated``, ``NodeDeleted``, ``NodeDataChanged``, ``NodeChildrenChanged``)
  or a session event (``type`` = ``SESSION_EXPIRED``, ``DISCONNECTED``,
  ``SYNC_CONNECTED``; ``path`` None).

Several requests may be outstanding at once; they are sent and answered in order
(ZooKeeper's per-session FIFO). Answers carry ``extra = (("zxid", z),)``, the zxid they
were answered at. A request not answered within ``settings["client_timeout"]`` ends with
``ConnectionLoss`` (the client then moves to another server); when a connection is lost,
every request made before ends with ``ConnectionLoss`` at once (as in ZooKeeper), while
requests made during the reconnect wait for it, up to that timeout. Requests (``ClientRequest.f``,
``key`` = znode path, ``value`` = a dict of arguments; a missing argument takes its
default: no data, not ephemeral, not sequential, no watch, version -1):

================  =====================================  ==============================
f                 value                                  ok result (``ClientResponse.value``)
================  =====================================  ==============================
``create``        {"data", "ephemeral": bool,             the created path (with the
                  "sequential": bool}                     sequence suffix, if any)
``delete``        {"version": int (-1: any)}             None
``exists``        {"watch": bool}                        stat dict or None (absent)
``getData``       {"watch": bool}                        {"data", "stat"}
``setData``       {"data", "version": int (-1: any)}     stat dict
``getChildren``   {"watch": bool}                        sorted list of child names
``sync``          {}                                     None
``close``         {}                                     None (closes the session)
================  =====================================  ==============================

A stat dict: ``{"version", "cversion", "czxid", "mzxid", "ephemeralOwner"}``
(``ephemeralOwner`` is the owning session id, or None). Error codes (``error`` of a
``fail``): ``NoNode``, ``NodeExists``, ``BadVersion``, ``NotEmpty``,
``NoChildrenForEphemerals``, ``SessionExpired``, ``ConnectionLoss`` (only ``info`` for
writes whose fate is unknown; reads that lost their connection ``fail``).

The session: created on the first connect with the timeout ``settings["session_timeout"]``
(ns); pings keep it alive; the client reconnects to another server with the same session
id and its last seen zxid. Expiry is decided by the leader and committed as a
``closeSession`` txn, which deletes the session's ephemeral znodes; the client learns it
(``SESSION_EXPIRED``) when it reconnects, after which every request fails with
``SessionExpired`` until the host calls ``on_client`` with ``f="reopen"`` for a new session
(answered ``ok`` at once; requests after it wait for the new session). ``close`` too ends
the session (its ephemerals go at once); ``reopen`` starts another.
"""

from __future__ import annotations

from typing import Any

#: ``ClientResponse.op_id`` of a watch or session event (no request asked for it)
EVENT_OP_ID = -1

#: every timer of a ZabClient has a name starting with this
TIMER_PREFIX = "zk."

NODE_CREATED = "NodeCreated"
NODE_DELETED = "NodeDeleted"
NODE_DATA_CHANGED = "NodeDataChanged"
NODE_CHILDREN_CHANGED = "NodeChildrenChanged"
SESSION_EXPIRED = "Expired"
DISCONNECTED = "Disconnected"
SYNC_CONNECTED = "SyncConnected"

NO_NODE = "NoNode"
NODE_EXISTS = "NodeExists"
BAD_VERSION = "BadVersion"
NOT_EMPTY = "NotEmpty"
NO_CHILDREN_FOR_EPHEMERALS = "NoChildrenForEphemerals"
SESSION_EXPIRED_ERROR = "SessionExpired"
CONNECTION_LOSS = "ConnectionLoss"


def is_zk_message(msg: Any) -> bool:
    """True for messages a ZooKeeper server sends to a client (to route them to it)."""
    return type(msg).__module__ == "systems.zab.messages"
