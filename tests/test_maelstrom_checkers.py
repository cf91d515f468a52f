"""The broadcast and g-counter checkers, on histories that must pass and must fail."""

from checkers.maelstrom import check_broadcast, check_counter


def h(*evs):
    out = []
    for i, (p, t, f, v, *rest) in enumerate(evs):
        ev = {"index": i, "time": i, "process": p, "type": t, "f": f, "value": v}
        if rest:
            ev["node"] = rest[0]
        out.append(ev)
    return out


def test_broadcast_every_acked_value_in_every_final_read_passes():
    hist = h((0, "invoke", "broadcast", 1), (0, "ok", "broadcast", 1, "n1"),
             (1, "invoke", "broadcast", 2), (1, "info", "broadcast", 2, "n2"),
             (0, "invoke", "read", "final"), (0, "ok", "read", [1], "n1"),
             (3, "invoke", "read", "final"), (3, "ok", "read", [1, 2], "n2"))
    r = check_broadcast(hist)
    assert r["valid"] is True, r


def test_broadcast_acked_value_missing_from_a_final_read_fails():
    hist = h((0, "invoke", "broadcast", 1), (0, "ok", "broadcast", 1, "n1"),
             (0, "invoke", "broadcast", 2), (0, "ok", "broadcast", 2, "n1"),
             (0, "invoke", "read", "final"), (0, "ok", "read", [1, 2], "n1"),
             (3, "invoke", "read", "final"), (3, "ok", "read", [1], "n2"))
    r = check_broadcast(hist)
    assert r["valid"] is False
    assert r["anomalies"] == {"lost": 1}
    assert r["lost"] == {"n2": [2]}
    assert "n2's final read" in r["explanation"]


def test_broadcast_value_nobody_sent_fails():
    hist = h((0, "invoke", "broadcast", 1), (0, "ok", "broadcast", 1, "n1"),
             (0, "invoke", "read", None), (0, "ok", "read", [1, 99], "n1"),
             (0, "invoke", "read", "final"), (0, "ok", "read", [1], "n1"))
    r = check_broadcast(hist)
    assert r["valid"] is False and r["anomalies"] == {"unexpected": 1}


def test_broadcast_without_final_read_is_unknown():
    hist = h((0, "invoke", "broadcast", 1), (0, "ok", "broadcast", 1, "n1"))
    assert check_broadcast(hist)["valid"] == "unknown"


def test_counter_final_reads_within_bounds_pass():
    hist = h((0, "invoke", "add", 3), (0, "ok", "add", 3, "n1"),
             (1, "invoke", "add", 4), (1, "info", "add", 4, "n2"),
             (0, "invoke", "read", "final"), (0, "ok", "read", 3, "n1"),
             (5, "invoke", "read", "final"), (5, "ok", "read", 7, "n2"))
    r = check_counter(hist)
    assert r["valid"] is True and r["bounds"] == [3, 7]


def test_counter_final_read_missing_an_acked_add_fails():
    hist = h((0, "invoke", "add", 3), (0, "ok", "add", 3, "n1"),
             (1, "invoke", "add", 2), (1, "ok", "add", 2, "n2"),
             (0, "invoke", "read", "final"), (0, "ok", "read", 3, "n1"))
    r = check_counter(hist)
    assert r["valid"] is False and r["anomalies"] == {"final-value-out-of-range": 1}


def test_counter_read_above_every_attempted_add_fails():
    hist = h((0, "invoke", "add", 3), (0, "fail", "add", 3, "n1"),
             (0, "invoke", "read", None), (0, "ok", "read", 3, "n1"),
             (0, "invoke", "read", "final"), (0, "ok", "read", 0, "n1"))
    r = check_counter(hist)
    assert r["valid"] is False and r["anomalies"] == {"read-too-high": 1}


def test_protocol_names_request_types_only_ever_answered_not_supported():
    from harness.live.maelstrom.problems import Problems, check_problems

    p = Problems()
    for _ in range(3):
        p.reply("read", not_supported=False)
        p.reply("cas", not_supported=True)
    p.reply("write", not_supported=True)  # served once below: implemented, one refusal allowed
    p.reply("write", not_supported=False)
    r = check_problems(p.to_json())
    assert r.valid is False
    assert "'cas' (3)" in r.explanation and "'write'" not in r.explanation and "'read'" not in r.explanation


def test_protocol_passes_when_every_request_type_was_served():
    from harness.live.maelstrom.problems import Problems, check_problems

    p = Problems()
    p.reply("read", not_supported=False)
    assert check_problems(p.to_json()).valid is True
