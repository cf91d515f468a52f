"""The live nemesis applies the simulator's schedule to a cluster on the wall clock."""

from __future__ import annotations

import time
from collections.abc import Iterable

from harness.faults import Fault, generate_schedule
from harness.live.nemesis import LIVE_FAMILIES, LiveNemesis, refuse_unsupported

MS = 1_000_000


class FakeCluster:
    def __init__(self, servers: list[str]) -> None:
        self.servers = servers
        self.calls: list[tuple] = []
        self.up = set(servers)

    def leader(self) -> str | None:
        return "n2"

    def set_cut(self, cut: Iterable[tuple[str, str]]) -> None:
        self.calls.append(("cut", tuple(cut)))

    def kill(self, node: str) -> bool:
        self.calls.append(("kill", node))
        self.up.discard(node)
        return True

    def restart(self, node: str) -> bool:
        self.calls.append(("restart", node))
        self.up.add(node)
        return True

    def pause(self, node: str) -> bool:
        self.calls.append(("pause", node))
        return True

    def resume(self, node: str) -> bool:
        self.calls.append(("resume", node))
        return True

    def set_clock(self, node: str, offset_ns: int, ppm: int) -> bool:
        self.calls.append(("clock", node, offset_ns, ppm))
        return True


def test_applies_schedule_in_order_and_logs_like_the_simulator() -> None:
    sched = [
        Fault(10 * MS, "partition", ("isolate-leader", ()), 1),
        Fault(20 * MS, "kill", ("leader",), 2),
        Fault(30 * MS, "heal", (), 1),
        Fault(40 * MS, "pause", ("n3",), 3),
    ]
    c = FakeCluster(["n1", "n2", "n3"])
    nem = LiveNemesis(c, sched, seed=1)
    nem.begin()
    time.sleep(0.15)
    nem.heal_all()
    kinds = [r["kind"] for r in nem.log]
    assert kinds == ["partition", "kill", "heal", "pause", "heal-all"]
    assert nem.log[0]["cut"] == [["n1", "n2"], ["n2", "n3"]]
    assert nem.log[1]["node"] == "n2" and nem.log[1]["changed"] is True
    times = [r["time"] for r in nem.log]
    assert times == sorted(times) and times[0] >= 10 * MS
    # heal_all undoes what is still in force: the kill and the pause
    assert ("restart", "n2") in c.calls and ("resume", "n3") in c.calls
    assert c.calls[-3][0] == "cut" or ("cut", ()) in c.calls


def test_stop_drops_faults_not_yet_due() -> None:
    c = FakeCluster(["n1", "n2", "n3"])
    nem = LiveNemesis(c, [Fault(60_000 * MS, "kill", ("n1",), 1)], seed=1)
    nem.begin()
    nem.heal_all()
    assert ("kill", "n1") not in c.calls


def test_same_seed_same_schedule_as_the_simulator() -> None:
    servers = ["n1", "n2", "n3", "n4", "n5"]
    a = generate_schedule(3, ("partition", "kill", "pause"), servers, 60 * 10**9, 6.0, (), False, [])
    b = generate_schedule(3, ("partition", "kill", "pause"), servers, 60 * 10**9, 6.0, (), False, [])
    assert a == b and a


def test_refuses_families_a_live_system_cannot_take() -> None:
    assert refuse_unsupported(["partition", "kill"]) is None
    msg = refuse_unsupported(["partition", "crash", "power"])
    assert msg is not None and "crash, power" in msg and all(f in msg for f in LIVE_FAMILIES)
