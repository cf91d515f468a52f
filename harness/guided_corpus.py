"""Seed corpora of guided campaigns: explicit runs a campaign starts from, as AFL's seed inputs.

A corpus file is JSON::

    {"format": "harness-corpus/1", "system": "zab", "workload": "register",
     "note": "how it was made", "behaviours": [B0, B1, ...],
     "entries": [{"config": RUN_CONFIG, "behaviours": [index into behaviours, ...]}, ...]}

Each entry is a whole run config (``harness repro`` could run it) and the behaviours
(``harness.coverage``) its run reached; the behaviour strings are listed once and entries
name them by index, which keeps a file small. A config without an explicit ``schedule``
has the one its seed generates (a fresh draw's: the shipped corpora are such, and small);
:func:`load` makes every schedule explicit, since a mutant edits it. Entries are in
the order :func:`distil` chose them: each adds the most rarity-weighted behaviours the ones
before it did not reach (afl-cmin's greedy cover, weighted as ``harness.guided``'s energy).

The corpora shipped in ``harness/corpus/`` (``SYSTEM-WORKLOAD.json``) are made by
``bench/build_corpus.py`` from bug-free campaigns whose seeds are disjoint from the ones
``bench/search.py`` measures, and chosen by coverage alone, never by whether a run finds a
planted bug. A guided campaign writes its own final corpus, distilled the same way, to
``corpus.json`` in its store directory; ``--corpus PATH`` starts another from it.

:func:`adapt` fits an entry to a campaign: the campaign's bugs, time limit (the schedule's
times scaled to it), client count and workload shape, and whatever the user pinned; an
entry that cannot fit (another cluster size with ``--nodes`` pinned) is left out.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from harness.config import ConfigError, RunConfig

FORMAT = "harness-corpus/1"
#: entries a distilled corpus keeps
CORPUS_SIZE = 16
#: where the shipped corpora live
SHIPPED = Path(__file__).resolve().parent / "corpus"
#: config fields a campaign decides for all its runs: an entry takes the campaign's
_CAMPAIGN_FIELDS = ("bugs", "time_limit", "rate", "keys", "recovery_time", "op_timeout")


def shipped_path(system: str, workload: str) -> Path | None:
    """The shipped corpus of a system and workload, if there is one."""
    p = SHIPPED / f"{system}-{workload}.json"
    return p if p.is_file() else None


def distil(pool: list[tuple[RunConfig, list[str]]], size: int = CORPUS_SIZE) -> list[tuple[RunConfig, list[str]]]:
    """At most ``size`` runs of ``pool`` (config, behaviours), greedily: each next one adds
    the largest sum of ``1 / runs of the pool that reached it`` over the behaviours the
    chosen ones did not reach; ties go to the earlier run. Stops when nothing is added."""
    hits: dict[str, int] = {}
    for _, found in pool:
        for b in set(found):
            hits[b] = hits.get(b, 0) + 1
    covered: set[str] = set()
    chosen: list[int] = []
    for _ in range(min(size, len(pool))):
        best, best_gain = -1, 0.0
        for j, (_, found) in enumerate(pool):
            if j in chosen:
                continue
            gain = math.fsum(1.0 / hits[b] for b in sorted(set(found) - covered))
            if gain > best_gain:
                best, best_gain = j, gain
        if best < 0:
            break
        chosen.append(best)
        covered |= set(pool[best][1])
    return [pool[j] for j in chosen]


def to_json(system: str, workload: str, entries: list[tuple[RunConfig, list[str]]], note: str) -> dict[str, Any]:
    vocab = sorted({b for _, found in entries for b in found})
    at = {b: n for n, b in enumerate(vocab)}
    return {"format": FORMAT, "system": system, "workload": workload, "note": note, "behaviours": vocab,
            "entries": [{"config": _implicit(cfg).to_dict(), "behaviours": sorted(at[b] for b in set(found))}
                        for cfg, found in entries]}


def _implicit(config: RunConfig) -> RunConfig:
    """``config`` without its schedule if its seed generates that very schedule (smaller)."""
    if config.schedule is None:
        return config
    bare = config.replace(schedule=None)
    return bare if _explicit(bare).schedule == config.schedule else config


def write(path: Path, system: str, workload: str, entries: list[tuple[RunConfig, list[str]]], note: str) -> None:
    """Write a corpus file atomically (one entry per line, so a diff shows what changed)."""
    d = to_json(system, workload, entries, note)
    head = {k: v for k, v in d.items() if k != "entries"}
    text = json.dumps(head, separators=(",", ":"))[:-1] + ',"entries":[\n'
    text += ",\n".join(json.dumps(e, separators=(",", ":"), sort_keys=True) for e in d["entries"]) + "\n]}\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def load(path: Path) -> tuple[str, str, list[tuple[RunConfig, list[str]]]]:
    """(system, workload, entries) of a corpus file; ConfigError (one line) if it is not one."""
    path = Path(path)
    if path.is_dir():
        path = path / "corpus.json"
    try:
        d = json.loads(path.read_text())
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        vocab = d["behaviours"]
        if not (isinstance(vocab, list) and all(isinstance(b, str) for b in vocab)):
            raise ValueError("behaviours must be a list of strings")
        entries = []
        for e in d["entries"]:
            cfg = _explicit(RunConfig.from_dict(e["config"]).validate())
            if cfg.system != d["system"] or cfg.workload != d["workload"]:
                raise ValueError("an entry's system or workload is not the corpus's")
            entries.append((cfg, [vocab[n] for n in e["behaviours"]]))
        return str(d["system"]), str(d["workload"]), entries
    except FileNotFoundError:
        raise ConfigError(f"no corpus at {path}") from None
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as e:
        raise ConfigError(f"{path}: unreadable corpus: {' '.join(str(e).split())[:200]}") from None


def _explicit(config: RunConfig) -> RunConfig:
    """``config`` with its fault schedule made explicit (the one its seed generates)."""
    if config.schedule is not None:
        return config
    from harness.runner import schedule_for
    from harness.system import get_system

    sched = schedule_for(config, tuple(getattr(get_system(config.system), "crash_points", ())))
    return config.replace(schedule=json.loads(json.dumps([f.to_json() for f in sched])))


def with_schedule(config: RunConfig, sched: list[dict[str, Any]]) -> RunConfig:
    """``config`` with the explicit schedule ``sched`` (sorted in place), its fault families
    on in ``nemesis`` and ``swarm`` and the others off."""
    from harness.faults import family_names, fault_family

    sched.sort(key=lambda f: (f["at"], f["episode"], f["kind"]))
    fams = sorted({fam for f in sched if (fam := fault_family(f)) not in (None, "other")})
    fams = [f for f in fams if f in family_names()]
    nemesis = tuple(sorted(set(config.nemesis) | set(fams)))
    swarm = {f: (config.swarm.get(f) or 1.0) if f in fams else 0.0 for f in nemesis}
    return config.replace(schedule=sched, nemesis=nemesis, swarm=swarm)


def pinned_of(campaign: Any) -> set[str]:
    """What a campaign's runs may not change: the dimensions and settings the user pinned
    (with ``--nemesis`` given, every dimension and every ``--set`` setting)."""
    ex = campaign.explore
    if ex is not None:
        return set(ex)
    return {"nemesis", "nodes", "nemesis_interval", "reads"} | {f"set:{k}" for k in campaign.base.settings}


def adapt(config: RunConfig, campaign: Any) -> RunConfig | None:
    """``config`` (a corpus entry) as a run of ``campaign``, or None if it cannot be one."""
    from harness.faults import fault_family

    base: RunConfig = campaign.base
    if (config.system, config.workload, config.clients) != (base.system, base.workload, base.clients):
        return None
    pinned = pinned_of(campaign)
    if "nodes" in pinned and config.nodes != base.nodes:
        return None
    changes: dict[str, Any] = {f: getattr(base, f) for f in _CAMPAIGN_FIELDS}
    for dim in ("nemesis_interval", "reads"):
        if dim in pinned:
            changes[dim] = getattr(base, dim)
    settings = dict(config.settings)
    for p in pinned:
        if p.startswith("set:"):
            k = p[4:]
            if k in base.settings:
                settings[k] = base.settings[k]
            else:
                settings.pop(k, None)
    changes["settings"] = settings
    scale = base.time_limit / config.time_limit
    limit = int(base.time_limit * 1_000_000_000)
    sched = []
    allowed = set(base.nemesis) if "nemesis" in pinned else None
    # an episode's family is its opening fault's (its end, e.g. a restart, has none)
    family = {f["episode"]: fam for f in config.schedule or [] if (fam := fault_family(f)) is not None}
    for f in config.schedule or []:
        fam = family.get(f["episode"])
        if allowed is not None and fam not in (None, "other") and fam not in allowed:
            continue
        sched.append({**f, "at": min(limit - 1, int(f["at"] * scale))})
    sched = json.loads(json.dumps(sched))
    cfg = with_schedule(config.replace(**changes), sched)
    if allowed is not None:
        cfg = cfg.replace(nemesis=base.nemesis, swarm={f: cfg.swarm.get(f, 0.0) for f in base.nemesis})
    try:
        return cfg.validate()
    except ConfigError:
        return None


def resolve(spec: str, base: RunConfig) -> list[tuple[RunConfig, list[str]]]:
    """The seed corpus ``--corpus SPEC`` names for a campaign of ``base``: ``default`` (the
    shipped one for its system and workload, or none), ``none``, or a corpus file (or a
    campaign directory holding ``corpus.json``)."""
    if spec == "none":
        return []
    if spec == "default":
        p = shipped_path(base.system, base.workload)
        return load(p)[2] if p is not None else []
    system, workload, entries = load(Path(spec))
    if (system, workload) != (base.system, base.workload):
        raise ConfigError(f"corpus {spec} is for {system} {workload}, the campaign is {base.system} {base.workload}")
    return entries
