"""Kafka's planted bugs (docs/kafka.md, "Planted bugs"): names, and what each breaks and who must catch it.

Each is a ``ctx.bugs`` switch read at one marked spot (``# bug:``) of the code; the
correct path is the default and a bug never changes anything when it is off. ``exposed_by``
names the campaign that finds it (nemesis families, and settings where the bug needs a
non-default configuration to do harm, as docs/kafka.md says).
"""

from __future__ import annotations

from harness.system import BugInfo

ACKS_ALL_AS_ONE = "kafka-acks-all-as-one"
UNCLEAN_ELECTION = "kafka-unclean-election"
IGNORE_MIN_ISR = "kafka-ignore-min-isr"
HW_TRUNCATION = "kafka-hw-truncation"
HW_DIVERGENCE = "kafka-hw-divergence"
EPOCH_ANSWER_UNKNOWN = "kafka-epoch-answer-unknown"
PREMATURE_ISR_JOIN = "kafka-premature-isr-join"
NO_EPOCH_FENCING = "kafka-no-epoch-fencing"
ZOMBIE_CONTROLLER = "kafka-zombie-controller"
NON_IDEMPOTENT_RETRY = "kafka-non-idempotent-retry"
PRODUCER_STATE_LOST = "kafka-producer-state-lost"
COMMIT_BEFORE_PROCESS = "kafka-commit-before-process"
WALLCLOCK_ISR_LAG = "kafka-wallclock-isr-lag"

BUGS: tuple[BugInfo, ...] = (
    BugInfo(ACKS_ALL_AS_ONE, "kafka",
            "the leader answers acks=all once it alone has the record, before the high watermark covers it",
            "durability: lost-write; replicas: acked-uncommitted", "--nemesis partition,kill"),
    BugInfo(UNCLEAN_ELECTION, "kafka",
            "with no live ISR member, a replica outside the ISR is elected and overwrites offsets",
            "durability: lost-write, inconsistent-offsets", "--nemesis partition,kill"),
    BugInfo(IGNORE_MIN_ISR, "kafka",
            "acks=all succeeds (and the high watermark moves) with the ISR shrunk to the leader alone "
            "[Jepsen 2013]",
            "replicas: acked-below-min-isr; durability: lost-write once another replica is promoted "
            "(unclean_leader_election_enable=true, as in 2013)",
            "--nemesis partition,kill [--set unclean_leader_election_enable=true]"),
    BugInfo(HW_TRUNCATION, "kafka",
            "a replica becoming follower truncates to its own, lagging, high watermark [KIP-101 scenario 1]",
            "durability: lost-write or inconsistent-offsets; replicas: committed-value-changed",
            "--nemesis partition,kill"),
    BugInfo(HW_DIVERGENCE, "kafka",
            "a replica becoming follower whose log ends at its high watermark skips the leader-epoch check, "
            "so when the new leader lacks records below it, equal offsets keep different records "
            "[KIP-101 scenario 2]",
            "replicas: replicas-disagree-after-healing; durability: inconsistent-offsets",
            "--nemesis partition,kill --set unclean_leader_election_enable=true"),
    BugInfo(EPOCH_ANSWER_UNKNOWN, "kafka",
            "a follower takes the leader's end offset for an epoch the leader never had as its truncation "
            "point [KIP-279]",
            "replicas: replica divergence; durability: inconsistent-offsets", "--nemesis partition,kill,crash"),
    BugInfo(PREMATURE_ISR_JOIN, "kafka",
            "a follower rejoins the ISR once past a new leader's lagging high watermark, without the "
            "records of the leader's epoch start [KAFKA-7128]",
            "durability: lost-write", "--nemesis partition,kill,crash"),
    BugInfo(NO_EPOCH_FENCING, "kafka",
            "fetches are not fenced by leader epoch: a deposed leader keeps serving, and a follower takes "
            "a stale leader's answer [KIP-320]",
            "replicas: stale-epoch-append, replica divergence", "--nemesis pause,partition"),
    BugInfo(ZOMBIE_CONTROLLER, "kafka",
            "a controller whose ZooKeeper session expired keeps acting on a new session and writes "
            "partition state without versions [KAFKA-6082]",
            "replicas: two-leaders-one-epoch; durability: lost-write", "--nemesis pause,partition"),
    BugInfo(NON_IDEMPOTENT_RETRY, "kafka",
            "the producer retries without idempotence (no producer id) when an answer is lost",
            "durability: duplicate", "--nemesis partition,kill"),
    BugInfo(PRODUCER_STATE_LOST, "kafka",
            "a new leader does not rebuild producer-id state from its log, so a retried record is "
            "appended again",
            "durability: duplicate", "--nemesis partition,kill"),
    BugInfo(COMMIT_BEFORE_PROCESS, "kafka",
            "the consumer commits fetched offsets before handing the records on; a poll that then fails "
            "loses them for the group",
            "durability: lost-write (the group's final drain)", "--nemesis partition,kill"),
    BugInfo(WALLCLOCK_ISR_LAG, "kafka",
            "ISR lag is measured on the leader's wall clock, so a forward jump drops caught-up followers",
            "replicas: spurious-isr-shrink; durability: lost-write only with min_insync_replicas=1 and a "
            "leader that loses its unflushed tail while alone in the ISR (rare: the ISR re-expands at the "
            "followers' next fetch)",
            "--nemesis clock,kill"),
)
