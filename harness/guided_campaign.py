"""The run loop of a coverage-guided campaign (``harness campaign --guided``).

``harness.guided`` plans each batch from the corpus; this module runs the batch on the
campaign's executor (``harness.campaign_exec``), writes each run's index line as it
finishes, and feeds the batch's behaviours back to the planner, in run order, before the
next batch is planned. Runs already in the index (``--resume``) are observed, not re-run.
At the end the corpus, distilled, goes to ``corpus.json`` (``harness.guided_corpus``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from harness.campaign_exec import _executor, _finished, _progress_bar, record_run, run_tasks
from harness.campaign_index import done_entries
from harness.campaign_run import _system_module
from harness.coverage import CoverageLog
from harness.guided import BATCH, Planner, load_coverage


def write_corpus(campaign: Any, planner: Planner) -> None:
    """The campaign's final corpus, distilled (``harness.guided_corpus``), to ``corpus.json``
    in its directory: ``--corpus DIR`` starts the next campaign from it."""
    from harness.guided_corpus import distil, write

    pool = [(e.config, list(e.behaviours)) for e in planner.corpus]
    write(campaign.directory / "corpus.json", campaign.base.system, campaign.base.workload, distil(pool),
          f"final corpus of guided campaign {campaign.name} (seed {campaign.seed}, {campaign.runs} runs), distilled")


def run_guided(campaign: Any, jobs: int, client: Any, progress: bool) -> list[dict[str, Any]]:
    """``run_campaign`` for a guided campaign: batch by batch, the corpus between."""
    # the runs done (`done_entries`): one that ended in a harness error or whose directory
    # is gone runs again, as in a plain campaign, and is observed as it runs this time
    entries = done_entries(campaign)
    cov = load_coverage(campaign)
    seeds = campaign.seeds()
    order = {s: i for i, s in enumerate(seeds)}
    system_module = _system_module(campaign.base.system)
    planner = Planner(campaign)
    log = CoverageLog(campaign.directory)
    bar = None
    invalid = sum(1 for e in entries.values() if e["valid"] is False)
    unknown = sum(1 for e in entries.values() if e["valid"] not in (True, False))
    started = time.time()

    def postfix() -> str:
        return f"failures={invalid}" + (f" unknown={unknown}" if unknown else "") + \
            f" behaviours={len(planner.reached)}"

    with _executor(jobs, client) as (executor, in_flight), open(campaign.index_path, "a") as index:
        try:
            for k in range((campaign.runs + BATCH - 1) // BATCH):
                plan = planner.plan(k)
                todo = [i for i in plan if seeds[i] not in entries]
                configs = {i: c for i, (c, _) in plan.items()}
                tasks, fn = run_tasks(campaign, todo, system_module, client, configs)
                for e in _finished(executor, in_flight, tasks, fn):
                    i = order[e["seed"]]
                    cov[e["seed"]] = e.get("behaviours")
                    e = {"run": i, **e, "run_dir": None if "error" in e else f"runs/{e['seed']}",
                         "guided": plan[i][1]}
                    e = record_run(campaign, e, log)
                    index.write(json.dumps(e, separators=(",", ":")) + "\n")
                    index.flush()
                    entries[e["seed"]] = e
                    invalid += e["valid"] is False
                    unknown += e["valid"] not in (True, False)
                    if bar is None and progress:
                        bar = _progress_bar(campaign.runs, len(entries) - 1, started)
                    if bar is not None:
                        bar.set_postfix_str(postfix(), refresh=False)
                        bar.update(1)
                for i in sorted(plan):
                    planner.observe(i, configs[i], cov.get(seeds[i]), entries.get(seeds[i], {}).get("valid"))
                if bar is not None:  # the batch's behaviours count once observed, not a batch later
                    bar.set_postfix_str(postfix())
            write_corpus(campaign, planner)
        finally:
            if bar is not None:
                bar.close()
    return sorted(entries.values(), key=lambda e: e["run"])
