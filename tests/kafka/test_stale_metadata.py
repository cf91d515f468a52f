"""A consumer sent back to a deposed leader by stale metadata keeps its position.

A broker that has not yet heard of an election answers metadata with the old leader; a
client that forgot the new leader after an error goes back to it. That zombie's log may
end below the consumer's position (it missed what the new leader committed since), and
its OffsetOutOfRange must not move the position back to its high watermark: the consumer
would read again what it had read, a ``nonmonotonic-poll`` with no rebalance.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from harness.node import ClientRequest, Effect, Send, SetTimer
from harness.runner import run_test
from harness.store import load_config
from harness.system import NodeContext
from systems.kafka import messages as m
from systems.kafka.client import META_TIMER, KafkaClient

BROKERS = ("b1", "b2", "b3", "b4", "b5")
#: run 753 of a guided campaign of the bug-free system (seed 33): process 8 read k2 up to
#: offset 49 from b4 (epoch 6), was sent back to b3 (epoch 5, log end 46, HW 44) and polled
#: k2 again from offset 44
STALE_LEADER_RUN_SEED = 4946058852779654574


def sent(effects: list[Effect], kind: type) -> list[Any]:
    return [(e.dst, e.msg) for e in effects if isinstance(e, Send) and isinstance(e.msg, kind)]


def metadata(c: KafkaClient, effects: list[Effect], leader: str, epoch: int, now: int) -> list[Effect]:
    """Answer the client's metadata request (sending it first if only a timer was set)."""
    asks = sent(effects, m.MetadataRequest)
    if not asks:
        asks = sent(c.on_timer(META_TIMER, now), m.MetadataRequest)
    (_, req), = asks
    return c.on_message("b1", m.MetadataResponse(req.req_id, "b1", ((0, leader, epoch),)), now)


def consumer_at_50(seen_newer_leader: bool) -> tuple[KafkaClient, int]:
    """A consumer of k0 at position 50 whose metadata now names b3 in epoch 5, after it
    knew b4 in epoch 6 (``seen_newer_leader``) or never knew better."""
    c = KafkaClient(NodeContext("c1", BROKERS, random.Random(1), {"partitions": 1}), BROKERS)
    now = 10**9
    eff = c.on_start({}, now)
    if seen_newer_leader:
        eff = metadata(c, eff, "b4", 6, now)
        c.on_client(ClientRequest(1, "assign", None, ["k0"]), now)
        c.positions[0] = 50  # where its last poll ended
        now += 10**8
        (dest, fetch), = sent(c.on_client(ClientRequest(2, "poll"), now), m.FetchRequest)
        assert (dest, fetch.offset, fetch.leader_epoch) == ("b4", 50, 6)
        # b4 goes quiet behind a partition; its answer is lost, the client asks who leads
        eff = c.on_message("b4", m.FetchResponse(fetch.req_id, 0, m.NOT_LEADER), now)
        assert 0 not in c.leaders
        now += 10**8
        metadata(c, eff, "b3", 5, now)  # from a broker that missed the election
    else:
        metadata(c, eff, "b3", 5, now)
        c.on_client(ClientRequest(1, "assign", None, ["k0"]), now)
        c.positions[0] = 50
    return c, now


def poll_the_zombie(c: KafkaClient, now: int) -> list[Effect]:
    now += 10**8
    (dest, fetch), = sent(c.on_client(ClientRequest(3, "poll"), now), m.FetchRequest)
    assert (dest, fetch.offset, fetch.leader_epoch) == ("b3", 50, 5)
    # b3 still believes it leads epoch 5; its log ends at 46, its high watermark is 44
    return c.on_message("b3", m.FetchResponse(fetch.req_id, 0, m.OFFSET_OUT_OF_RANGE, (), 44, 46), now)


def test_a_deposed_leaders_offset_out_of_range_leaves_the_position() -> None:
    c, now = consumer_at_50(seen_newer_leader=True)
    eff = poll_the_zombie(c, now)
    assert c.positions[0] == 50
    assert 0 not in c.leaders  # forgotten again: the next metadata answer decides
    # and it asks who leads now (at once, or when retry.backoff allows)
    assert sent(eff, m.MetadataRequest) or any(isinstance(e, SetTimer) and e.name == META_TIMER for e in eff)


def test_offset_out_of_range_from_the_newest_known_leader_resets_to_its_high_watermark() -> None:
    # the weakened configurations' case (docs/kafka.md): the log was cut below the position
    c, now = consumer_at_50(seen_newer_leader=False)
    poll_the_zombie(c, now)
    assert c.positions[0] == 44


def test_the_guided_campaigns_run_polls_in_order() -> None:
    config = load_config(Path(__file__).parent / "data" / "stale-leader-run")
    assert config.seed == STALE_LEADER_RUN_SEED and config.bugs == ()
    r = run_test(config)
    durability = r.results["checkers"]["durability"]
    assert durability["valid"] is True, durability
    assert r.results["valid"] is True
