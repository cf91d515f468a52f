"""Kazoo clients of a live ZooKeeper ensemble, one per worker, each pinned to one server.

The ``register`` workload's operations, recorded exactly as the simulator records them:

- ``read k``: ``sync(/k)`` then ``get(/k)`` (``--reads sync``), or a plain ``get``
  (``--reads local``); a missing znode reads ``None``. A read that errs did nothing:
  ``fail``.
- ``write k v``: ``set(/k, v)``, creating the znode when it does not exist yet.
- ``cas k [old, new]``: read the value and version (always through ``sync``: a cas that
  failed on a stale local read would not be a cas),
  ``fail`` if the value is not ``old``, else ``set`` at that version. A version conflict
  says another write came in between, not that the value differs (values repeat), so
  the read and the conditional set are retried until one of them decides.

Each ``ok`` event carries the zxids the session checker (``checkers.session``) reads, under
the simulator's names: a read its ``zxid``, the zxid of the server's state it was served
from (the reply header's zxid, which kazoo keeps in ``client.last_zxid``: only replies to
our own requests and connects set it, and a worker has one request out at a time), and its
``mzxid``, the zxid of the write it read (the znode's ``mzxid``; 0 for a znode never
written); a write or cas its ``zxid``, the zxid of the write it made (the new ``mzxid``).

A definite error (no node, node exists, bad version) is a ``fail``; a lost connection,
an expired session or a timeout leave a write unknown: ``info``. Nothing is retried
blindly (kazoo's command retry is off): a retried write could apply twice.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from harness.live.run import Completion

logging.getLogger("kazoo").setLevel(logging.CRITICAL)


def _path(key: Any) -> str:
    return "/" + str(key)


def _decode(data: bytes | None) -> Any:
    if data is None or data == b"":
        return None
    text = data.decode()
    try:
        return int(text)
    except ValueError:
        return text


def _error_name(e: BaseException) -> str:
    name = type(e).__name__
    return {"ConnectionLoss": "connection-loss", "SessionExpiredError": "session-expired",
            "KazooTimeoutError": "timeout", "ConnectionClosedError": "connection-closed",
            "OperationTimeoutError": "timeout"}.get(name, name)


class ZkRegisterClient:
    def __init__(self, server: str, port: int, reads: str, session_timeout: float):
        from kazoo.client import KazooClient
        from kazoo.retry import KazooRetry

        self.server = server
        self.reads = reads
        self.zk = KazooClient(hosts=f"127.0.0.1:{port}", timeout=session_timeout,
                              connection_retry=KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_delay=1.0),
                              command_retry=None)
        self.zk.start(timeout=30)

    def close(self) -> None:
        try:
            self.zk.stop()
        finally:
            self.zk.close()

    def _wait(self, async_result: Any, deadline: float) -> Any:
        return async_result.get(timeout=max(0.001, deadline - time.monotonic()))

    def _read(self, path: str, deadline: float, sync: bool) -> tuple[Any, int | None, dict[str, int]]:
        """(value, version, zxids); version None when the znode does not exist."""
        from kazoo.exceptions import NoNodeError

        if sync:
            self._wait(self.zk.sync_async(path), deadline)
        try:
            data, stat = self._wait(self.zk.get_async(path), deadline)
        except NoNodeError:
            return None, None, {"zxid": self.zk.last_zxid, "mzxid": 0}
        return _decode(data), stat.version, {"zxid": self.zk.last_zxid, "mzxid": stat.mzxid}

    def invoke(self, f: str, key: Any, value: Any, timeout: float) -> Completion:
        from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

        deadline = time.monotonic() + timeout
        path = _path(key)
        try:
            if f == "read":
                v, _, zxids = self._read(path, deadline, self.reads == "sync")
                return Completion("ok", v, node=self.server, extra=zxids)
            if f == "write":
                data = str(value).encode()
                try:
                    stat = self._wait(self.zk.set_async(path, data), deadline)
                except NoNodeError:
                    try:
                        _, stat = self._wait(self.zk.create_async(path, data, include_data=True), deadline)
                    except NodeExistsError:
                        stat = self._wait(self.zk.set_async(path, data), deadline)
                return Completion("ok", node=self.server, extra={"zxid": stat.mzxid})
            if f == "cas":
                old, new = value
                while True:
                    cur, version, _ = self._read(path, deadline, True)
                    if cur != old or version is None:
                        return Completion("fail", error="value-differs", node=self.server)
                    try:
                        stat = self._wait(self.zk.set_async(path, str(new).encode(), version), deadline)
                        return Completion("ok", node=self.server, extra={"zxid": stat.mzxid})
                    except BadVersionError:
                        continue
                    except NoNodeError:
                        return Completion("fail", error="no-node", node=self.server)
            return Completion("fail", error=f"unknown operation {f!r}", node=self.server)
        except Exception as e:  # noqa: BLE001 - whatever the library raised, the outcome is unknown
            if f == "read":
                return Completion("fail", error=_error_name(e), node=self.server)
            return Completion("info", error=_error_name(e), node=self.server)


class ZkRegisterDriver:
    """``harness.live.run.ClientDriver`` of the register workload."""

    def __init__(self, ensemble: Any, reads: str, session_timeout: float):
        self.ensemble = ensemble
        self.reads = reads
        self.session_timeout = session_timeout

    def open(self, index: int, server: str) -> ZkRegisterClient:
        return ZkRegisterClient(server, self.ensemble.nodes[server].client_port, self.reads, self.session_timeout)
