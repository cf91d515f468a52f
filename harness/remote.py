"""Campaigns without a shared filesystem, and runs re-made from their seed on demand.

On a Dask cluster (``--scheduler``), a worker runs its test in a private temporary
directory and returns the index line, plus, when the store keeps the run, the run
directory's files; the client writes the store. Workers never see the store's path, so a
cluster needs no shared filesystem.

``--keep failures`` keeps only the directories of runs that are not valid; a valid run is
a line in the index with its history hash. Runs are deterministic, so
:func:`materialize` (``harness campaign --name NAME --materialize SEED``) re-makes any run
from its campaign's parameters and checks its history's sha256 against the index: the
same bytes, or an error saying the code changed since.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from harness.campaign_run import run_one
from harness.config import ConfigError, RunConfig


def _wanted(keep: str, entry: dict[str, Any]) -> bool:
    return "error" not in entry and (keep == "all" or entry.get("valid") is not True)


def run_remote(config: RunConfig, keep: str, system_module: tuple[str, str | None] | None = None) -> dict[str, Any]:
    """A worker's run: into a private temp directory; returns the index entry and, if the
    store keeps the run, ``files`` (name -> bytes). Picklable top-level function."""
    tmp = tempfile.mkdtemp(prefix="harness-run-")
    try:
        run_dir = Path(tmp) / "run"
        entry = run_one(config, str(run_dir), system_module)
        if _wanted(keep, entry) and run_dir.is_dir():
            entry["files"] = {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}
        return entry
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def store_run(campaign: Any, entry: dict[str, Any], files: dict[str, bytes] | None) -> dict[str, Any]:
    """Put one finished run in the store as the campaign keeps it; return its index line
    (``run_dir`` None for a run not kept)."""
    entry = dict(entry)
    run_dir = campaign.run_dir(entry["seed"])
    if files is not None:
        tmp = run_dir.parent / f".tmp-{entry['seed']}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, data in files.items():
            if "/" in name or name.startswith("."):
                continue
            (tmp / name).write_bytes(data)
        shutil.rmtree(run_dir, ignore_errors=True)
        os.replace(tmp, run_dir)
    elif not _wanted(campaign.keep, entry):
        shutil.rmtree(run_dir, ignore_errors=True)
    if "error" not in entry and not run_dir.is_dir():
        entry["run_dir"] = None
    return entry


def materialize(directory: Path, seed: int) -> Path:
    """Re-make run ``seed`` of the campaign in ``directory`` into its run directory and
    check its history hash against the index; returns the run directory."""
    from harness.campaign_index import load_index
    from harness.campaign_params import Campaign
    from harness.runner import history_digest, run_test
    from harness.store import write_run

    campaign = Campaign.load(directory)
    entry = load_index(campaign).get(int(seed))
    if entry is None:
        raise ConfigError(f"seed {seed} is not a finished run of campaign {campaign.name}")
    if entry.get("history_sha256") is None:
        raise ConfigError(f"run {seed} of {campaign.name} crashed the harness; nothing to re-make")
    config = campaign.config_for(int(entry["run"]))
    res = run_test(config)
    got = history_digest(res.out.history)
    if got != entry["history_sha256"]:
        raise ConfigError(f"run {seed} re-made a different history (sha256 {got[:16]}, index "
                          f"{entry['history_sha256'][:16]}): the code changed since the campaign ran")
    run_dir = write_run(res.out, res.results, directory=campaign.run_dir(int(seed)))
    return run_dir
