"""A ZabClient embedded in another node (a Kafka broker, an election candidate), as
systems/zab/api.py describes: the servers answer the host, the host routes."""

from __future__ import annotations

from zksim import MS, Host, ZkSim

from harness.node import ClientRequest, Send, SetTimer
from systems.zab.api import EVENT_OP_ID, NODE_CHILDREN_CHANGED, SYNC_CONNECTED, TIMER_PREFIX
from systems.zab.client import ZabClient


def test_a_host_node_embeds_a_session() -> None:
    sim = ZkSim(3, n_clients=1).start()
    sim.wait_stable()
    h1 = Host(sim.ctx_for("h1"))
    h2 = Host(sim.ctx_for("h2"))
    sim.add_node("h1", h1)
    sim.add_node("h2", h2)
    r = sim.do("h1", "create", "/brokers", {})
    assert (r.type, r.value) == ("ok", "/brokers")
    r = sim.do("h1", "create", "/brokers/1", {"data": {"host": "h1"}, "ephemeral": True})
    assert r.type == "ok"
    assert sim.do("h2", "getChildren", "/brokers", {"watch": True}).value == ["1"]
    # servers answered the host's own id; the host's own timers stay the host's
    sim.run_for(300 * MS)
    conns = {c for s in sim.live_servers() for c, _ in s.client_conns}
    assert {"h1", "h2"} <= conns
    assert h1.own_timers and all(not t.startswith(TIMER_PREFIX) for t in h1.own_timers)
    owner = sim.do("h2", "exists", "/brokers/1", {}).value["ephemeralOwner"]
    assert owner == h1.zk.session_id
    # the host's events arrive as EVENT_OP_ID replies, consumed by the host
    assert {"type": SYNC_CONNECTED, "path": None} in [x.value for x in h1.got if x.op_id == EVENT_OP_ID]
    # the host dies: its session expires, its ephemeral goes, the other host hears of it
    sim.crash("h1")
    assert sim.run_until(
        lambda: ({"type": NODE_CHILDREN_CHANGED, "path": "/brokers"}
                 in [x.value for x in h2.got if x.op_id == EVENT_OP_ID]),
        5000 * MS,
    )
    assert sim.do("h2", "getChildren", "/brokers", {}).value == []


def test_effects_of_an_embedded_client_are_only_sends_and_zk_timers() -> None:
    sim = ZkSim(3).start()
    sim.wait_stable()
    zk = ZabClient(sim.ctx_for("broker7"))
    # no on_start: a host may build the client and use it at once
    effects = zk.on_client(ClientRequest(1, "getData", "/x", {"watch": True}), sim.clock("n1"))
    assert effects and all(isinstance(e, (Send, SetTimer)) for e in effects)
    assert all(e.name.startswith(TIMER_PREFIX) for e in effects if isinstance(e, SetTimer))
    assert all(e.dst in sim.servers for e in effects if isinstance(e, Send))
