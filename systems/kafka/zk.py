"""A broker's ZooKeeper session: the embedded client library, and tasks that talk through it.

The broker embeds a ZooKeeper client node exactly as ``systems/zab/api.py`` describes: it
forwards ZooKeeper messages and ``zk.``-prefixed timers to it and consumes its ``Reply``
effects. Which client: ``systems.zab.client.ZabClient`` against the ZAB ensemble
(``settings["zookeeper"] == "zab"``), or ``systems.kafka.minizk.MiniZkClient`` against the
one-server stand-in.

Multi-step ZooKeeper work (register the broker, elect the controller, write an ISR change,
elect a partition leader...) is written as *tasks*: generators that yield

- ``Call(f, path, args)``: a ZooKeeper request; the task resumes with its
  ``ClientResponse`` (``type`` ok/fail/info, ``value``, ``error``);
- ``Sleep(ns)``: resume after that long (a broker timer ``task.<id>``);
- a list of effects: emitted at once; the task resumes immediately.

A task reads top to bottom like the Kafka code it stands for, and stays sans-IO: nothing
runs between two yields, and every resumption is an input of the broker.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from harness.node import ClientRequest, ClientResponse, Effect, Reply, SetTimer
from harness.system import NodeContext

EVENT_OP_ID = -1
TASK_TIMER_PREFIX = "task."


@dataclass(frozen=True, slots=True)
class Call:
    f: str
    path: str
    args: dict | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    ns: int


Task = Generator[Any, Any, None]


def make_zk_client(ctx: NodeContext, zk_servers: tuple[str, ...]) -> tuple[Any, Callable[[Any], bool]]:
    """The ZooKeeper client library a broker embeds, and the test for its messages."""
    zctx = NodeContext(node_id=ctx.node_id, servers=tuple(zk_servers), rng=ctx.rng,
                       settings=ctx.settings, bugs=ctx.bugs)
    if ctx.settings.get("zookeeper", "zab") == "mini":
        from systems.kafka.minizk import MiniZkClient, is_minizk_message

        return MiniZkClient(zctx), is_minizk_message
    from systems.zab.api import is_zk_message
    from systems.zab.client import ZabClient

    return ZabClient(zctx), is_zk_message


class ZkTasks:
    """Runs tasks against one embedded ZooKeeper client.

    ``on_event(value, now)`` is called with watch and session events (the ``value`` dict of
    an ``EVENT_OP_ID`` reply) and returns effects.
    """

    def __init__(self, client: Any, on_event: Callable[[dict, int], list[Effect]]) -> None:
        self.client = client
        self.on_event = on_event
        self._next_op = 1
        self._next_task = 1
        self._waiting: dict[int, Task] = {}  # op id -> task
        self._sleeping: dict[str, Task] = {}  # timer name -> task

    # ------------------------------------------------------------------- driving
    def spawn(self, task: Task, now: int) -> list[Effect]:
        return self._step(task, None, now)

    def _step(self, task: Task, value: Any, now: int) -> list[Effect]:
        effects: list[Effect] = []
        while True:
            try:
                instr = task.send(value)
            except StopIteration:
                return effects
            if type(instr) is Call:
                op = self._next_op
                self._next_op += 1
                self._waiting[op] = task
                req = ClientRequest(op, instr.f, instr.path, instr.args or {})
                effects += self.route(self.client.on_client(req, now), now)
                return effects
            if type(instr) is Sleep:
                name = f"{TASK_TIMER_PREFIX}{self._next_task}"
                self._next_task += 1
                self._sleeping[name] = task
                effects.append(SetTimer(name, now + instr.ns))
                return effects
            effects.extend(instr)
            value = None

    def route(self, effects: list[Effect], now: int) -> list[Effect]:
        """Effects of the ZooKeeper client: replies go to tasks and events to the host."""
        # The client's own effects go first, all of them, and only then do replies resume
        # tasks: a resumed task calls the client again, and the effects of that call (a
        # new request timer, say) must come after, not before, the ones the client
        # returned here, or a stale SetTimer/CancelTimer would override the newer one.
        out: list[Effect] = []
        replies: list[ClientResponse] = []
        for e in effects:
            if type(e) is Reply:
                replies.append(e.response)
            else:
                out.append(e)
        for r in replies:
            if r.op_id == EVENT_OP_ID:
                out += self.on_event(r.value, now)
            else:
                task = self._waiting.pop(r.op_id, None)
                if task is not None:
                    out += self._step(task, r, now)
        return out

    def on_timer(self, name: str, now: int) -> list[Effect]:
        task = self._sleeping.pop(name, None)
        return self._step(task, None, now) if task is not None else []
