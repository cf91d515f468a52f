"""Smaller neighbours of a schedule, for when the reduction passes are stuck: every
schedule with one fault fewer (an episode's end left to the final heal, or a whole
episode dropped), each in numbered *variants* with another run seed and its faults'
times moved a little.

Why: once ddmin, the subsets and other seeds cannot cut a schedule further, each smaller
schedule has been tried with the same fault times, and a fault moves everything after
it, so the smaller schedule usually fails only if its faults come a little earlier or
later than they did (measured on zab-volatile-accepted-epoch, 4 faults: none of its
3-fault neighbours fails with any of 100 other seeds; one of them fails in 1 of 200 to 4
of 200 variants with times moved by up to 1.5-3 s). Variant k of a candidate is a pure
function of (the candidate, k), so the search is deterministic: only how far a spent
budget gets depends on timing.
"""

from __future__ import annotations

import random
from typing import Any

from harness.config import SECOND, RunConfig
from harness.rng import derive_seed
from harness.shrink.schedule import _starts

#: how far variant k moves each fault (up to this many seconds either way), by k modulo
#: its length: variant 0 is the candidate itself, every other one also has another seed
JITTER_S = (0.0, 0.5, 1.0, 2.0, 3.0)


def one_fault_fewer(schedule: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Every schedule with fewer faults that drops one thing: an episode's end (the
    final heal ends it instead), then a whole episode; latest first (a late fault is the
    least likely to have set the scene for the failure), no duplicates."""
    starts = _starts(schedule)
    out: list[list[dict[str, Any]]] = []
    seen: set[str] = set()

    def add(s: list[dict[str, Any]]) -> None:
        k = repr(s)
        if k not in seen:
            seen.add(k)
            out.append(s)

    order = sorted(range(len(schedule)), key=lambda i: (-int(schedule[i]["at"]), i))
    for i in order:  # the ends
        f = schedule[i]
        if f is not starts[f["episode"]]:
            add([g for j, g in enumerate(schedule) if j != i])
    for i in order:  # the episodes
        f = schedule[i]
        if f is starts[f["episode"]]:
            add([g for g in schedule if g["episode"] != f["episode"]])
    return out


def variant(cfg: RunConfig, k: int) -> RunConfig:
    """Variant ``k`` of ``cfg``: 0 is ``cfg``; any other has a seed of its own and each
    fault moved by up to ``JITTER_S[k % len(JITTER_S)]`` seconds either way, within the
    main phase, an episode's faults kept in their order."""
    if k == 0:
        return cfg
    seed = derive_seed(cfg.seed, "shrink-neighbour", k)
    width = JITTER_S[k % len(JITTER_S)]
    schedule = cfg.schedule or []
    if width and schedule:
        rng = random.Random(derive_seed(seed, "jitter"))
        limit = int(cfg.time_limit * SECOND)
        lo, hi = SECOND // 1000, max(SECOND // 1000, limit - SECOND // 1000)
        moved = [min(hi, max(lo, int(f["at"]) + int(rng.uniform(-width, width) * SECOND))) for f in schedule]
        by_episode: dict[int, list[int]] = {}
        for i, f in enumerate(schedule):
            by_episode.setdefault(int(f["episode"]), []).append(i)
        at = list(moved)
        for idx in by_episode.values():  # the start keeps the earliest time, the end the latest
            for i, t in zip(sorted(idx, key=lambda i: (int(schedule[i]["at"]), i)), sorted(moved[i] for i in idx)):
                at[i] = t
        schedule = sorted(({**f, "at": at[i]} for i, f in enumerate(schedule)),
                          key=lambda f: (f["at"], f["episode"]))
    return cfg.replace(seed=seed, schedule=schedule)
