"""A campaign's parameters (``campaign.json``), its run seeds, and the config of each run.

Run ``i`` (0-based) of a campaign with seed ``S`` has run seed
``harness.rng.derive_seed(S, "campaign-run", i)`` (:func:`run_seed`): a 64-bit number that
depends on nothing else, so a campaign is reproducible and a longer campaign extends a
shorter one. :meth:`Campaign.config_for` gives run ``i``'s whole config: the classic swarm
draw over ``--nemesis``, the explorative draw (``harness.swarm``), or the guided plan
(``harness.guided``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import ConfigError, RunConfig
from harness.guided import guided_config
from harness.rng import derive_seed
from harness.swarm import explore_config, swarm_for

#: most runs in one campaign
MAX_RUNS = 1_000_000

#: config fields that belong to one run, not to the campaign
_PER_RUN_FIELDS = ("seed", "swarm", "schedule")


def run_seed(campaign_seed: int, i: int) -> int:
    """The seed of run ``i`` of a campaign."""
    return derive_seed(campaign_seed, "campaign-run", i)


def default_name(config: RunConfig, campaign_seed: int) -> str:
    bugs = ("-" + "+".join(config.bugs)) if config.bugs else ""
    return f"{config.system}-{config.workload}-seed{campaign_seed}{bugs}"


@dataclass(frozen=True)
class Campaign:
    """A campaign's parameters: what ``campaign.json`` holds."""

    name: str
    directory: Path
    seed: int
    runs: int
    swarm: bool
    base: RunConfig
    #: explorative draw (``harness.swarm``, ``--nemesis`` left out): the dimensions the
    #: user pinned; None: today's swarm over ``--nemesis``
    explore: tuple[str, ...] | None = None
    #: coverage-guided (``harness.guided``): runs mutate a corpus of schedules
    guided: bool = False
    #: which run directories the store keeps: "all", or "failures" (the rest are
    #: re-materialized from their seed on demand, ``harness.remote``)
    keep: str = "all"
    #: a guided campaign's seed corpus (``harness.guided_corpus``): a corpus file, relative
    #: to the campaign's directory (a new campaign copies its ``--corpus`` there); None: none
    corpus: str | None = None

    def config_for(self, i: int) -> RunConfig:
        seed = run_seed(self.seed, i)
        if self.guided:
            return guided_config(self, i)
        if self.explore is not None:
            return explore_config(self.base, seed, self.explore)
        swarm = swarm_for(seed, self.base.nemesis) if self.swarm else {}
        return self.base.replace(seed=seed, swarm=swarm, schedule=None)

    def run_seed(self, i: int) -> int:
        """The seed of run ``i`` (:func:`run_seed`)."""
        return run_seed(self.seed, i)

    def seeds(self) -> list[int]:
        return [run_seed(self.seed, i) for i in range(self.runs)]

    @property
    def index_path(self) -> Path:
        return self.directory / "index.jsonl"

    def run_dir(self, seed: int) -> Path:
        return self.directory / "runs" / str(seed)

    def to_json(self) -> dict[str, Any]:
        base = {k: v for k, v in self.base.to_dict().items() if k not in _PER_RUN_FIELDS}
        out = {"name": self.name, "seed": self.seed, "runs": self.runs, "swarm": self.swarm,
               "seed_rule": "run i has seed harness.rng.derive_seed(seed, 'campaign-run', i)",
               "config": base}
        if self.explore is not None:
            out["explore"] = {"pinned": list(self.explore)}
        if self.guided:
            out["guided"] = True
        if self.keep != "all":
            out["keep"] = self.keep
        if self.corpus is not None:
            out["corpus"] = self.corpus
        return out

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / "campaign.json.tmp"
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        os.replace(tmp, self.directory / "campaign.json")

    @classmethod
    def load(cls, directory: Path) -> Campaign:
        p = Path(directory) / "campaign.json"
        try:
            d = json.loads(p.read_text())
            base = RunConfig.from_dict({**d["config"], "seed": 0}).validate()
            seed, runs = d["seed"], d["runs"]
            if not (isinstance(seed, int) and isinstance(runs, int) and 0 <= seed < 2**64
                    and 1 <= runs <= MAX_RUNS and isinstance(d["swarm"], bool) and isinstance(d["name"], str)):
                raise ValueError("seed, runs, swarm or name out of range")
            explore = None
            if "explore" in d:
                pinned = d["explore"]["pinned"]
                if not (isinstance(pinned, list) and all(isinstance(x, str) for x in pinned)):
                    raise ValueError("explore.pinned must be a list of option names")
                explore = tuple(pinned)
            guided, keep = d.get("guided", False), d.get("keep", "all")
            if not isinstance(guided, bool) or keep not in ("all", "failures"):
                raise ValueError("guided must be true or false, keep 'all' or 'failures'")
            corpus = d.get("corpus")
            if corpus is not None and not isinstance(corpus, str):
                raise ValueError("corpus must be a file name")
            return cls(d["name"], Path(directory), seed, runs, d["swarm"], base, explore, guided, keep, corpus)
        except FileNotFoundError:
            raise ConfigError(f"no campaign at {directory} (no campaign.json)") from None
        except ConfigError as e:
            raise ConfigError(f"{p}: {e}") from None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
            raise ConfigError(f"{p}: unreadable campaign: {' '.join(str(e).split())[:200]}") from None
