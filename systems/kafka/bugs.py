"""Kafka's planted bugs (BUGS.md): names, and what each breaks and who must catch it.

Each is a ``ctx.bugs`` switch read at one marked spot (``# bug:``) of the code; the
correct path is the default and a bug never changes anything when it is off.
"""

from __future__ import annotations

from harness.bugs import BugInfo

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

BUGS: tuple[BugInfo, ...] = ()
