"""The reduction passes: what the shrinker tries, in which order, and when it stops.

Cheap big cuts first, fine ones after: the time limit (with the anomaly's onset as the
first guess), the window of episodes just before the failure (moved to the start of the
run, then not), the whole schedule moved earlier, a lower rate and fewer clients; then
in rounds inert episodes, the earliest episodes, whole fault families, ddmin over the
schedule's episodes, episode ends, moving earlier, the time limit and the window again,
rate, clients, keys; rounds repeat until one changes nothing, then small subsets of the
episodes, then (stalled above ``RESEED_ABOVE_FAULTS`` faults) the neighbours with one
fault fewer in seeded, time-moved variants (`harness.shrink.neighbours`, also with their
"leader" targets pinned), in turn with the re-draws that bring back one episode an
earlier best run held and the small re-draws of at most that many faults with their
servers renamed (`harness.shrink.redraw`), and every candidate also with other run seeds.
The package docstring (`harness.shrink`) says why this order. Each pass builds candidate
configurations and hands them to the executor (`harness.shrink.executor`), which keeps
the first that still fails the same way.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable
from typing import Any

from harness.config import SECOND, ConfigError, RunConfig
from harness.runner import faulty_clients
from harness.shrink.executor import CandidateExecutor, OutOfBudget
from harness.shrink.neighbours import one_fault_fewer, variant
from harness.shrink.onset import anomaly_time
from harness.shrink.redraw import ancestor_faults, pinned, redrawn, small_schedules, with_ancestors
from harness.shrink.schedule import (
    _family,
    _starts,
    episodes_of,
    inert_episodes,
    shifted,
    trim_schedule,
    window_episodes,
    without_nodes,
)
from harness.shrink.search import ddmin, shrink_int
from harness.system import servers_for

#: seconds before the anomaly whose episodes the window pass keeps, narrowest first
WINDOWS_S = (1, 2, 4, 8, 16)
#: seconds into the run the window pass moves a window's first episode to: past the
#: first election, with some writes done
SHIFT_TO_S = 3

#: values each round of the bisection passes (time limit, moving earlier, the earliest
#: episodes) probes at once. A constant, not ``--jobs``: the probes decide the search's
#: path, so a width that followed ``--jobs`` made the result depend on it (a run shrank
#: to 3 faults with one job and to 1 with two). 2 is the width every measured table used.
SEARCH_WIDTH = 2

#: the client, key and rate passes try every value up to this one, then doubling
LADDER_STEPS = 3

#: at most this many small subsets of the episodes are tried once the passes are stuck
SUBSETS = 200

#: stalled above the goal: each neighbour with one fault fewer is tried in this many more
#: variants each time (`harness.shrink.neighbours`), up to ``NEIGHBOUR_VARIANTS`` in all
NEIGHBOUR_STEP = 40
#: and at most about this many runs in a step (fewer variants when there are many faults)
NEIGHBOUR_STEP_RUNS = 200
NEIGHBOUR_VARIANTS = 400
#: and at most this many variants of each small re-draw (`harness.shrink.redraw`)
REDRAW_VARIANTS = 400
#: at most this many faults, the neighbour variants all come before any reseeding
NEAR_GOAL_FAULTS = 6

#: once the passes stall above this many faults, candidates are also tried with other seeds
RESEED_ABOVE_FAULTS = 3
#: how many other seeds, each time the passes stall again
RESEEDS = (3, 10, 30)


class Shrinker(CandidateExecutor):
    """The executor with the passes: `shrink` runs them until nothing changes or the
    budget is spent."""

    def shrink(self) -> Any:
        """Run the passes until nothing changes or the budget is spent; the best RunResult."""
        # the cheap big cuts first: each makes every later candidate a shorter run, and
        # so do a lower rate and fewer clients (fewer operations to simulate and check)
        first = (self.shrink_inert, self.shrink_window, self.shrink_shift, lambda: self.shrink_rate(early=True),
                 lambda: self.shrink_clients(early=True))
        passes = (self.shrink_inert, self.shrink_prefix, self.shrink_families, self.shrink_episodes,
                  self.shrink_ends, self.shrink_shift, self.shrink_time_limit, self.shrink_window)
        workload = (self.shrink_rate, self.shrink_clients, self.shrink_keys)
        try:
            self.shrink_time_limit(hint=True)
            for p in first:
                p()
            while True:
                before = self.config
                # the schedule passes until they change nothing, then the workload's: a
                # ladder re-run after every schedule change costs runs and seldom gains
                while True:
                    b = self.config
                    for p in passes:
                        p()
                    if self.config == b:
                        break
                w = self.config
                for p in workload:
                    p()
                if self.config != w:
                    continue
                self.shrink_subsets()
                if self.config != before:
                    continue
                if sizes(self.best)["faults"] <= RESEED_ABOVE_FAULTS:
                    break
                # Stalled above the goal: every smaller schedule changes what follows it
                # (which server leads, which write is in flight) and the failure with it.
                # Near the goal (NEAR_GOAL_FAULTS), one fault fewer is what is wanted:
                # the neighbours with one fault fewer, with other seeds and their faults
                # moved a little, all their variants (a step at a time) before the
                # reseeding, which multiplies every pass's runs. Far from it, ddmin and
                # the other passes with other seeds first (they may cut many faults at
                # once), the neighbours after.
                near = sizes(self.best)["faults"] <= NEAR_GOAL_FAULTS
                more = [n for n in RESEEDS if n > self.reseeds]
                if near or not more:
                    # a step of neighbours, of re-draws with an episode an earlier pass
                    # removed, then of small re-draws, in turn
                    if self.shrink_neighbours() or self.shrink_ancestors() or self.shrink_redraw():
                        continue
                    if (self._neighbour_variants()[1] < NEIGHBOUR_VARIANTS
                            or self._ancestor_left()
                            or self._redraw_variants()[1] < REDRAW_VARIANTS):
                        continue
                if not more:
                    break
                self.reseeds = more[0]
                self.log(f"stalled at {sizes(self.best)['faults']} faults; trying each candidate "
                         f"with {self.reseeds} other seeds too")
        except OutOfBudget:
            self.out_of_budget = True
            self.log("budget spent; keeping the smallest failing run so far")
        except KeyboardInterrupt:
            self.interrupted = True
            self.log("interrupted; keeping the smallest failing run so far")
        finally:
            self.close()
        return self.best

    def _neighbour_variants(self) -> tuple[Any, int]:
        """(the best run the neighbour search last started from, how many variants of
        each of its neighbours have been tried); reset when the best run changes."""
        nb = getattr(self, "_nb", (None, 0))
        return nb if nb[0] is self.best else (self.best, 0)

    def shrink_neighbours(self) -> bool:
        """The schedules with one fault fewer (`harness.shrink.neighbours`), the next
        ``NEIGHBOUR_STEP`` variants of each (another seed, faults moved a little),
        variant by variant; whether one failed the same way (it is then the best run)."""
        cfg = self.config
        base, done = self._neighbour_variants()
        if done >= NEIGHBOUR_VARIANTS:
            return False
        schedule = cfg.schedule or []
        smaller = [cfg.replace(schedule=s) for s in one_fault_fewer(schedule)]
        pin = pinned(schedule, self.best.out.faults)
        if pin != schedule:  # each neighbour also with its "leader" targets pinned
            smaller += [cfg.replace(schedule=s) for s in one_fault_fewer(pin)]
        step = max(1, min(NEIGHBOUR_STEP, NEIGHBOUR_STEP_RUNS // max(1, len(smaller))))
        ks = range(done + 1, min(done + step, NEIGHBOUR_VARIANTS) + 1)
        cands = [variant(c, k) for k in ks for c in smaller]
        self._nb = (base, ks[-1]) if ks else (base, done)
        return self._first_variant(cands, ks, len(smaller), "one fault fewer", cfg)

    def _redraw_variants(self) -> tuple[Any, int]:
        """As `_neighbour_variants`, for the small re-draws."""
        rd = getattr(self, "_rd", (None, 0))
        return rd if rd[0] is self.best else (self.best, 0)

    def shrink_redraw(self) -> bool:
        """The schedules of at most ``RESEED_ABOVE_FAULTS`` faults (the goal) built from
        the episodes last before the anomaly, the next variants of each with the nodes
        each episode names renamed, another seed and faults moved a little
        (`harness.shrink.redraw`), about ``NEIGHBOUR_STEP_RUNS`` runs a step; whether one
        failed the same way (it is then the best run)."""
        cfg = self.config
        base, done = self._redraw_variants()
        if done >= REDRAW_VARIANTS:
            return False
        onset = int(self._anomaly_s() * SECOND)
        small = small_schedules(cfg.schedule or [], onset, RESEED_ABOVE_FAULTS)
        step = max(1, min(NEIGHBOUR_STEP, NEIGHBOUR_STEP_RUNS // max(1, len(small))))
        ks = range(done, min(done + step, REDRAW_VARIANTS))
        servers = servers_for(cfg)
        cands = [redrawn(cfg, s, servers, k) for k in ks for s in small]
        self._rd = (base, ks[-1] + 1) if ks else (base, done)
        return self._first_variant(cands, ks, len(small), "small re-draw", cfg)

    def _ancestor_left(self) -> bool:
        """Whether re-draws with an earlier episode are left to try from the best run."""
        an = getattr(self, "_an", (None, 0, 1))
        return an[0] is not self.best or an[1] < an[2]

    def shrink_ancestors(self) -> bool:
        """The schedules of at most ``RESEED_ABOVE_FAULTS`` faults (the goal) made of one
        episode that an earlier best run held and an earlier pass removed (the families
        pass drops a whole family at once; `harness.shrink.redraw.ancestor_faults`) and a
        sub-schedule of the best run's (`harness.shrink.redraw.with_ancestors`), each in
        the small re-draws' variants (variant 0 as it was, then renamed, another seed,
        faults moved a little), up to ``REDRAW_VARIANTS``: the next ``NEIGHBOUR_STEP_RUNS``
        candidates, variant by variant (there may be more schedules than that in one);
        whether one failed the same way (it is then the best run)."""
        cfg = self.config
        an = getattr(self, "_an", (None, 0, 1))
        done = an[1] if an[0] is self.best else 0
        schedule = cfg.schedule or []
        gone: set[str] = set()  # clients an earlier run had and this one lacks
        for c in self.history:
            gone |= set(faulty_clients(c))
        extra = ancestor_faults(schedule, [c.schedule or [] for c in self.history[:-1]])
        extra = trim_schedule(without_nodes(extra, gone - set(faulty_clients(cfg))), cfg.time_limit)
        onset = int(self._anomaly_s() * SECOND)
        small = with_ancestors(schedule, extra, onset, RESEED_ABOVE_FAULTS)
        small = [s for s in small if _valid(cfg.replace(schedule=s))]
        total = len(small) * REDRAW_VARIANTS
        stop = min(done + NEIGHBOUR_STEP_RUNS, total)
        self._an = (self.best, stop, total)
        if done >= stop:
            return False
        servers = servers_for(cfg)
        cands = [redrawn(cfg, small[i % len(small)], servers, i // len(small)) for i in range(done, stop)]
        i = self._first_of(cands)
        if i is None:
            return False
        self._changed(f"re-draw with an earlier episode (variant {(done + i) // len(small)})",
                      len(schedule), len(self.config.schedule or []), cfg)
        return True

    def _first_variant(self, cands: list[RunConfig], ks: range, per_k: int, what: str, cfg: RunConfig) -> bool:
        """Run ``cands`` (``per_k`` schedules for each variant number in ``ks``) and keep
        the first that fails the same way; whether one did."""
        if not cands:
            return False
        before = len(cfg.schedule or [])
        i = self._first_of(cands)  # not multiplied by the reseeds: each variant has a seed of its own
        if i is None:
            return False
        self._changed(f"{what} (variant {ks[i // per_k]})", before, len(self.config.schedule or []), cfg)
        return True

    def shrink_time_limit(self, hint: bool = False) -> None:
        cfg = self.config
        top = math.ceil(cfg.time_limit)

        def at(t: int) -> RunConfig:
            if t >= top:
                return cfg
            return cfg.replace(time_limit=float(t), schedule=trim_schedule(cfg.schedule or [], t))

        hints: list[int] = []
        if hint:
            t = anomaly_time(self.best, self.target)
            if t is not None:
                hints = [math.ceil(t + 0.5), math.ceil(t) + 2]
                self.log(f"the anomaly shows by {t:.2f} s")
        t = shrink_int(top, 1, first=lambda ts: self.first_of([at(t) for t in ts]),
                       width=SEARCH_WIDTH, hints=hints)
        self._changed("time limit", cfg.time_limit, self.config.time_limit, cfg)

    def _anomaly_s(self) -> float:
        """Seconds into the best run by which the failure has shown (its time limit
        when no checker says when: liveness is judged at the end); cached per best run."""
        if getattr(self, "_onset", (None,))[0] is not self.best:
            t = anomaly_time(self.best, self.target)
            self._onset = (self.best, self.config.time_limit if t is None else min(t, self.config.time_limit))
        return float(self._onset[1])

    def shrink_window(self) -> None:
        """Only the episodes in force in the last few seconds before the failure showed,
        moved to the start of the run (so the run can end seconds later), then the same
        not moved; narrowest window first, again while one is kept. A failure is usually
        the work of the last few faults before it; the earlier ones only set the scene,
        and a fault-free prefix of a few seconds sets one too."""
        while True:
            cfg = self.config
            schedule = cfg.schedule or []
            n = len(episodes_of(schedule))
            t = self._anomaly_s()
            end = int(t * SECOND)
            sets: list[list[int]] = []
            for w in WINDOWS_S:
                eps = window_episodes(schedule, end - w * SECOND, end)
                if len(eps) < n and eps not in sets:
                    sets.append(eps)
            if not sets:
                return
            cands: list[RunConfig] = []
            for eps in sets:  # moved to the start: short runs, cheap to try
                moved, by = shifted(schedule, eps, SHIFT_TO_S * SECOND)
                limit = min(cfg.time_limit, float(math.ceil((end - by) / SECOND) + 1))
                cands.append(cfg.replace(time_limit=limit, schedule=trim_schedule(moved, limit)))
            for eps in sets:
                limit = min(cfg.time_limit, float(math.ceil(t) + 1))
                cands.append(self._with_episodes(cfg, eps).replace(time_limit=limit))
                cands[-1] = cands[-1].replace(schedule=trim_schedule(cands[-1].schedule or [], limit))
            i = self.first_of(cands)
            if i is None:
                return
            self._changed("window before the failure" + (" (moved to the start)" if i < len(sets) else ""),
                          n, len(episodes_of(self.config.schedule or [])), cfg)

    def shrink_shift(self) -> None:
        """The whole schedule moved earlier, the time limit cut by as much: the least
        fault-free prefix that still fails (a search over where the first fault starts,
        from ``SHIFT_TO_S`` seconds). Every later candidate is then a shorter run."""
        cfg = self.config
        schedule = cfg.schedule or []
        if not schedule:
            return
        first = min(int(f["at"]) for f in schedule)
        top = first // SECOND
        if top <= SHIFT_TO_S:
            return

        def at(s: int) -> RunConfig:
            if s >= top:
                return cfg
            moved, by = shifted(schedule, episodes_of(schedule), s * SECOND)
            limit = float(max(1, math.ceil(cfg.time_limit - by / SECOND)))
            return cfg.replace(time_limit=limit, schedule=trim_schedule(moved, limit))

        shrink_int(top, SHIFT_TO_S, first=lambda ss: self.first_of([at(s) for s in ss]), width=SEARCH_WIDTH)
        self._changed("faults moved earlier (time limit)", cfg.time_limit, self.config.time_limit, cfg)

    def shrink_inert(self) -> None:
        """One candidate: without the episodes that did nothing in the best run."""
        cfg = self.config
        inert = set(inert_episodes(self.best.out.faults))
        eps = episodes_of(cfg.schedule or [])
        if inert & set(eps) and self.test(self._with_episodes(cfg, [e for e in eps if e not in inert])):
            self._changed("inert episodes dropped", len(eps), len(episodes_of(self.config.schedule or [])), cfg)

    def shrink_prefix(self) -> None:
        """Drop the earliest episodes: the fewest last ones that still fail (a search, as
        for the time limit, which drops the latest)."""
        cfg = self.config
        schedule = cfg.schedule or []
        starts = _starts(schedule)
        eps = sorted(starts, key=lambda e: (starts[e]["at"], e))

        def last(k: int) -> RunConfig:
            return cfg if k >= len(eps) else self._with_episodes(cfg, eps[len(eps) - k:])

        shrink_int(len(eps), 0, first=lambda ks: self.first_of([last(k) for k in ks]), width=SEARCH_WIDTH)
        self._changed("earliest episodes dropped", len(eps), len(episodes_of(self.config.schedule or [])), cfg)

    def shrink_families(self) -> None:
        while True:
            cfg = self.config
            schedule = cfg.schedule or []
            starts = _starts(schedule)
            fams = sorted({_family(f) for f in starts.values()})
            if len(fams) < 2:
                return
            only = [[e for e, f in starts.items() if _family(f) == fam] for fam in fams]
            without = [[e for e, f in starts.items() if _family(f) != fam] for fam in fams]
            cands = sorted(only, key=len) + sorted(without, key=len)
            i = self.first_of([self._with_episodes(cfg, eps) for eps in cands])
            if i is None:
                return
            self._changed("families", len(fams), len({_family(starts[e]) for e in cands[i]}), cfg)

    @staticmethod
    def _with_episodes(cfg: RunConfig, keep: Iterable[int]) -> RunConfig:
        ks = set(keep)
        return cfg.replace(schedule=[f for f in (cfg.schedule or []) if f["episode"] in ks])

    def shrink_episodes(self) -> None:
        cfg = self.config
        eps = episodes_of(cfg.schedule or [])
        keep = ddmin(eps, first=lambda cands: self.first_of([self._with_episodes(cfg, c) for c in cands]))
        self._changed("episodes", len(eps), len(keep), cfg)

    def shrink_subsets(self) -> None:
        """Every single episode alone, then every pair: a schedule 1-minimal for ddmin may
        still hold a smaller failing one, since a fault moves everything after it."""
        cfg = self.config
        eps = episodes_of(cfg.schedule or [])
        cands = [[e] for e in eps] + [list(p) for p in itertools.combinations(eps, 2)]
        cands = [c for c in cands if len(c) < len(eps)][:SUBSETS]
        i = self.first_of([self._with_episodes(cfg, c) for c in cands]) if cands else None
        if i is not None:
            self._changed("episodes (small subsets)", len(eps), len(cands[i]), cfg)

    def shrink_ends(self) -> None:
        """Leave an episode's end to the final heal, where its end is not needed."""
        cfg = self.config
        schedule = cfg.schedule or []
        starts = _starts(schedule)
        ends = [i for i, f in enumerate(schedule) if f is not starts[f["episode"]]]

        def without(keep: list[int]) -> RunConfig:
            ks = set(keep)
            return cfg.replace(schedule=[f for i, f in enumerate(schedule) if i not in ends or i in ks])

        keep = ddmin(ends, first=lambda cands: self.first_of([without(c) for c in cands]))
        self._changed("episode ends", len(ends), len(keep), cfg)

    def _ladder(self, what: str, field: str, lowest: int, as_float: bool = False, early: bool = False) -> None:
        """``field`` cut to the first value that still fails of: every one up to
        ``LADDER_STEPS``, then doubling, at most three quarters of the value; one batch,
        the smallest (cheapest) run first. A search by halves would spend a run per
        halving for a few percent, and whether a run fails is far from monotone in these;
        a cut of a few percent gains little and moves the failure, so none is tried.
        ``early`` (before the schedule passes): only the two largest values at most a
        quarter of the current one (one batch with two jobs): each makes every later
        candidate several times cheaper, for at most two runs."""
        cfg = self.config
        now = getattr(cfg, field)
        values = ladder(now, lowest, early)
        if not values:
            return
        self.first_of([self._with(cfg, field, float(v) if as_float else v) for v in values])
        self._changed(what, now, getattr(self.config, field), cfg)

    @staticmethod
    def _with(cfg: RunConfig, field: str, value: Any) -> RunConfig:
        """``cfg`` with ``field`` set; with fewer clients, the episodes that named the
        clients dropped go too (the election's pause and clock faults hit clients)."""
        out = cfg.replace(**{field: value})
        if field != "clients" or cfg.schedule is None:
            return out
        gone = set(faulty_clients(cfg)) - set(faulty_clients(out))
        return out.replace(schedule=without_nodes(cfg.schedule, gone))

    def shrink_clients(self, early: bool = False) -> None:
        self._ladder("clients", "clients", 1, early=early)

    def shrink_keys(self) -> None:
        """Fewer keys (registers, queue keys): a history about one key reads fastest."""
        self._ladder("keys", "keys", 1)

    def shrink_rate(self, early: bool = False) -> None:
        """A lower operation rate: fewer operations in the same time."""
        self._ladder("rate", "rate", 1, as_float=True, early=early)

    def _changed(self, what: str, before: float, after: float, cfg: RunConfig) -> None:
        if self.config != cfg:
            n = len(self.config.schedule or [])
            msg = (f"{what}: {before:g} -> {after:g}; {n} fault{'' if n == 1 else 's'} "
                   f"({self.candidates} runs, {time.monotonic() - self.t0:.1f} s)")
            self.passes.append(msg)
            self.log(msg)


def _valid(cfg: RunConfig) -> bool:
    try:
        cfg.validate()
    except ConfigError:
        return False
    return True


def ladder(now: float, lowest: int, early: bool = False) -> list[int]:
    """The values a workload ladder tries below ``now`` (see `Shrinker._ladder`)."""
    values: list[int] = []
    v = lowest
    while v <= now * 3 / 4:
        values.append(v)
        v = v + 1 if v < LADDER_STEPS else v * 2
    return [v for v in values if v <= now / 4][-2:] if early else values


def sizes(res: Any) -> dict[str, Any]:
    schedule = [f.to_json() for f in res.out.schedule]
    return {"faults": len(schedule), "episodes": len(episodes_of(schedule)), "clients": res.config.clients,
            "operations": res.results["stats"]["operations"], "time limit": res.config.time_limit}
