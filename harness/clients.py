"""Client processes and the history they leave: Jepsen's operation model.

There are ``clients`` workers, each driving one client-library node (``c0``, ``c1``...).
A worker runs one operation at a time: it records ``invoke``, hands the request to its
client node, and records the completion the node replies with: ``ok``, ``fail`` (did not
happen) or ``info`` (unknown). If nothing comes back within the harness's operation
timeout, the harness records ``info`` itself. After an ``info`` the process id is retired
and the worker continues as process ``id + clients`` (Jepsen's rule: an indeterminate
operation may still be in flight, so its process can never be reused).

Phases: during the main phase workers issue operations at the configured rate (each
worker waits an exponential think time with mean ``clients / rate``). At the end of the
main phase they stop; once the nemesis has healed everything, each worker performs the
workload's final operations (reads), retrying until they succeed or the recovery period
ends. Any final operation that never succeeds is a liveness failure.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from harness.config import RunConfig
from harness.node import ClientRequest, ClientResponse
from harness.sim import Simulator
from harness.units import SECOND

_RESERVED = frozenset({"index", "time", "process", "type", "f", "key", "value", "node", "error"})


class Worker:
    __slots__ = ("index", "node", "process", "op", "op_id", "op_final", "final", "final_done", "final_failed")

    def __init__(self, index: int, node: str):
        self.index = index
        self.node = node
        self.process = index
        self.op: dict[str, Any] | None = None  # the outstanding invoke event
        self.op_id = -1  # its request's op_id
        self.op_final = False  # invoked in the final phase
        self.final: list[Any] = []
        self.final_done: list[Any] = []
        self.final_failed: list[Any] = []


class ClientPool:
    def __init__(self, sim: Simulator, config: RunConfig, workload: Any, rng: Any):
        self.sim = sim
        self.config = config
        self.workload = workload
        self.rng = rng
        self.history: list[dict[str, Any]] = []
        self.workers = [Worker(i, node) for i, node in enumerate(sim.clients)]
        self._by_node = {w.node: w for w in self.workers}
        self._next_op_id = 0
        self.phase = "main"
        self.final_deadline = 0
        self.mean_think_ns = config.clients / config.rate * SECOND
        self.op_timeout_ns = int(config.op_timeout * SECOND)
        sim.on_reply = self._on_reply

    # ------------------------------------------------------------------ phases

    def start(self) -> None:
        for w in self.workers:
            self.sim.call_at(self.sim.now + self._think(), partial(self._next, w))

    def end_main_phase(self) -> None:
        self.phase = "quiet"

    def start_final_phase(self, deadline: int) -> None:
        self.phase = "final"
        self.final_deadline = deadline
        for w in self.workers:
            w.final = list(self.workload.final_ops())
            if w.op is None:
                self.sim.call_at(self.sim.now, partial(self._next, w))

    def final_complete(self) -> bool:
        return self.phase == "final" and all(not w.final and w.op is None for w in self.workers)

    # ---------------------------------------------------------------- operations

    def _think(self) -> int:
        return int(self.rng.expovariate(1.0 / self.mean_think_ns))

    def _next(self, w: Worker) -> None:
        if w.op is not None:
            return
        if self.phase == "main":
            f, key, value = self.workload.next_op(w.process)
        elif self.phase == "final":
            if not w.final:
                return
            if self.sim.now >= self.final_deadline:
                w.final_failed.extend(w.final)
                w.final = []
                return
            f, key, value = w.final[0]
        else:
            return
        self._invoke(w, f, key, value)

    def _invoke(self, w: Worker, f: str, key: Any, value: Any) -> None:
        op_id = self._next_op_id
        self._next_op_id += 1
        ev = {"index": len(self.history), "time": self.sim.rel(), "process": w.process,
              "type": "invoke", "f": f}
        if key is not None:
            ev["key"] = key
        ev["value"] = value
        self.history.append(ev)
        w.op = ev
        w.op_id = op_id
        w.op_final = self.phase == "final"
        self.sim.call_at(self.sim.now + self.op_timeout_ns, lambda: self._timeout(w, op_id))
        self.sim.client_request(w.node, ClientRequest(op_id, f, key, value))

    def _on_reply(self, node: str, r: ClientResponse) -> None:
        w = self._by_node.get(node)
        if w is None:
            return  # a service node's reply: not an operation of the pool
        if w.op is None or w.op_id != r.op_id:
            return  # a late answer to an operation already recorded as info
        self._complete(w, r.type, r.value, r.error, r.node, r.extra)

    def _timeout(self, w: Worker, op_id: int) -> None:
        if w.op is not None and w.op_id == op_id:
            self._complete(w, "info", None, "timeout", None, ())

    def _complete(self, w: Worker, type_: str, value: Any, error: str | None,
                  node: str | None, extra: tuple[Any, ...]) -> None:
        inv = w.op
        assert inv is not None
        ev = {"index": len(self.history), "time": self.sim.rel(), "process": w.process,
              "type": type_, "f": inv["f"]}
        if "key" in inv:
            ev["key"] = inv["key"]
        if type_ == "ok" and inv["f"] == "read":
            ev["value"] = value
        else:
            ev["value"] = inv["value"] if value is None else value
        if node is not None:
            ev["node"] = node
        if error is not None:
            ev["error"] = error
        for k, v in extra:
            # a system's facts never overwrite the operation itself; "_" names are private
            if k not in _RESERVED and not k.startswith("_"):
                ev[k] = v
        self.history.append(ev)
        w.op = None
        if type_ == "info":
            w.process += len(self.workers)
        if w.op_final:
            if type_ == "ok" and w.final:
                w.final_done.append(w.final.pop(0))
            # retry (or go on) soon, without think time: the cluster should be serving
            self.sim.call_at(self.sim.now + 50_000_000, lambda: self._next(w))
        else:
            delay = self._think()
            if self.phase == "final" and self.sim.now + delay >= self.final_deadline:
                # An operation of the main phase that ended after the final phase began:
                # a think time (mean clients / rate, seconds at a low rate) past the
                # deadline would fail the worker's final operations untried, a liveness
                # failure of the harness's making. Jepsen's final generator goes on at
                # once; so does this, where the think time would land past the deadline
                # (before it, the think time stands, so recorded histories do not move).
                delay = 50_000_000
            self.sim.call_at(self.sim.now + delay, lambda: self._next(w))

    # ------------------------------------------------------------------ results

    def public_history(self) -> list[dict[str, Any]]:
        """The history events (the pool's own bookkeeping is kept on the workers, apart)."""
        return [dict(ev) for ev in self.history]

    def final_failures(self) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for w in self.workers:
            out.extend((w.node, op) for op in w.final_failed + w.final)
        return out
