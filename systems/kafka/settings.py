"""Default settings of the Kafka system (brokers, controller, client library), with why.

Durations are integer nanoseconds of a node's monotonic clock. Kafka's defaults are scaled
down about 20x, as the ZAB system's are (tickTime 2000 ms -> 100 ms), so that a 60 s run
sees many ISR changes, leader elections and failovers. Settings are keyed by Kafka's own
names with dots turned into underscores (``min.insync.replicas`` -> ``min_insync_replicas``).
"""

from __future__ import annotations

MS = 1_000_000

DEFAULT_SETTINGS: dict = {
    # --- cluster shape -------------------------------------------------------------
    # ZooKeeper servers "z1".."zN" beside the brokers "b1".."bM" (M = --nodes).
    "zk_nodes": 3,
    # Which ZooKeeper the brokers use: "zab" (systems/zab, a real ZAB ensemble) or "mini"
    # (systems/kafka/minizk.py: one durable server speaking the same client API; for fast
    # protocol tests, and to tell a Kafka failure from a ZooKeeper one).
    "zookeeper": "zab",
    # One topic "t" with this many partitions; the queue workload's key "k<i>" goes to
    # partition i mod partitions (one to one when --keys equals this, as by default).
    "partitions": 3,
    "replication_factor": 3,
    # --- producer ----------------------------------------------------------------------
    # acks: 0 (no answer), 1 (leader append), "all" (the high watermark covers the record)
    "acks": "all",
    "enable_idempotence": True,
    # Producer retries within delivery_timeout (Kafka: 120 s; here 3 s, far below the
    # harness's 10 s operation timeout, so the client always answers first).
    "delivery_timeout": 3000 * MS,
    # One produce attempt's wait for its answer (request.timeout.ms, 30 s in Kafka); the
    # broker's own purgatory timeout is a bit shorter, so it usually answers first.
    "request_timeout": 1000 * MS,
    "retry_backoff": 50 * MS,
    # --- broker --------------------------------------------------------------------------
    "min_insync_replicas": 2,
    "unclean_leader_election_enable": False,
    # A follower not caught up for this long leaves the ISR (30 s in Kafka; 1.5 s here,
    # which is 3 ZooKeeper session timeouts' worth of ticks scaled the same way).
    "replica_lag_time_max": 1500 * MS,
    # A follower's fetch waits at most this long at the leader for new data (500 ms).
    "replica_fetch_wait_max": 100 * MS,
    # Records one replica fetch answer carries at most (replica.fetch.max.bytes, counted
    # in records): a follower far behind catches up this many per round trip.
    "replica_fetch_max_records": 200,
    # A follower whose fetch gets no answer retries after this (replica.fetch.backoff).
    "replica_fetch_timeout": 300 * MS,
    # flush policy: 0 = fsync every append before it counts (log.flush.interval.messages=1);
    # N > 0 = fsync every N ns (log.flush.interval.ms), records count while in page cache.
    "flush_interval": 0,
    # High watermark checkpoint (replica.high.watermark.checkpoint.interval.ms, 5 s).
    "hw_checkpoint_interval": 250 * MS,
    # The controller re-sends every partition's state to every live broker this often, as
    # Kafka's controller-to-broker channel retries until the broker is gone.
    "controller_resend_interval": 500 * MS,
    # Retry pause for ZooKeeper calls that failed with ConnectionLoss or timed out.
    "zk_retry_delay": 50 * MS,
    # --- consumer groups -------------------------------------------------------------------
    # A member silent this long is removed and the group rebalances (session.timeout.ms 45 s).
    "group_session_timeout": 1500 * MS,
    "heartbeat_interval": 300 * MS,
    # How long a poll waits for fetches (poll(Duration)); an answer always comes by then.
    "poll_timeout": 300 * MS,
    # A commit waits at most this long for the coordinator.
    "commit_timeout": 2000 * MS,
    # Records one consumer fetch returns at most (max.poll.records is 500).
    "max_poll_records": 100,
}


def merged(settings: dict | None) -> dict:
    """The defaults overridden by ``settings`` (unknown keys are kept, for other layers)."""
    out = dict(DEFAULT_SETTINGS)
    out.update(settings or {})
    return out


def _schema() -> dict:
    from harness.schema import Bool, Duration, Int, OneOf
    from systems.zab.settings import SETTINGS as ZAB

    return {
        **ZAB,  # Kafka's ZooKeeper ensemble
        "zk_tick": Duration(1, 60_000),  # the mini ZooKeeper's tick
        "zk_nodes": OneOf(1, 3, 5, 7),
        "zookeeper": OneOf("zab", "mini"),
        "partitions": Int(1, 100),
        "replication_factor": Int(1, 7),
        "acks": OneOf(0, 1, "all"),
        "enable_idempotence": Bool(),
        "delivery_timeout": Duration(1, 3_600_000),
        "request_timeout": Duration(1, 600_000),
        "retry_backoff": Duration(1, 60_000),
        "min_insync_replicas": Int(1, 7),
        "unclean_leader_election_enable": Bool(),
        "replica_lag_time_max": Duration(1, 3_600_000),
        "replica_fetch_wait_max": Duration(1, 60_000),
        "replica_fetch_max_records": Int(1, 1_000_000),
        "replica_fetch_timeout": Duration(1, 600_000),
        "flush_interval": Duration(0, 3_600_000),
        "hw_checkpoint_interval": Duration(1, 3_600_000),
        "controller_resend_interval": Duration(1, 3_600_000),
        "zk_retry_delay": Duration(1, 60_000),
        "group_session_timeout": Duration(1, 3_600_000),
        "heartbeat_interval": Duration(1, 3_600_000),
        "poll_timeout": Duration(1, 600_000),
        "commit_timeout": Duration(1, 600_000),
        "max_poll_records": Int(1, 1_000_000),
    }


#: type and range of each setting (``harness.schema``): what ``--set`` may give
SETTINGS = _schema()
