"""Coverage-guided campaigns (``harness campaign --guided``): AFL's loop over fault schedules.

The simulator replays any run exactly, so a schedule that reached new behaviour
(``harness.coverage``) is worth keeping and varying, as AFL keeps and mutates inputs that
reached new edges. A guided campaign runs in *batches* of ``BATCH`` runs (a constant, not
``--jobs``, so the campaign is the same on any executor). Run ``i`` of batch ``k`` is
planned from the corpus as it stood after batches ``0..k-1``:

- in batch 0, when the campaign has a *seed corpus* (``harness.guided_corpus``: the one
  shipped for its system and workload, ``--corpus PATH``, or none), run ``i`` mutates seed
  entry ``i`` (modulo their number; they are in order of coverage, most first) with 0 to
  ``MAX_OPS`` operations, as AFL starts from its seed inputs. The seed entries stay in the
  corpus, and their behaviours count as seen, as AFL's dry run of its seeds counts theirs;
- otherwise, with probability ``P_FRESH``, or while the corpus is empty, a fresh draw (the
  explorative swarm of ``harness.swarm``, or today's swarm if ``--nemesis`` was given);
- otherwise a mutant of a corpus entry, chosen with weight the rarity of the behaviours
  it reached (:meth:`Planner.energy`):
  its fault schedule, made explicit, with 1 to ``MAX_OPS`` of these operations:
  ``add`` a fault of a family the campaign may use, ``drop`` a fault (start and end),
  ``move`` one earlier or later, ``widen`` one (its end later), ``retarget`` one to another
  node (or the leader; a partition to another cut), ``setting`` redraw a testing aid, a
  weakened configuration or the read mode (pinned settings are left alone).

Every choice comes from ``stream(campaign seed, "guided", i)``, and the corpus from the
runs' behaviours in run order, so a campaign is reproducible and ``--resume`` plans each
remaining run as the uninterrupted campaign would have. The run's config holds the mutant's
explicit schedule (``harness repro`` replays it); its index line says ``parent`` (the run
it mutates; ``corpus``: the seed entry) and ``ops``. A run that fails joins no corpus: its bug is found, and the search
goes on elsewhere.

This module plans; ``harness.guided_campaign`` runs the batches.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from harness.campaign_index import load_index
from harness.config import SECOND, RunConfig
from harness.faults import Fault, family_spec, fault_family, partition_cut, system_families
from harness.guided_corpus import with_schedule as _with_schedule
from harness.rng import stream

#: runs planned from one state of the corpus
BATCH = 8
#: chance of a fresh draw instead of a mutant
P_FRESH = 0.2
#: least operations on a first-batch mutant of a seed corpus entry (0: the entry as it is)
FIRST_MIN_OPS = 0
#: operations stacked on one mutant (AFL's havoc stacks several)
MAX_OPS = 3
OPS = ("add", "drop", "move", "widen", "retarget", "setting")
#: fault kinds whose first argument is the node they hit
NODE_KINDS = frozenset({"kill", "restart", "pause", "resume", "clock-bump", "clock-skew",
                        "clock-strobe", "clock-reset", "crash-at"})
#: of those, the kinds whose applier resolves a ``"leader"`` target when it fires (a clock
#: bump or strobe names its node outright: the generator never aims them at the leader)
LEADER_KINDS = NODE_KINDS - {"clock-bump", "clock-strobe"}


@dataclasses.dataclass
class Entry:
    run: int
    config: RunConfig
    new: int
    behaviours: tuple[str, ...] = ()


class Planner:
    """The corpus of a guided campaign and the plan of each batch."""

    def __init__(self, campaign: Any) -> None:
        self.campaign = campaign
        self.corpus: list[Entry] = []
        self.seen: set[str] = set()
        self.hits: dict[str, int] = {}  # behaviour -> runs that showed it
        self.curve: list[int] = []  # behaviours seen after each observed run
        self.reached: set[str] = set()  # behaviours this campaign's runs reached (no seed's)
        from harness.system import get_system

        self.spec = get_system(campaign.base.system)
        self.seeded = 0  # entries of the seed corpus (the first of self.corpus)
        for j, (cfg, found) in enumerate(seed_corpus(campaign)):
            self.corpus.append(Entry(-1 - j, cfg, len(set(found) - self.seen), tuple(sorted(set(found)))))
            self.seen |= set(found)
            for b in set(found):
                self.hits[b] = self.hits.get(b, 0) + 1
            self.seeded += 1

    # --------------------------------------------------------------- planning

    def plan(self, k: int) -> dict[int, tuple[RunConfig, dict[str, Any]]]:
        """Run index -> (config, meta) for batch ``k``."""
        lo, hi = k * BATCH, min((k + 1) * BATCH, self.campaign.runs)
        return {i: self._plan_one(i) for i in range(lo, hi)}

    def _fresh(self, i: int) -> RunConfig:
        config: RunConfig = dataclasses.replace(self.campaign, guided=False).config_for(i)
        return config

    def _plan_one(self, i: int) -> tuple[RunConfig, dict[str, Any]]:
        rng = stream(self.campaign.seed, "guided", i)
        if i < BATCH and self.seeded:
            # the first batch: the seed corpus's entries in their order (most coverage
            # first), each with the run's seed and up to MAX_OPS operations
            parent = self.corpus[i % self.seeded]
            n_ops = rng.randint(FIRST_MIN_OPS, MAX_OPS)
        else:
            fresh = rng.random() < P_FRESH
            if fresh or not self.corpus:
                return self._fresh(i), {"fresh": True}
            parent = rng.choices(self.corpus, weights=[self.energy(e) for e in self.corpus])[0]
            n_ops = rng.randint(1, MAX_OPS)
        config = self._explicit(parent.config)
        ops: list[str] = []
        for _ in range(n_ops):
            op = rng.choice(OPS)
            changed = self._mutate(op, config, rng)
            if changed is not None:
                config = changed
                ops.append(op)
        config = config.replace(seed=self.campaign.run_seed(i))
        meta: dict[str, Any] = {"parent": parent.run} if parent.run >= 0 else {"corpus": -1 - parent.run}
        return config, {**meta, "ops": ops}

    def _explicit(self, config: RunConfig) -> RunConfig:
        from harness.runner import schedule_for

        if config.schedule is not None:
            return config
        sched = schedule_for(config, tuple(getattr(self.spec, "crash_points", ())))
        # through JSON, as config.json holds it: a planned config equals its reloaded one
        return config.replace(schedule=json.loads(json.dumps([f.to_json() for f in sched])))

    def _servers(self, config: RunConfig) -> list[str]:
        from harness.runner import servers_for

        return servers_for(config)

    def _families(self) -> tuple[str, ...]:
        ex = self.campaign.explore
        if ex is None or "nemesis" in ex:
            return tuple(self.campaign.base.nemesis) or system_families(self.campaign.base.system)
        return system_families(self.campaign.base.system)

    def _mutate(self, op: str, config: RunConfig, rng: Any) -> RunConfig | None:
        sched = [dict(f) for f in config.schedule or []]
        starts = {f["episode"]: f for f in sched if fault_family({**f, "args": f.get("args")}) is not None}
        episodes = sorted(starts)
        limit = int(config.time_limit * SECOND)
        if op == "add":
            return self._add(config, sched, rng, limit)
        if op == "setting":
            return self._setting(config, rng)
        if not episodes:
            return None
        ep = rng.choice(episodes)
        mine = [f for f in sched if f["episode"] == ep]
        if op == "drop":
            sched = [f for f in sched if f["episode"] != ep]
        elif op == "move":
            delta = int(rng.uniform(-0.5, 0.5) * config.nemesis_interval * SECOND)
            for f in mine:
                f["at"] = min(max(0, f["at"] + delta), limit - 1)
        elif op == "widen":
            end = max(mine, key=lambda f: f["at"])
            if end is starts[ep]:
                return None
            end["at"] = min(limit - 1, end["at"] + int(rng.uniform(0.2, 1.0) * config.nemesis_interval * SECOND))
        elif op == "retarget":
            start = starts[ep]
            servers = self._servers(config)
            if start["kind"] == "partition":
                from harness.faults import PARTITION_MODES

                mode = rng.choice(PARTITION_MODES)
                start["args"] = [mode, [list(p) for p in partition_cut(mode, servers, rng)]]
            elif start["kind"] in NODE_KINDS and start.get("args"):
                node = rng.choice(servers + (["leader"] if start["kind"] in LEADER_KINDS else []))
                for f in mine:
                    if f["kind"] in NODE_KINDS and f.get("args"):
                        f["args"] = [node] + list(f["args"][1:])
            else:
                return None
        return _with_schedule(config, sched)

    def _add(self, config: RunConfig, sched: list[dict[str, Any]], rng: Any, limit: int) -> RunConfig:
        from harness.runner import faulty_clients

        family = rng.choice(self._families())
        servers = self._servers(config)
        points = tuple(getattr(self.spec, "crash_points", ()))
        start_f, end_f = family_spec(family).draw(rng, servers, points, faulty_clients(config))
        if start_f is None:  # the family has nothing to draw here (crash with no crash points)
            return _with_schedule(config, sched)
        ep = max((f["episode"] for f in sched), default=0) + 1
        mean = config.nemesis_interval * SECOND
        t = int(rng.uniform(0, 0.9) * limit)
        end = min(limit - 1, t + int(rng.uniform(0.3, 1.2) * mean))
        sched = sched + [Fault(t, start_f[0], start_f[1], ep).to_json(),
                         Fault(end, end_f[0], end_f[1], ep).to_json()]
        sched = json.loads(json.dumps(sched))
        return _with_schedule(config, sched)

    def _setting(self, config: RunConfig, rng: Any) -> RunConfig | None:
        from harness.swarm import P_LOCAL_READS, testing_aids, weakened_configurations

        # what the user named stays: with --nemesis given (no explorative draw) the read
        # mode and every --set setting; otherwise what the campaign recorded as pinned
        ex = self.campaign.explore
        pinned = set(ex) if ex is not None else {"reads"} | {f"set:{k}" for k in self.campaign.base.settings}
        choices: list[Any] = [] if "reads" in pinned else ["reads"]
        # a weakened configuration is toggled like an aid (its run is judged by its promise)
        aids = {**testing_aids(config.system), **weakened_configurations(config.system)}
        pinned_settings = {p[4:] for p in pinned if p.startswith("set:")}
        choices += [a for a, alts in aids.items() if not any(set(x) & pinned_settings for x in alts)]
        if not choices:
            return None
        what = rng.choice(choices)
        if what == "reads":
            return config.replace(reads="local" if rng.random() < P_LOCAL_READS * 2 else "sync")
        settings = dict(config.settings)
        alts = aids[what]
        base = {k: v for k, v in self.campaign.base.settings.items()}
        if any(all(settings.get(k) == v for k, v in alt.items()) for alt in alts):  # on: off
            for alt in alts:
                for k in alt:
                    if k in base:
                        settings[k] = base[k]
                    else:
                        settings.pop(k, None)
        else:
            settings.update(alts[rng.randrange(len(alts))])
        return config.replace(settings=settings)

    def energy(self, e: Entry) -> float:
        """How often an entry is picked: the rarity of what it reached (each behaviour
        weighs 1 / the runs that showed it), as AFL++'s rare-edge schedules favour inputs
        that reach what few others do; an entry whose behaviours became common fades."""
        # fsum: exact, so the weights (and the campaign) do not depend on summation order
        return math.fsum(1.0 / self.hits.get(b, 1) for b in e.behaviours) or float(e.new)

    # --------------------------------------------------------------- feedback

    def observe(self, i: int, config: RunConfig, found: list[str] | None, valid: Any) -> int:
        """Record run ``i``'s behaviours; returns how many were new."""
        new = set(found or ()) - self.seen
        self.reached |= set(found or ())
        self.seen |= new
        for b in found or ():
            self.hits[b] = self.hits.get(b, 0) + 1
        self.curve.append(len(self.seen))
        if new and valid is True:
            self.corpus.append(Entry(i, self._explicit(config), len(new), tuple(sorted(found or ()))))
        return len(new)


def seed_corpus(campaign: Any) -> list[tuple[RunConfig, list[str]]]:
    """The campaign's seed corpus (``harness.guided_corpus``), each entry fitted to it."""
    if getattr(campaign, "corpus", None) is None:
        return []
    from pathlib import Path

    from harness.guided_corpus import adapt, load

    path = Path(campaign.corpus)
    _, _, entries = load(path if path.is_absolute() else campaign.directory / path)
    out = []
    for cfg, found in entries:
        fitted = adapt(cfg, campaign)
        if fitted is not None:
            out.append((fitted, found))
    return out


def load_coverage(campaign: Any) -> dict[int, list[str] | None]:
    """Seed -> behaviours, from the campaign's coverage log (``harness.coverage.CoverageLog``).
    Typed with None values because a running campaign adds its new runs' to the same dict,
    and a run that crashed has none."""
    from harness.coverage import CoverageLog

    return {seed: found for seed, (_, found) in CoverageLog(campaign.directory).read().items()}


def replay(campaign: Any, batches: int) -> Planner:
    """The planner after observing batches ``0..batches-1`` from the store."""
    entries = load_index(campaign)
    cov = load_coverage(campaign)
    seeds = campaign.seeds()
    planner = Planner(campaign)
    for k in range(batches):
        for i, (cfg, _) in planner.plan(k).items():
            e = entries.get(seeds[i], {})
            planner.observe(i, cfg, cov.get(seeds[i]), e.get("valid"))
    return planner


def guided_config(campaign: Any, i: int) -> RunConfig:
    """Run ``i``'s config in a guided campaign (replays the corpus up to its batch)."""
    return replay(campaign, i // BATCH).plan(i // BATCH)[i][0]
