"""The Maelstrom network on its own: routing, cuts, restarts, bad lines (no processes)."""

import random

from harness.live.maelstrom.loop import Loop
from harness.live.maelstrom.network import Network
from harness.live.maelstrom.problems import Problems, check_problems


class Sink:
    def __init__(self, name):
        self.name = name
        self.incarnation = 0
        self.got = []

    def deliver(self, msg, line):
        self.got.append(msg["body"])


def _net(latency_ms=0.0):
    loop = Loop()
    problems = Problems()
    net = Network(loop, random.Random(1), problems, latency_ms)
    a, b = Sink("n1"), Sink("n2")
    net.add(a, server=True)
    net.add(b, server=True)
    return loop, net, problems, a, b


def test_routes_by_dest_and_counts():
    loop, net, _problems, _a, b = _net()
    net.send_line("n1", b'{"src":"n1","dest":"n2","body":{"type":"ping","msg_id":1}}\n')
    assert b.got == [{"type": "ping", "msg_id": 1}]
    assert net.stats()["messages_between_servers"] == 1 and net.delivered == 1
    loop.close()


def test_cut_drops_both_ways_and_heal_restores():
    loop, net, _problems, a, b = _net()
    net.set_cut([("n1", "n2")])
    net.send("n1", {"dest": "n2", "body": {"type": "x"}})
    net.send("n2", {"dest": "n1", "body": {"type": "x"}})
    assert a.got == [] and b.got == [] and net.dropped["partition"] == 2
    net.set_cut([])
    net.send("n1", {"dest": "n2", "body": {"type": "x"}})
    assert len(b.got) == 1
    assert [r.get("dropped") for r in net.log_rows()] == ["partition", "partition", None]
    loop.close()


def test_message_in_flight_is_lost_with_a_restart_and_across_a_new_cut():
    loop, net, _problems, a, b = _net(latency_ms=20)
    net.send("n1", {"dest": "n2", "body": {"type": "x"}})
    b.incarnation += 1  # n2 restarted while the message was in flight
    loop.run_until(loop.now + 400_000_000, stop=lambda: not net._pending)
    net.send("n2", {"dest": "n1", "body": {"type": "y"}})
    net.set_cut([("n1", "n2")])  # cut after the send, before the delivery
    loop.run_until(loop.now + 400_000_000, stop=lambda: not net._pending)
    assert b.got == [] and a.got == []
    assert net.dropped == {"receiver restarted": 1, "partition": 1}
    loop.close()


def test_a_node_hears_only_init_before_answering_it():
    loop, net, _problems, _a, b = _net()
    b.ready = False
    net.send("n1", {"dest": "n2", "body": {"type": "x"}})
    net.send("c0", {"dest": "n2", "body": {"type": "init"}})
    assert b.got == [{"type": "init"}] and net.dropped == {"receiver not initialised": 1}
    b.ready = True
    net.send("n1", {"dest": "n2", "body": {"type": "x"}})
    assert b.got[-1] == {"type": "x"}
    loop.close()


def test_bad_lines_are_problems_not_exceptions():
    loop, net, problems, _a, _b = _net()
    net.send_line("n1", b"hello world\n")
    net.send_line("n1", b'{"dest": 3, "body": {}}\n')
    net.send_line("n1", b'{"dest": "n9", "body": {"type": "x"}}\n')
    assert problems.counts == {"non-json": 1, "bad-message": 1, "unknown-dest": 1}
    r = check_problems(problems.to_json())
    assert r.valid is False and "not JSON" in r.explanation and "(and 2 more problem(s))" in r.explanation
    assert check_problems(Problems().to_json()).valid is True
    loop.close()


def test_nan_and_infinity_are_not_json():
    loop, net, problems, _a, b = _net()
    for bad in (b"NaN", b"Infinity", b"-Infinity"):
        net.send_line("n1", b'{"dest": "n2", "body": {"type": "x", "v": ' + bad + b"}}\n")
    net.send_line("n1", b'{"dest": "n2", "body": {"type": "x", "v": 1.5e300}}\n')
    assert problems.counts == {"non-json": 3} and [m["v"] for m in b.got] == [1.5e300]
    loop.close()


def test_a_line_nested_too_deep_is_a_problem_not_a_crash():
    loop, net, problems, _a, b = _net()
    deep = b'{"dest": "n2", "body": {"type": "x", "v": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}\n"
    net.send_line("n1", deep)
    assert problems.counts == {"bad-message": 1} and b.got == []
    assert "nested too deep" in check_problems(problems.to_json()).explanation
    loop.close()


def test_services_stay_with_the_majority():
    loop, net, _problems, _a, _b = _net()
    for n in ("n3", "n4", "n5"):
        net.add(Sink(n), server=True)
    kv = Sink("lin-kv")
    net.add(kv, service=True)
    # halves {n1, n2} | {n3, n4, n5}: the minority loses the service
    halves = [(a, b) for a in ("n1", "n2") for b in ("n3", "n4", "n5")]
    net.set_cut(halves)
    for n in ("n1", "n2", "n3"):
        net.send(n, {"dest": "lin-kv", "body": {"type": "read"}})
    assert len(kv.got) == 1 and net.dropped["partition"] == 2
    # a majority ring leaves everyone a majority: nobody loses the service
    ring = [("n1", "n3"), ("n1", "n4"), ("n2", "n4"), ("n2", "n5"), ("n3", "n5")]
    net.set_cut(ring)
    for n in ("n1", "n2", "n3", "n4", "n5"):
        net.send(n, {"dest": "lin-kv", "body": {"type": "read"}})
    assert len(kv.got) == 6
    loop.close()


def test_a_reply_to_a_msg_id_that_is_no_int_is_a_problem_not_a_crash():
    from harness.live.maelstrom.clients import ClientNode
    from harness.live.maelstrom.mappings import LinKVMapping

    loop, net, problems, _a, _b = _net()
    c = ClientNode("c1", 0, ["n1", "n2"], net, loop, problems, LinKVMapping(), 1.0, lambda s: True,
                   lambda c, r: None)
    net.add(c)
    for irt in ([1], {"a": 1}, True, "1", None):
        c.deliver({"src": "n1", "dest": "c1", "body": {"type": "read_ok", "in_reply_to": irt}}, None)
    assert problems.counts == {"unknown-in-reply-to": 5}
    loop.close()


def test_a_broadcast_read_of_lists_is_a_bad_reply_not_a_checker_crash():
    from harness.live.maelstrom.clients import ClientNode
    from harness.live.maelstrom.mappings import BroadcastMapping
    from harness.node import ClientRequest

    loop, net, problems, _a, _b = _net()
    done = []
    c = ClientNode("c1", 0, ["n1", "n2"], net, loop, problems, BroadcastMapping(), 1.0, lambda s: True,
                   lambda c, r: done.append(r))
    net.add(c)
    c.request(ClientRequest(1, "read", None, None))
    c.deliver({"src": "n1", "dest": "c1",
               "body": {"type": "read_ok", "in_reply_to": c.op.msg_id, "messages": [[1], {"a": 2}]}}, None)
    assert problems.counts == {"bad-reply": 1}
    assert [r.type for r in done] == ["info"]
    loop.close()


def test_a_receiver_that_stops_reading_does_not_grow_the_harness_without_bound():
    from harness.live.maelstrom.network import MAX_BACKLOG_BYTES

    loop, net, _problems, _a, b = _net()
    b.backlog = MAX_BACKLOG_BYTES  # at the bound: still delivered
    net.send("n1", {"dest": "n2", "body": {"type": "x"}})
    b.backlog = MAX_BACKLOG_BYTES + 1  # past it: dropped, and said why
    net.send("n1", {"dest": "n2", "body": {"type": "y"}})
    assert b.got == [{"type": "x"}]
    assert net.dropped == {"receiver not reading": 1}
    assert [r.get("dropped") for r in net.log_rows()] == [None, "receiver not reading"]
    loop.close()


def test_a_message_claiming_another_src_is_a_protocol_problem():
    loop, net, problems, a, b = _net()
    net.send_line("n1", b'{"src":"n2","dest":"n2","body":{"type":"init_ok","in_reply_to":1}}\n')
    assert b.got == [] and a.got == []
    assert problems.counts == {"bad-message": 1}
    assert "src is 'n2', not its own name" in check_problems(problems.to_json()).explanation
    net.send_line("n1", b'{"src":"n1","dest":"n2","body":{"type":"ping"}}\n')  # its own name: routed
    assert b.got == [{"type": "ping"}]
    loop.close()
