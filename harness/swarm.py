"""Swarm draws: what a campaign varies per run, from the run's seed alone.

Two draws live here. The classic one (FoundationDB's swarm testing, ``--nemesis`` given):
:func:`swarm_for` turns each family of ``--nemesis`` on with probability ``SWARM_P_ON``
(at least one) at a rate scale drawn from ``SWARM_SCALE``; ``0`` means off.

The explorative one (:func:`explore_config`): a campaign run with ``--nemesis`` left out
does not use one fixed fault mix: each run draws, from its own seed, everything a user
hunting an unknown bug would otherwise have to guess (FoundationDB's swarm testing,
widened from "which families are on" to the whole run shape):

- the fault families: each of the seven (partition, kill, pause, clock, crash, power, slow)
  that the system can take (``SystemSpec.fault_families``: a live system has no crash
  points or power cuts) on with probability ``P_FAMILY`` (at least one), each at its own
  rate scale (``SWARM_SCALE``);
- the cluster size (``NODES``), the mean interval between faults (``INTERVALS``), the read
  mode (``READS``, ``local`` with probability ``P_LOCAL_READS``);
- the testing aids the system declares safe to vary (``SystemSpec.testing_aids``: a dict
  aid name -> tuple of alternative setting dicts, e.g. ZAB's short zxid counters that make
  rollover reachable within a run, or short session timeouts). Each aid is on with
  probability ``P_AID``; on, one alternative is drawn. An aid changes how soon a run gets
  somewhere, never what the system promises, so a correct system stays valid under it;
- the configurations the system supports with a *weaker* promise
  (``SystemSpec.weakened_configurations``, the same shape: e.g. Kafka's unclean leader
  election and a nonzero flush interval, which may lose acknowledged writes in documented
  ways). Each is on with probability ``P_WEAKENED``, drawn like an aid from its own stream.
  A run in one is judged by that weaker promise: the system's ``allowed_anomalies(settings)``
  names the anomaly kinds the settings permit, which the checkers report as ``allowed``
  (``harness.checks.permit``); everything else still counts (Kafka's replicas must still
  agree after healing). Bugs that only do harm in such a configuration (KIP-101's scenario 2
  needs a leader that lost records below the high watermark) are reachable so, without a
  per-bug table. Since it is a setting, the draw is in the run's config and judged again
  the same way by ``harness repro``.

Whatever the user pins wins: ``--nodes``, ``--nemesis-interval``, ``--reads``, and any
setting named with ``--set`` are not drawn. The draw lands in the run's config (``nodes``,
``nemesis``, ``swarm``, ``nemesis_interval``, ``reads``, ``settings``), so ``harness repro``
replays it, and :func:`drawn` reads it back for the index and the campaign page.

Every number comes from ``stream(run_seed, "explore", ...)``, one stream per dimension, so
adding a dimension does not move the others' draws.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.config import RunConfig
from harness.faults import system_families
from harness.rng import stream

#: chance that a fault family is on in a swarm run: FoundationDB-style swarm testing finds
#: the most with most families on most of the time, and each one off now and then
SWARM_P_ON = 0.7
#: range of the per-family rate scale: from half to twice the configured fault rate
SWARM_SCALE = (0.5, 2.0)
#: chance that a fault family is on in an explorative run
P_FAMILY = 0.6
#: cluster sizes drawn (servers for ZAB, brokers for Kafka)
NODES = (3, 5, 7)
#: mean seconds between two faults of one family: from a storm to a quiet run. The
#: deepest planted bugs (a server's epoch outrunning its log, votes by id alone) were
#: only ever found in the busiest runs (every first failure of them, random and guided,
#: was at 1 s), so the range reaches past that to 0.5 s; bench/RESULTS.md has the numbers
INTERVALS = (0.5, 1.0, 2.0, 3.0, 6.0, 10.0)
#: read modes; local reads are ZooKeeper's plain reads (sequentially consistent)
READS = ("sync", "local")
P_LOCAL_READS = 0.25
#: chance that one declared testing aid is on
P_AID = 0.3
#: chance that one declared weakened configuration is on: less often than an aid, since a
#: run in one cannot count the anomalies it permits, which other bugs show too
P_WEAKENED = 0.2
#: the dimensions a user can pin; the campaign records which were pinned
DIMENSIONS = ("nemesis", "nodes", "nemesis_interval", "reads")


def testing_aids(system: str) -> dict[str, tuple[dict[str, Any], ...]]:
    """The system's declared testing aids (``SystemSpec.testing_aids``; none by default)."""
    from harness.system import get_system

    aids = getattr(get_system(system), "testing_aids", None) or {}
    return {str(k): tuple(dict(a) for a in v) for k, v in sorted(aids.items())}


def weakened_configurations(system: str) -> dict[str, tuple[dict[str, Any], ...]]:
    """The configurations with a weaker promise the system declares
    (``SystemSpec.weakened_configurations``; none by default)."""
    from harness.system import get_system

    weak = getattr(get_system(system), "weakened_configurations", None) or {}
    return {str(k): tuple(dict(a) for a in v) for k, v in sorted(weak.items())}


def swarm_for(seed: int, families: Iterable[str]) -> dict[str, float]:
    """Swarm draw of one run: family -> rate scale, 0 for a family that is off."""
    families = sorted(set(families))
    if not families:
        return {}
    rng = stream(seed, "swarm")
    # Draw both numbers for every family whatever the outcome, so that one family's
    # draw does not shift the others'.
    draws = [(rng.random() < SWARM_P_ON, round(rng.uniform(*SWARM_SCALE), 3)) for _ in families]
    if not any(on for on, _ in draws):
        k = rng.randrange(len(families))
        draws[k] = (True, draws[k][1])
    return {f: (scale if on else 0.0) for f, (on, scale) in zip(families, draws)}


def family_draw(seed: int, families: Iterable[str], p_on: float) -> dict[str, float]:
    """Family -> rate scale (0 = off) for one run; at least one family is on."""
    families = sorted(set(families))
    if not families:
        return {}
    rng = stream(seed, "explore", "families")
    draws = [(rng.random() < p_on, round(rng.uniform(*SWARM_SCALE), 3)) for _ in families]
    if not any(on for on, _ in draws):
        k = rng.randrange(len(families))
        draws[k] = (True, draws[k][1])
    return {f: (scale if on else 0.0) for f, (on, scale) in zip(families, draws)}


def aid_draw(seed: int, aids: dict[str, tuple[dict[str, Any], ...]],
             pinned_settings: Iterable[str] = (), p_on: float = P_AID, kind: str = "aid") -> dict[str, Any]:
    """The settings the drawn testing aids set (an aid touching a pinned setting is skipped).
    With ``kind="weakened"`` and ``p_on=P_WEAKENED``: the weakened configurations', each
    from its own stream ``(seed, "explore", kind, name)``."""
    pinned = set(pinned_settings)
    out: dict[str, Any] = {}
    for name, alternatives in sorted(aids.items()):
        rng = stream(seed, "explore", kind, name)
        on = rng.random() < p_on
        choice = alternatives[rng.randrange(len(alternatives))] if alternatives else {}
        if on and choice and not (set(choice) & pinned):
            out.update(choice)
    return out


def explore_config(base: RunConfig, seed: int, pinned: Iterable[str]) -> RunConfig:
    """Run ``seed``'s config: ``base`` with every dimension not in ``pinned`` drawn.

    ``pinned`` holds names of :data:`DIMENSIONS` and ``set:KEY`` for each ``--set KEY``.
    """
    pinned = set(pinned)
    changes: dict[str, Any] = {"seed": seed, "schedule": None}
    families = base.nemesis if "nemesis" in pinned else system_families(base.system)
    changes["nemesis"] = tuple(sorted(families)) if "nemesis" not in pinned else base.nemesis
    changes["swarm"] = family_draw(seed, families, P_FAMILY)
    if "nodes" not in pinned:
        changes["nodes"] = stream(seed, "explore", "nodes").choice(NODES)
    if "nemesis_interval" not in pinned:
        changes["nemesis_interval"] = stream(seed, "explore", "interval").choice(INTERVALS)
    if "reads" not in pinned:
        changes["reads"] = READS[1] if stream(seed, "explore", "reads").random() < P_LOCAL_READS else READS[0]
    settings = dict(base.settings)
    pinned_settings = {p[4:] for p in pinned if p.startswith("set:")}
    settings.update(aid_draw(seed, testing_aids(base.system), pinned_settings))
    settings.update(aid_draw(seed, weakened_configurations(base.system), pinned_settings, P_WEAKENED, "weakened"))
    changes["settings"] = settings
    return base.replace(**changes)


def drawn(config: RunConfig | dict[str, Any], base_settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a run drew, for the index and the campaign page: families on, nodes, interval,
    reads, and the settings that differ from the campaign's base."""
    d = config.to_dict() if isinstance(config, RunConfig) else config
    swarm = d.get("swarm") or {}
    fams = [f for f in d.get("nemesis", []) if float(swarm.get(f, 1.0)) > 0]
    base_settings = base_settings or {}
    settings = {k: v for k, v in sorted((d.get("settings") or {}).items()) if base_settings.get(k) != v}
    return {"families": fams, "nodes": d.get("nodes"), "interval": d.get("nemesis_interval"),
            "reads": d.get("reads"), "settings": settings}


def pinned_dimensions(args: Any) -> tuple[str, ...] | None:
    """From a campaign's parsed options (left-out ones are None): the dimensions the user
    pinned, or None when ``--nemesis`` was given or ``--no-swarm`` (today's campaign).
    Fills every left-out option with ``RunConfig``'s default, in place."""
    d = RunConfig()
    left_out = {dim for dim in DIMENSIONS if getattr(args, dim, None) is None}
    for dim in left_out:
        setattr(args, dim, getattr(d, dim))
    if "nemesis" not in left_out or getattr(args, "no_swarm", False):
        return None
    pinned = [dim for dim in DIMENSIONS if dim not in left_out]
    from harness.cli import _settings

    pinned += [f"set:{k}" for k in sorted(_settings(getattr(args, "settings", None) or []))]
    if getattr(args, "fencing", False):
        pinned.append("set:fencing")
    return tuple(pinned)
