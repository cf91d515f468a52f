"""Default settings of the ZAB system (servers and client library), with why each value.

All durations are integer nanoseconds of the node's monotonic clock; limits are counts of
ticks, as in zoo.cfg. The simulator's network latency is ~0.5-5 ms and fsync ~1-10 ms; a
run lasts ~60 s, so we scale ZooKeeper's defaults down by 20 (tickTime 2000 ms -> 100 ms)
to see many elections, failovers and session timeouts in one run.
"""

from __future__ import annotations

MS = 1_000_000

DEFAULT_SETTINGS: dict = {
    # ZooKeeper's basic time unit. 100 ms: 20-100x the network latency, so a healthy
    # leader never looks dead, yet a dead leader is noticed in 0.5 s (sync_limit ticks)
    # and a 60 s run sees dozens of failovers.
    "tick_time": 100 * MS,
    # zoo_sample.cfg values: discovery+sync must finish within 10 ticks (1 s); a follower
    # (or the leader's view of one) silent for 5 ticks (0.5 s) is gone.
    "init_limit": 10,
    "sync_limit": 5,
    # FLE waits this long for a better vote once a quorum agrees. ZooKeeper's 200 ms is
    # ~100x a LAN round trip; 50 ms is 10x our worst latency, enough for the last votes.
    "finalize_wait": 50 * MS,
    # FLE re-sends its vote after this much silence, doubling from finalize_wait. ZooKeeper
    # caps at 60 s, a whole run here; 2 s keeps an isolated server's retries coming
    # within the recovery period after a partition heals.
    "max_notification_interval": 2000 * MS,
    # zxid counter width; 32 as in ZooKeeper. Tests set e.g. 8 to reach rollover.
    "counter_bits": 32,
    # Take a snapshot of the committed tree after this many applied txns, then drop the
    # logged txns it covers (ZooKeeper's snapCount, 100000, plus log purging). 200 makes a
    # 60 s run take a few snapshots, so a server that was down long gets a SNAP, not a
    # DIFF, as a real one would after its peers purged their logs. 0: never.
    "snap_count": 200,
    # Client session timeout. ZooKeeper clamps it to [2, 20] ticks; 20 ticks = 2 s.
    "session_timeout": 2000 * MS,
    # The server's bounds on a session timeout, in ticks: zoo.cfg's minSessionTimeout and
    # maxSessionTimeout default to 2 and 20 tickTimes.
    "min_session_ticks": 2,
    "max_session_ticks": 20,
    # A client gives up on a request (and on its server) after 2/3 of the session timeout,
    # ZooKeeper's readTimeout; the operation ends fail (nothing sent) or info (unknown).
    "client_timeout": 1333 * MS,
    # How long a client waits for a CONNECT answer before trying another server
    # (ZooKeeper: session timeout / number of servers; 400 ms suits 3-5 servers).
    "connect_timeout": 400 * MS,
    # Pause before retrying another server after a refusal, so that a client does not spin
    # while the whole ensemble is electing (ZooKeeper sleeps up to 1 s; we scale down).
    "client_retry_delay": 20 * MS,
    # Client reads: "sync" (sync() then a local read: linearizable since ZOOKEEPER-1675)
    # or "local" (plain ZooKeeper read: sequentially consistent, may be stale).
    "reads": "sync",
}


def merged(settings: dict | None) -> dict:
    """The defaults overridden by ``settings`` (unknown keys are kept, for other layers)."""
    out = dict(DEFAULT_SETTINGS)
    out.update(settings or {})
    return out


def _schema() -> dict:
    from harness.schema import Duration, Int, OneOf

    return {
        "tick_time": Duration(1, 60_000),
        "init_limit": Int(1, 1000),
        "sync_limit": Int(1, 1000),
        "finalize_wait": Duration(1, 60_000),
        "max_notification_interval": Duration(1, 600_000),
        # below 3 bits an epoch's counter rolls over every few txns: a storm of elections
        "counter_bits": Int(3, 32),
        "snap_count": Int(0, 1_000_000_000),
        "session_timeout": Duration(1, 3_600_000),
        "min_session_ticks": Int(1, 1_000_000),
        "max_session_ticks": Int(1, 1_000_000),
        "client_timeout": Duration(1, 3_600_000),
        "connect_timeout": Duration(1, 3_600_000),
        "client_retry_delay": Duration(1, 60_000),
        "reads": OneOf("sync", "local"),
    }


#: type and range of each setting above (``harness.schema``): what ``--set`` may give
SETTINGS = _schema()
