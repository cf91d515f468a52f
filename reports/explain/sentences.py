"""What each anomaly kind means, in one sentence a reader of the report understands
without the checker's source: the queue taxonomy (after Jepsen's Kafka test), ZAB safety
properties, the election workload, ZooKeeper sessions and Kafka replicas."""

from __future__ import annotations

#: one sentence per anomaly kind: the queue taxonomy (docs/anomalies.md, after Jepsen's Kafka
#: test), ZAB safety (docs/zab.md §7, checkers/quorum.py) and the election workload
KIND_SENTENCES = {
    "lost-write": "A value known to be committed was never read, although polls read past its offset.",
    "unseen": "Acknowledged values that no poll had returned by the final drain.",
    "duplicate": "One value sits at more than one offset of a key.",
    "inconsistent-offsets": "One offset of a key holds more than one value, judging by sends and polls together.",
    "aborted-read": "A value whose send definitely failed showed up in a poll.",
    "poll-skip": "A consumer's next poll on a key jumped over offsets known to exist, with no reassignment between.",
    "nonmonotonic-poll": "A consumer's next poll on a key started at or before where its previous poll ended.",
    "int-poll-skip": "Inside one poll, consecutive values of a key skipped offsets known to exist.",
    "int-nonmonotonic-poll": "Inside one poll, the offsets of a key went backwards or repeated.",
    "nonmonotonic-send": "A producer's later send to a key landed at an offset before its previous send.",
    "unexpected-value": "A poll returned a value that no one sent.",
    # ZAB safety on the trace (checkers/quorum.py, docs/zab.md)
    "I1-integrity": "A server delivered a transaction that was never proposed, or with another digest.",
    "I2-total-order": "Two servers delivered the same transactions in different orders.",
    "I3-agreement": "Two servers delivered different transactions at the same place in their histories.",
    "I4-local-primary-order": ("Within one epoch a server delivered something other than a prefix of that epoch's "
                               "proposals, in zxid order."),
    "I5-global-primary-order": "Epochs went down along a server's delivered history.",
    "I6-primary-integrity": ("A new leader proposed before it had delivered every earlier-epoch transaction some "
                             "server delivers."),
    "I7-one-leader-per-epoch": "Two servers were established leaders of the same epoch.",
    "I8-zxid-sanity": "A zxid does not carry its leader's epoch, goes backwards, or stands for two transactions.",
    "I9-acked-write-durability": ("A write a client saw succeed is not delivered, with its zxid, by every server "
                                  "at the end."),
    "quorum-commit": "A transaction was committed without durable ACKs from a quorum.",
    "committed-log-durability": "A truncation removed a transaction that had been delivered (committed).",
    # the election workload (checkers/mutex.py)
    "overlapping-masters": "Two clients believed they were master at the same time.",
    "token-regression": "The storage accepted a write whose fencing token is lower than one it had already "
                        "accepted: an older master overwrote a newer one's work.",
    "deposed-writer": "The storage accepted a write from a master after a newer master had begun.",
    # ZooKeeper sessions (checkers/session.py)
    "read-matches-state": "A read returned a value other than the key's committed value at the zxid the "
                          "server said it read at.",
    "monotonic-reads": "A session's read saw an older state (a lower zxid) than its previous read.",
    "read-your-writes": "A session's read saw a state from before its own acknowledged write.",
    "expired-while-live": "A server expired a session although it had heard from its client within the "
                          "session timeout (ZOOKEEPER-1366).",
    # Kafka replicas (checkers/replicas.py)
    "two-leaders-one-epoch": "Two brokers led one partition in the same leader epoch.",
    "hw-moved-back": "A leader's high watermark moved back within its term.",
    "committed-value-changed": "A committed offset later carried another value.",
    "diverged-below-hw": "A replica appended another value below a committed offset it should hold.",
    "acked-uncommitted": "A leader acknowledged an acks=all produce before the record was committed.",
    "acked-below-min-isr": "A leader acknowledged an acks=all produce while its ISR was below "
                           "min.insync.replicas.",
    "isr-join-without-committed": "A follower joined the ISR without every committed record (KAFKA-7128).",
    "spurious-isr-shrink": "A leader dropped a follower from the ISR that had not lagged for "
                           "replica.lag.time.max.",
    "replicas-disagree-after-healing": "After healing, replicas with the same high watermark hold different "
                                       "records below it.",
    "stale-epoch-append": "A follower took a record of an older leader epoch past where its own epoch "
                          "starts: a deposed leader's answer was not fenced (KIP-320).",
}
