"""The Kafka system as the harness sees it: servers, files, settings, node builders.

Servers are ZooKeeper's (``z1``..``zK``, ``zk_nodes``; one ``z1`` with
``zookeeper="mini"``) and the brokers (``b1``..``bN``, N = ``--nodes``). ZooKeeper servers
are built by ``systems.zab`` with a context that lists only the ZooKeeper ids, so the ZAB
ensemble never hears of brokers; brokers and clients get the broker list. Client nodes
are ``client.KafkaClient``. ``harness.system`` finds ``SYSTEM`` here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from harness.node import Node
from harness.system import NodeContext, SystemSpec
from systems.kafka.broker import HW_FILE, Broker
from systems.kafka.client import KafkaClient
from systems.kafka.minizk import MiniZkServer
from systems.kafka.settings import DEFAULT_SETTINGS, MS, SETTINGS


def _zk_ids(settings: dict) -> tuple[str, ...]:
    if settings.get("zookeeper", "zab") == "mini":
        return ("z1",)
    return tuple(f"z{i}" for i in range(1, int(settings.get("zk_nodes", 3)) + 1))


#: what follows from a lost committed record, by checker: anomaly kind -> how
LOSS_ANOMALIES: dict[str, dict[str, str]] = {
    "durability": {
        "lost-write": "an acknowledged write was lost",
        "inconsistent-offsets": "a consumer read an offset before it was lost and reused",
        "duplicate": "a value was read at an offset later lost, and a retry wrote it again elsewhere",
        "nonmonotonic-send": "a producer's later send landed at a reused offset below its earlier one",
        "nonmonotonic-poll": ("a consumer whose position was past the shortened log went on from the high "
                              "watermark, below where it was (auto.offset.reset)"),
    },
    "replicas": {
        "committed-value-changed": "an offset committed once was committed again with another value",
        "diverged-below-hw": "the new leader appended another value at a committed offset",
        "isr-join-without-committed": "records committed before the loss are gone from the leader too",
    },
}
#: the kinds each weakened configuration permits: only those a correct Kafka was seen to
#: show in explorative runs of it (docs/kafka.md, "Weaker promises"; a duplicate needs a
#: retry racing the loss, seen only with unclean election)
PERMITS: dict[str, frozenset[str]] = {
    "unclean": frozenset(k for kinds in LOSS_ANOMALIES.values() for k in kinds),
    "flush": frozenset(k for kinds in LOSS_ANOMALIES.values() for k in kinds) - {"duplicate"},
}


def _split(servers: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    zk = tuple(s for s in servers if s.startswith("z"))
    brokers = tuple(s for s in servers if s.startswith("b"))
    return zk, brokers


class KafkaSpec(SystemSpec):
    name = "kafka"
    #: type and range of each setting (``harness.schema``)
    SETTINGS = SETTINGS
    #: the workloads this system serves (register and election need ZooKeeper itself)
    WORKLOADS = ("queue",)
    #: (a, b): a may not exceed b (Kafka refuses a topic with more replicas than brokers;
    #: min.insync.replicas above the replication factor refuses every acks=all send)
    AT_MOST = (("replication_factor", "nodes"), ("min_insync_replicas", "replication_factor"),
               ("min_session_ticks", "max_session_ticks"))
    #: per-partition logs are "log-p<P>" (created on first write), the HW checkpoint, and
    #: the ZooKeeper servers' files
    files = (HW_FILE, "log-p0", "log-p1", "log-p2")
    #: trace kinds after which a crash is interesting (the ``crash`` nemesis): right after
    #: a produce is acknowledged, a replica becomes leader, an ISR change is committed, a
    #: follower truncates. Frequent kinds (append, hw) are left out: a crash there is just
    #: a random crash, which ``kill`` already gives.
    crash_points = ("ack", "become-leader", "isr", "truncate")
    #: replica agreement below the high watermark, beside the queue's durability checker
    checkers = ("replicas",)
    #: settings an explorative campaign may vary (``harness.swarm``), none of which changes
    #: what Kafka promises: its ZooKeeper's short zxid counters (rollover), a short replica
    #: lag bound (ISR shrinks and expansions become frequent), short ZooKeeper sessions
    #: (broker registrations and the controller's znode expire more often)
    testing_aids = MappingProxyType({
        "short-counters": ({"counter_bits": 8},),
        "short-replica-lag": ({"replica_lag_time_max": 500 * MS},),
        "short-sessions": ({"session_timeout": 600 * MS, "client_timeout": 400 * MS, "connect_timeout": 200 * MS},),
    })

    #: configurations Kafka supports with a weaker promise (``harness.swarm`` draws them;
    #: ``allowed_anomalies`` says what each permits): unclean leader election (a replica
    #: outside the ISR may lead, losing what it lacked), and a nonzero flush interval
    #: (Kafka's real default: records count while in the page cache, so a crash of every
    #: ISR member loses them and the last replica standing leads with a shorter log). Each
    #: has an alternative with Kafka's default min.insync.replicas=1, as in Jepsen's 2013
    #: test and KIP-101's scenarios: a leader alone in the ISR then takes writes, which
    #: makes the log forks these configurations allow (and KIP-101's bugs) reachable.
    weakened_configurations = MappingProxyType({
        "unclean-election": ({"unclean_leader_election_enable": True},
                             {"unclean_leader_election_enable": True, "min_insync_replicas": 1}),
        "lazy-flush": ({"flush_interval": 200 * MS}, {"flush_interval": 1000 * MS, "min_insync_replicas": 1}),
    })

    def allowed_anomalies(self, settings: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """What a weakened configuration permits: a committed record may be lost, its offset
        reused for another value, and whatever follows from that for producers and
        consumers (``PERMITS``, measured: each kind is one a correct Kafka showed in
        explorative runs in that configuration). Never permitted: replicas that disagree
        after healing, two leaders in one epoch, a high watermark moving back, acks=all
        answered early or below min.insync.replicas, a spurious ISR shrink, aborted reads,
        unexpected values, order anomalies within a poll."""
        on = []
        if settings.get("unclean_leader_election_enable"):
            on.append(("unclean", "unclean_leader_election_enable=true (a replica outside the ISR may lead)"))
        if int(settings.get("flush_interval") or 0) > 0:
            on.append(("flush", f"flush_interval={int(settings['flush_interval']) / MS:g} ms (a crash of every ISR "
                                "member loses what was not flushed)"))
        out: dict[str, dict[str, str]] = {}
        for checker, kinds in LOSS_ANOMALIES.items():
            for kind, what in kinds.items():
                why = [w for name, w in on if kind in PERMITS[name]]
                if why:
                    out.setdefault(checker, {})[kind] = f"{what}, as {' and '.join(why)} permits"
        return out

    def default_settings(self) -> dict:
        from systems.zab.settings import DEFAULT_SETTINGS as ZAB

        return {**ZAB, **DEFAULT_SETTINGS}

    def known_settings(self) -> set[str]:
        """What ``--set`` may name: Kafka's settings and its ZooKeeper's."""
        return set(self.default_settings())

    def server_ids(self, nodes: int, settings: dict) -> list[str]:
        return list(_zk_ids(settings)) + [f"b{i}" for i in range(1, nodes + 1)]

    def reachable_behaviours(self) -> list[str]:
        # crash points are the brokers' (coverage names a broker's events "b")
        return [f"event:b:crash={p}" for p in self.crash_points]

    def make_server(self, ctx: NodeContext) -> Node:
        zk, brokers = _split(ctx.servers)
        if ctx.node_id.startswith("z"):
            zctx = NodeContext(ctx.node_id, zk, ctx.rng, ctx.settings, ctx.bugs)
            if ctx.settings.get("zookeeper", "zab") == "mini":
                return MiniZkServer(zctx)
            from systems.zab.server import ZabServer

            return ZabServer(zctx)
        return Broker(ctx, zk, brokers)

    def make_client(self, ctx: NodeContext) -> Node:
        _, brokers = _split(ctx.servers)
        return KafkaClient(ctx, brokers)

    def converged(self, digests: dict[str, Any]) -> bool:
        """The settle phase's end: ZooKeeper's servers hold the same tree, and every
        partition's live replicas agree on leader epoch, high watermark and log (a broker's
        digest and a ZooKeeper server's are different things, so the default "all digests
        equal" would never hold and every run would settle until its deadline)."""
        zk = {json.dumps(d, sort_keys=True, default=str) for n, d in digests.items() if n.startswith("z")}
        if len(zk) > 1:
            return False
        replicas: dict[str, set[tuple]] = {}
        for n, d in digests.items():
            if n.startswith("b") and isinstance(d, dict):
                for p, st in d.items():
                    replicas.setdefault(p, set()).add((st["leader_epoch"], st["hw"], st["end"], st["log"]))
        return all(len(states) == 1 for states in replicas.values())

    def is_leader(self, server: Node) -> bool:
        """The controller (the nemesis's "leader" target)."""
        return isinstance(server, Broker) and server.controller.active


#: what harness.system looks for in systems/<name>/spec.py
SYSTEM = KafkaSpec
