"""The run loop of a coverage-guided campaign (``harness campaign --guided``).

``harness.guided`` plans each batch from the corpus; this module runs the batch on the
campaign's executor (``harness.campaign_exec``), writes each run's index line as it
finishes, and feeds the batch's behaviours back to the planner, in run order, before the
next batch is planned. Runs already in the index (``--resume``) are observed, not re-run.
At the end the corpus, distilled, goes to ``corpus.json`` (``harness.guided_corpus``).
"""

from __future__ import annotations

import time
from typing import Any

from harness.campaign_exec import IndexWriter, _executor, _finished, run_tasks
from harness.campaign_index import done_entries
from harness.campaign_run import _system_module
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
    with _executor(jobs, client) as (executor, in_flight), open(campaign.index_path, "a") as index:
        writer = IndexWriter(campaign, index, entries, progress, time.time(),
                             lambda: f"behaviours={len(planner.reached)}")
        try:
            for k in range((campaign.runs + BATCH - 1) // BATCH):
                plan = planner.plan(k)
                todo = [i for i in plan if seeds[i] not in entries]
                configs = {i: c for i, (c, _) in plan.items()}
                tasks, fn = run_tasks(campaign, todo, system_module, client, configs)
                for e in _finished(executor, in_flight, tasks, fn):
                    i = order[e["seed"]]
                    cov[e["seed"]] = e.get("behaviours")
                    writer.add({"run": i, **e, "run_dir": None if "error" in e else f"runs/{e['seed']}",
                                "guided": plan[i][1]})
                for i in sorted(plan):
                    planner.observe(i, configs[i], cov.get(seeds[i]), entries.get(seeds[i], {}).get("valid"))
                if writer.bar is not None:  # the batch's behaviours count once observed, not a batch later
                    writer.bar.set_postfix_str(writer.postfix())
            write_corpus(campaign, planner)
        finally:
            writer.close()
    return sorted(entries.values(), key=lambda e: e["run"])
