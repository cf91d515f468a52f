"""The election workload: ZooKeeper elects the master database (the seed's story).

Each client worker drives one *candidate* (``systems/zab/recipes.py``): a database server
that races the others for the ephemeral ``/master`` znode, acts as master while its lease
holds, and writes to a storage service. What must hold: one master at a time, and no
write of a stale master accepted (``checkers/mutex.py``).

Operations (the candidate decides what they mean in its state; this workload cannot see
who is master, so it sends every kind to every worker):

- ``acquire`` (half the operations): become master, waiting for ``/master`` to vanish;
  ok at once for the current master. Most workers spend most of their time here, which
  is the herd waiting on the watch, as in the story.
- ``write v`` (45%): a master writes ``v`` to the storage (``v`` unique in the run);
  others fail at once with ``not master``.
- ``release`` (5%): the master gives up (closes its session). 5% keeps a mastership
  a few seconds long: long enough for pauses and clock faults to land inside it, short
  enough for a 60 s run to see a dozen masters.
- final: ``check`` (read ``/master``), which must succeed after healing (liveness).

``--set fencing=true`` (``settings["fencing"]``, which reaches every node) makes the
storage reject writes whose token (the czxid of the writer's ``/master``) is lower than one
it has seen, and makes a new master register its token first.

The storage service is one more node, ``storage``: the workload names it in
``services`` and the runner builds it beside the clients (through the system's
``make_client``), never faulted. ``faulty_clients`` asks the nemesis to let its pause and
clock families hit the candidates too: a database server's pauses and clock are what the
lease depends on.
"""

from __future__ import annotations

from typing import Any

from systems.zab.recipes import STORAGE_ID
from workloads import Workload


def _schema() -> dict:
    from harness.schema import Bool, Duration, Number

    return {  # the election recipe's settings (systems/zab/recipes.py, ELECTION_DEFAULTS)
        "fencing": Bool(),
        "lease_fraction": Number(0.01, 1.0),
        "renew_interval": Duration(1, 3_600_000, nullable=True),
        "acquire_wait": Duration(1, 3_600_000),
        "write_work": Duration(0, 60_000),
        "election_retry": Duration(1, 60_000),
    }


class ElectionWorkload(Workload):
    name = "election"
    checkers = ("mutex",)
    #: type and range of each setting this workload owns (``harness.schema``)
    SETTINGS = _schema()
    #: extra nodes the runner builds beside the clients (never faulted, not workers)
    services = (STORAGE_ID,)
    #: the nemesis may pause the candidates and skew their clocks (lease holders)
    faulty_clients = True

    #: operation mix: P(acquire), P(write); the rest is release
    P_ACQUIRE = 0.50
    P_WRITE = 0.45

    def __init__(self, config: Any, rng: Any):
        self.rng = rng
        self.next_value = 0

    def next_op(self, process: int) -> tuple[str, Any, Any]:
        r = self.rng.random()
        if r < self.P_ACQUIRE:
            return ("acquire", None, None)
        if r < self.P_ACQUIRE + self.P_WRITE:
            self.next_value += 1
            return ("write", None, self.next_value)
        return ("release", None, None)

    def final_ops(self) -> list[tuple[str, Any, Any]]:
        return [("check", None, None)]
