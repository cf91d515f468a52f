"""The election workload live: candidates race for ``/master`` on a real ZooKeeper.

The same recipe as the simulated candidate (``systems/zab/recipes.py``, whose docstring
is the theory of operation), written as a harness thread over kazoo: ``acquire`` creates
the ephemeral ``/master`` (data: the candidate's tag) or waits for it to vanish; the
winner's token is the znode's ``czxid``; with fencing it registers the token with the
storage first; a master believes it is master until its lease (2/3 of the session
timeout, on *its* clock) runs out, renewed by reading ``/master`` every 1/6 of the
timeout; ``write v`` checks the lease, spends ``write_work`` preparing, then sends
without looking again; ``release`` steps down and closes the session.

The candidates and the storage are the harness's, so their facts are the run's trace,
in the simulator's trace format (``master_begin``, ``master_end``, ``write_checked``,
``write_sent``, ``storage_write``, ``storage_fence``; ``time`` is ns since the run
started), and the mutex checker judges them unchanged. Faults on a candidate ``cK``:

- ``pause``: the candidate stops at its next step (between checking its lease and
  sending a write, too), and its ZooKeeper connection is frozen in its proxy, so the
  servers stop hearing its heartbeats as they would from a stopped process;
- ``clock-*``: the candidate's clock (lease, renewals, write work) moves; the servers'
  clocks move through libfaketime (``ensemble``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any

from harness.live.run import Completion

logging.getLogger("kazoo").setLevel(logging.CRITICAL)

MS = 1_000_000


class CandidateClock:
    """A candidate's monotonic clock in ns: true time, offset and rate under faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._base_real = time.monotonic_ns()
        self._base_fake = self._base_real
        self._rate = 1.0
        self._offset = 0

    def now(self) -> int:
        with self._lock:
            return self._base_fake + int((time.monotonic_ns() - self._base_real) * self._rate) + self._offset

    def set(self, offset_ns: int, ppm: int) -> None:
        with self._lock:
            real = time.monotonic_ns()
            self._base_fake += int((real - self._base_real) * self._rate)
            self._base_real = real
            self._rate = 1.0 + ppm / 1e6
            self._offset = offset_ns

    def sleep(self, ns: int, gate: threading.Event, stop: threading.Event) -> None:
        """Sleep ``ns`` of this clock's time (and through any pause)."""
        end = self.now() + ns
        while not stop.is_set():
            gate.wait()
            left = end - self.now()
            if left <= 0:
                return
            with self._lock:
                rate = max(self._rate, 0.01)
            stop.wait(min(left / rate / 1e9, 0.05))


class Storage:
    """The storage service: accepts writes, and with fencing rejects stale tokens."""

    def __init__(self, fencing: bool, trace: Any):
        self.fencing = fencing
        self.trace = trace
        self.max_token: int | None = None
        self._lock = threading.Lock()

    def write(self, wid: str, candidate: str, token: int | None, value: Any, fence: bool = False) -> bool:
        with self._lock:
            tok = token
            stale = self.fencing and self.max_token is not None and (tok is None or tok < self.max_token)
            before = self.max_token
            if not stale and tok is not None and (self.max_token is None or tok > self.max_token):
                self.max_token = tok
            self.trace("storage", "storage_fence" if fence else "storage_write", wid=wid, candidate=candidate,
                       token=tok, value=value, accepted=not stale, max_token=before, fencing=self.fencing)
            return not stale


class LiveCandidate:
    def __init__(self, node: str, server: str, port: int, settings: dict[str, Any], storage: Storage, trace: Any):
        self.node = node
        self.server = server
        self.port = port
        self.storage = storage
        self.trace = trace
        self.fencing = bool(settings.get("fencing"))
        self.session_timeout = float(settings["session_timeout"])
        self.lease_ns = int(self.session_timeout * 1e9 * 2 / 3)
        self.renew_ns = int(self.session_timeout * 1e9 / 6)
        self.acquire_wait_ns = int(settings.get("acquire_wait", 2 * self.session_timeout) * 1e9)
        self.write_work_ns = int(settings.get("write_work", 0.05) * 1e9)
        self.clock = CandidateClock()
        self.gate = threading.Event()
        self.gate.set()
        self.stop = threading.Event()
        self.lock = threading.RLock()
        self.master = False
        self.token: int | None = None
        self.lease_deadline = 0
        self.session: Any = None
        self.seq = itertools.count(1)
        self.tag = ""
        self.zk: Any = None
        self._open()
        self._renewer = threading.Thread(target=self._renew_loop, daemon=True, name=f"renew-{node}")
        self._renewer.start()

    # ------------------------------------------------------------ session
    def _open(self) -> None:
        from kazoo.client import KazooClient
        from kazoo.retry import KazooRetry

        self.tag = f"{self.node}#{next(self.seq):08x}"
        self.zk = KazooClient(hosts=f"127.0.0.1:{self.port}", timeout=self.session_timeout,
                              connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=1.0),
                              command_retry=None)
        self.zk.add_listener(self._state)
        self.zk.start(timeout=30)

    def _state(self, state: Any) -> None:
        if str(state) == "LOST":
            threading.Thread(target=self.step_down, args=("session expired",), daemon=True).start()

    def _new_session(self) -> None:
        old = self.zk
        try:
            old.stop()
            old.close()
        except Exception:  # noqa: BLE001, S110 - the old session is abandoned either way
            pass
        self._open()

    def close(self) -> None:
        self.stop.set()
        self.gate.set()
        try:
            self.zk.stop()
            self.zk.close()
        except Exception:  # noqa: BLE001, S110 - closing: nothing left to do
            pass

    # ------------------------------------------------------------ mastership
    def _become(self, token: int, session: Any) -> None:
        with self.lock:
            self.master, self.token, self.session = True, token, session
            self.lease_deadline = self.clock.now() + self.lease_ns
            self.trace(self.node, "master_begin", token=token, tag=self.tag, session=session,
                       lease_ns=self.lease_ns, lease_deadline=self.lease_deadline, mono=self.clock.now())

    def step_down(self, reason: str) -> None:
        with self.lock:
            if not self.master:
                return
            self.master = False
            self.trace(self.node, "master_end", token=self.token, reason=reason, mono=self.clock.now(),
                       lease_deadline=self.lease_deadline)

    def _renew_loop(self) -> None:
        from kazoo.exceptions import NoNodeError

        while not self.stop.is_set():
            self.clock.sleep(self.renew_ns, self.gate, self.stop)
            if self.stop.is_set() or not self.master:
                continue
            sent = self.clock.now()
            try:
                data, stat = self.zk.get_async("/master").get(timeout=self.session_timeout)
            except NoNodeError:
                self.step_down("master znode gone")
                continue
            except Exception:  # noqa: BLE001, S112 - no answer: the lease decides
                continue
            self.gate.wait()
            with self.lock:
                if not self.master:
                    continue
                if data.decode() != self.tag or stat.czxid != self.token:
                    self.step_down("master znode taken")
                elif self.clock.now() < self.lease_deadline:
                    self.lease_deadline = max(self.lease_deadline, sent + self.lease_ns)

    def lease_valid(self) -> bool:
        with self.lock:
            if self.master and self.clock.now() >= self.lease_deadline:
                self.master = False
                self.trace(self.node, "master_end", token=self.token, reason="lease expired",
                           mono=self.clock.now(), lease_deadline=self.lease_deadline)
            return self.master

    # ------------------------------------------------------------ operations
    def _extra(self) -> dict[str, Any]:
        return {"token": self.token, "lease_deadline": self.lease_deadline, "session": self.session}

    def invoke(self, f: str, key: Any, value: Any, timeout: float) -> Completion:
        self.gate.wait()
        try:
            if f == "acquire":
                return self._acquire(timeout)
            if f == "write":
                return self._write(value)
            if f == "release":
                if not self.lease_valid():
                    return Completion("fail", error="not master", node=self.server)
                token = self.token
                self.step_down("released")
                self._new_session()
                return Completion("ok", token, node=self.server, extra=self._extra())
            if f == "check":
                self.zk.sync_async("/master").get(timeout=timeout)
                try:
                    data, _ = self.zk.get_async("/master").get(timeout=timeout)
                    return Completion("ok", data.decode().split("#")[0], node=self.server)
                except Exception as e:
                    if type(e).__name__ == "NoNodeError":
                        return Completion("ok", None, node=self.server)
                    raise
            return Completion("fail", error=f"unknown operation {f!r}")
        except Exception as e:  # noqa: BLE001 - a failed call: unknown for writes, else failed
            return Completion("info" if f in ("write", "release") else "fail", error=type(e).__name__,
                              node=self.server)

    def _acquire(self, timeout: float) -> Completion:
        from kazoo.exceptions import NodeExistsError, NoNodeError

        if self.lease_valid():
            return Completion("ok", self.token, node=self.server, extra=self._extra())
        deadline = time.monotonic() + min(timeout * 0.9, self.acquire_wait_ns / 1e9)
        unknown_create = False
        while time.monotonic() < deadline and not self.stop.is_set():
            self.gate.wait()
            left = max(0.01, deadline - time.monotonic())
            try:
                self.zk.create_async("/master", self.tag.encode(), ephemeral=True).get(timeout=left)
            except NodeExistsError:
                pass
            except Exception:  # noqa: BLE001 - the create may yet commit: settle it by reading
                unknown_create = True
            woke = threading.Event()
            try:
                data, stat = self.zk.get_async("/master", watch=lambda ev, woke=woke: woke.set()).get(
                    timeout=max(0.01, deadline - time.monotonic()))
            except NoNodeError:
                continue
            except Exception:  # noqa: BLE001
                time.sleep(0.05)
                continue
            if data.decode() == self.tag:
                token, session = stat.czxid, stat.ephemeralOwner
                if self.fencing and not self.storage.write(f"{self.node}:fence{token}", self.node, token, None,
                                                           fence=True):
                    woke.wait(max(0.0, deadline - time.monotonic()))
                    continue
                self.gate.wait()
                self._become(token, session)
                return Completion("ok", token, node=self.server, extra=self._extra())
            woke.wait(max(0.0, deadline - time.monotonic()))
        if unknown_create:
            self._new_session()  # no orphan /master of ours may appear later
        return Completion("fail", error="timeout", node=self.server)

    def _write(self, value: Any) -> Completion:
        if not self.lease_valid():
            return Completion("fail", error="not master", node=self.server)
        wid = f"{self.node}:w{next(self.seq)}"
        token, checked = self.token, self.clock.now()
        self.trace(self.node, "write_checked", token=token, wid=wid, mono=checked, lease_deadline=self.lease_deadline)
        self.clock.sleep(self.write_work_ns, self.gate, self.stop)  # preparing: a pause may land here
        now = self.clock.now()
        self.trace(self.node, "write_sent", token=token, wid=wid, value=value, checked_mono=checked, mono=now,
                   still_master=self.master and now < self.lease_deadline)
        ok = self.storage.write(wid, self.node, token, value)
        extra = {"token": token, "wid": wid, "checked_mono": checked}
        if ok:
            return Completion("ok", value, node=self.server, extra=extra)
        return Completion("fail", error="stale token", node=self.server,
                          extra={**extra, "max_token": self.storage.max_token})


class ElectionDriver:
    """``ClientDriver`` of the election workload; also the nemesis's handle on candidates."""

    def __init__(self, ensemble: Any, settings: dict[str, Any]):
        self.ensemble = ensemble
        self.settings = settings
        self.trace_events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.storage = Storage(bool(settings.get("fencing")), self._trace)
        self.candidates: dict[str, LiveCandidate] = {}

    def _trace(self, node: str, kind: str, **info: Any) -> None:
        with self._lock:
            ev = {"time": self.ensemble.rel(), "node": node, "kind": kind}
            ev.update(info)
            self.trace_events.append(ev)

    def open(self, index: int, server: str) -> LiveCandidate:
        node = f"c{index}"
        port = self.ensemble.client_proxy(node, server)
        c = LiveCandidate(node, server, port, self.settings, self.storage, self._trace)
        self.candidates[node] = c
        return c

    # the nemesis's faults on candidates
    def pause(self, node: str) -> bool:
        c = self.candidates.get(node)
        if c is None or not c.gate.is_set():
            return False
        c.gate.clear()
        self.ensemble.mesh.set_frozen(node, True)
        return True

    def resume(self, node: str) -> bool:
        c = self.candidates.get(node)
        if c is None or c.gate.is_set():
            return False
        self.ensemble.mesh.set_frozen(node, False)
        c.gate.set()
        return True

    def set_clock(self, node: str, offset_ns: int, ppm: int) -> bool:
        c = self.candidates.get(node)
        if c is None:
            return False
        c.clock.set(offset_ns, ppm)
        return True
