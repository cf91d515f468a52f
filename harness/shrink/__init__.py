"""Shrinking: turn a failing run into a smaller run that fails the same way.

``harness shrink RUN_DIR [--budget SECONDS] [--jobs N] [--keep CHECKER[:KIND]] [--store DIR]``.
The failure to keep is the run's *signature*: the set of (checker, anomaly kind) that
failed in results.json (``checkers.result.failure_signature``: results that do not decide
a run are ignored). A candidate is kept only if its signature still contains every pair of the
original one, or, with ``--keep``, the pairs named (say the one a planted bug is known by).

Each candidate is a run with an explicit ``schedule`` in its config, re-run
deterministically with ``run_test``. A run's cost dominates, so the passes go from cheap
big cuts to fine ones. A fault can change everything after it (which server leads, which
write is in flight), so a failure is often lost by removing an early fault and rarely by
removing a late one: cutting the end comes first.

1. a shorter time limit (the main phase): the first guesses are just after the time the
   anomaly first shows (the checkers name the operation, or, for the quorum checker, the
   shortest prefix of the trace shows it), then a search; episodes that would start after
   the limit are dropped, and ends after it are left to the final heal. This alone
   usually removes most faults, and it makes every later candidate cheaper.
2. the window before the failure: only the episodes in force in the last 1, 2, 4, 8 or
   16 s before the anomaly showed, first moved to 3 s into the run (so the run ends a few
   seconds later: a short run, cheap to try), then left where they were. A failure is
   most often the work of its last few faults; the earlier ones only set the scene.
3. the whole schedule moved earlier, the time limit cut by as much (a search for the
   shortest fault-free prefix that still fails);
4. a lower rate and fewer clients (the ladders of 10 below): fewer operations make every
   later candidate cheaper to simulate and to check.

Then, in rounds:

5. inert episodes: one candidate without the episodes that did nothing in the best run
   (by its fault log: a kill of a node already down, a crash point never reached...);
   also tried once right after 1, since it costs one run;
6. the earliest episodes (a search for the fewest last ones that still fail);
7. whole fault families (only one family, or all but one);
8. ddmin (Zeller's delta debugging) over the fault schedule's episodes: a fault's start
   and its end share an ``episode`` and go together, so no candidate restarts a node it
   never killed. The empty schedule is tried first: some bugs need no faults.
9. episode ends: an episode whose end is not needed lasts until the final heal (the main
   phase ends by healing everything, so the start alone is a complete fault);
10. moving earlier, the time limit and the window again (the schedule is smaller now);
11. a lower rate, fewer clients, fewer keys (so fewer operations): each a ladder of
    values tried smallest first (every one up to 3, then doubling, and three quarters),
    since whether a run fails is far from monotone in them;
12. once a round changes nothing: each episode alone, then each pair (at most
    ``SUBSETS`` candidates), since a schedule ddmin cannot cut may hold a smaller one;
13. still stuck above 3 faults (faults are schedule entries: a start and its end count
    as two), four ways out, tried in an order that depends on how far the goal is:
    a. the *neighbours* with one fault fewer (an end left to the final heal, or an
       episode dropped), each in numbered variants with a seed of its own and its
       faults moved by up to 0.5-3 s (`harness.shrink.neighbours`), a step of up to
       ``NEIGHBOUR_STEP`` variants (about ``NEIGHBOUR_STEP_RUNS`` runs) at a time, up
       to ``NEIGHBOUR_VARIANTS``. A fault moves everything after it, so a schedule one
       fault smaller rarely fails at the same times but may a little earlier or later.
       (Measured: zab-volatile-accepted-epoch 4 -> 3 faults at variant 12,
       kafka-premature-isr-join 4 -> 2 at variant 10; with 100 other seeds and the
       same times, none.) When the schedule targets ``"leader"``, each neighbour is
       also tried with those targets *pinned* to the servers they hit in the best run
       (`harness.shrink.redraw.pinned`): without an earlier fault another server may
       lead, or in Kafka be the controller, and the fault then hits the wrong one.
       (Measured: kafka-epoch-answer-unknown's kill of "leader" hit the controller b2
       only because an earlier kill had taken b1 out; its 3-fault neighbours failed in
       0 of 800 variants, pinned 1-2 of 100; 5 -> 3 faults.)
    b. the *re-draws with an earlier episode* (`harness.shrink.redraw.with_ancestors`):
       schedules of at most 3 faults made of one episode that an earlier best run held
       and a pass since removed (`harness.shrink.redraw.ancestor_faults`: the families
       pass drops a whole family at once, ddmin many episodes), whole or its start alone,
       moved as the schedule was moved since, and a sub-schedule of the best run's (none,
       or one of its small re-draws below of at most 2 faults); fewest faults first,
       in the small re-draws' variants (variant 0 as they were); a step of
       ``NEIGHBOUR_STEP_RUNS`` runs (a variant may hold more schedules than that) after
       each step of neighbours, up to ``REDRAW_VARIANTS``. A failure smaller than the best run may need a fault the
       best run no longer has. (Measured: kafka-epoch-answer-unknown's search failure
       shrank to 4 faults, power cuts alone, in 347 runs; no neighbour or re-draw of them
       failed in 3,463 runs (240 s). 4 -> 2 at variant 0, 254 runs later: a partition
       isolating b2 from 3.2 s, which the families pass had removed, and the power cut of
       all eight at 11.7 s, both ended by the final heal.)
    c. the *small re-draws* (`harness.shrink.redraw`): schedules of at most 3 faults
       built from the ``REDRAW_EPISODES`` (6) episodes that started last before the
       anomaly (each whole or its start alone), in numbered variants with the servers
       each episode names renamed (a permutation within each role, a "leader" target
       sometimes pinned), a seed of their own and faults moved a little; a step
       (about ``NEIGHBOUR_STEP_RUNS`` runs) after each step of re-draws with an earlier
       episode, up to ``REDRAW_VARIANTS``. Every other pass keeps each fault's target, and a failure
       often needs a role hit (the leader of the moment, a follower mid-sync) that
       moves to another server once a fault is gone. (Measured:
       zab-vote-order-not-total, stuck at 4 faults with no failing neighbour in 400
       variants, 4 -> 2 at variant 5: "kill n5, power cut armed at n3's
       newleader_received".)
    d. the rounds again, each candidate also tried with 3, then 10, then 30 other run
       seeds (in a fixed order). The schedule is explicit in the config, so the seed
       only moves latencies and the clients' choices; a smaller schedule that fails
       with another seed is a smaller failing run. (Measured:
       zab-newleader-ack-before-durable 10 -> 4 faults, kafka-unclean-election 6 -> 2,
       kafka-no-epoch-fencing 19 -> 9.)
    At most ``NEAR_GOAL_FAULTS`` (6) faults, fewer faults is what is wanted: every
    neighbour and re-draw variant before any reseeding (which multiplies every pass's
    runs). Above it, the reseeded rounds first (ddmin may then cut many faults at
    once), the neighbours and re-draws once the reseeds are used up.

Rounds repeat until one changes nothing (at most 3 faults left, or the neighbour and
re-draw variants and the reseeds used up) or the budget is spent. With ``--jobs`` above
1 a round's candidates run in a process pool, yet the candidate kept is always the one
sequential evaluation would keep (the first in the pass's order that fails the same way,
not whichever finishes first), and every choice of the passes (the neighbour and re-draw
variants' seeds, renamings and moves included) is a function of the best run so far and
the best runs before it (whose episodes the re-draws with an earlier episode draw on),
never of the clock; so
the result does not depend on timing or ``--jobs``; only how far a spent budget got
does (the same input with the same budget on a busier machine may stop earlier). The
budget is wall clock of the shrinker (never inside a run): a candidate still running
when it is spent is stopped and does not count.

A known limit: some failures need more than 3 faults, whatever the search. The planted
bug zab-epoch-before-log, whose hunt draws power cuts on 3 servers, shows it. Its
failure needs three things. First, a server n must lack a committed txn, which takes a
cut and a power-on that brings the others back first. Second, n must crash between
writing its new currentEpoch and flushing the synced log, while the other quorum member
has not yet written that epoch: a second cut armed at n's ``current_epoch``. Third, n
and that member must come back before the epoch's leader, which takes the second cut's
power-on. The final heal restarts everyone at once, and then the leader wins with its
longer log. That is 4 faults at least. Hand-built 3-fault schedules (power cuts whose
power-on order makes the lag) failed in 0 of 40 tries, and 4-fault ones in 0 of 1,200.
The shrinker stops at 48 there, because ddmin finds no episode it can remove (26 -> 24
episodes, then nothing, even in 300 s). With other families the bug needs fewer
episodes but not fewer entries: a partition, a kill and a power cut armed at the
crash point (3 episodes, 6 entries) expose it in 3 of 5 seeds
(tests/zab/test_epoch_before_log.py), while 2 power-cut episodes (4 entries) did in
0 of 1,100 random tries. Two servers powering on together often fail to form an
epoch for a whole initLimit (the FOLLOWERINFO gap of docs/zab.md, section 4), so the
third is back before the race; but with that gap closed it was still 0 of 150. From a
run with other families the shrinker does reach the bound: the first failure of
bench/search.py's guided campaign (3 servers, partitions, kills, crash points) shrank to
4 entries, 3 episodes (the leader isolated and healed, a kill of n1, a crash of n3 at
``current_epoch``, the last two ended by the final heal), 1 client, 6 s, in 57 s.

The result is written as a normal run directory (``RUN_DIR.shrunk``, or
``STORE/runs/NAME.shrunk`` with ``--store``) that ``harness repro`` reproduces, with
``shrink.json`` beside it saying what was reduced; it is written complete into a staging
directory and swapped in at once (`harness.shrink.output`), so the output directory is
never missing or half-written, even if the shrinker is killed. Every smaller failing run found on
the way is checkpointed at once to ``checkpoint.json`` in that directory (atomically: a
killed shrink loses nothing it found), and shrinking the same run into the same
directory again resumes from it.

The package, by job: `search` (ddmin and bisection), `schedule` (a schedule as episodes),
`onset` (when the anomaly shows), `neighbours` (the one-fault-fewer variants), `redraw`
(the small re-draws, those with an earlier episode, and "leader" targets pinned),
`checkpoint` (the best run so far, on disk), `output` (publishing the result), `executor`
(running and judging candidates within the budget), `passes` (the reductions above and
their order), `driver` (`shrink_run`: a run directory in, a shrunk one out) and `cli`
(the ``harness shrink`` command).
"""

from __future__ import annotations

from harness.shrink.cli import MAX_BUDGET_S, MAX_JOBS, add_arguments, run
from harness.shrink.driver import DEFAULT_BUDGET_S, default_jobs, shrink_run
from harness.shrink.executor import CandidateExecutor, OutOfBudget, attempt
from harness.shrink.onset import anomaly_time
from harness.shrink.passes import (
    NEIGHBOUR_STEP,
    NEIGHBOUR_VARIANTS,
    REDRAW_VARIANTS,
    RESEED_ABOVE_FAULTS,
    RESEEDS,
    SUBSETS,
    Shrinker,
    sizes,
)
from harness.shrink.schedule import _family, episodes_of, inert_episodes, trim_schedule
from harness.shrink.search import First, ddmin, shrink_int

__all__ = [
    "DEFAULT_BUDGET_S", "MAX_BUDGET_S", "MAX_JOBS", "NEIGHBOUR_STEP", "NEIGHBOUR_VARIANTS",
    "REDRAW_VARIANTS", "RESEEDS", "RESEED_ABOVE_FAULTS", "SUBSETS",
    "CandidateExecutor", "First", "OutOfBudget", "Shrinker", "_family", "add_arguments", "anomaly_time",
    "attempt", "ddmin", "default_jobs", "episodes_of", "inert_episodes", "run", "shrink_int", "shrink_run",
    "sizes", "trim_schedule",
]
