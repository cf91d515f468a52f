"""A campaign's index (``index.jsonl``): reading it, checking each line, and which runs are done.

One line per finished run, appended as it finishes (``harness.campaign`` writes it). This
module only reads: :func:`load_index` returns the recorded runs by seed, a torn last line
cut off and any other bad line a ``ConfigError`` naming it; :func:`done_entries` the runs
``--resume`` need not run again. It works on any object with the campaign's
``index_path``, ``directory`` and ``seeds()`` (``harness.campaign_params.Campaign``), and
imports no campaign module, so the guided planner and the remote runner can read an index.
"""

from __future__ import annotations

import json
from typing import Any

from harness.config import ConfigError
from harness.store import path_inside


def load_index(campaign: Any) -> dict[int, dict[str, Any]]:
    """Recorded runs by seed, the last line of a seed winning (a re-run appends). A torn
    last line (the harness died writing it) is cut off; any other line that is not a run
    entry of this campaign is a ConfigError naming it."""
    p = campaign.index_path
    if not p.exists():
        return {}
    data = p.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        with open(p, "r+b") as f:
            f.truncate(len(data))
    seeds = set(campaign.seeds())
    entries: dict[int, dict[str, Any]] = {}
    for lineno, line in enumerate(data.decode(errors="replace").splitlines(), 1):
        if line.strip():
            try:
                e = json.loads(line)
            except (ValueError, RecursionError):
                e = None
            why = _bad_entry(e, seeds)
            if why is not None:
                raise ConfigError(f"{p}:{lineno}: {why}; remove the line and --resume re-runs that seed")
            entries[e["seed"]] = e
    return entries


def _bad_entry(e: Any, seeds: set[int]) -> str | None:
    """Why ``e`` is not an index entry of a campaign with these seeds, or None."""
    if not isinstance(e, dict):
        return "not a JSON object"
    seed = e.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed not in seeds:
        return f"seed {seed!r:.40} is not a seed of this campaign"
    if e.get("valid") not in (True, False, "unknown"):
        return f"valid must be true, false or \"unknown\", not {e.get('valid')!r:.40}"
    for k in ("failed", "anomalies"):
        if not isinstance(e.get(k), list) or not all(isinstance(x, str) for x in e[k]):
            return f"{k} must be a list of names"
    if e.get("run_dir") is not None and not isinstance(e["run_dir"], str):
        return "run_dir must be a path or null"
    return None


def is_done(campaign: Any, e: dict[str, Any]) -> bool:
    """A recorded run counts as done if the harness did not fail on it (a full disk, a
    crash) and its run directory is still there, inside the campaign; else --resume
    runs it again. A valid run the campaign chose not to keep (``--keep failures``:
    ``run_dir`` null, its history hash in the index) is done too: it is re-made from its
    seed on demand (``harness.remote.materialize``), not re-run."""
    if "error" in e:
        return False
    if e.get("run_dir") is None:
        return (getattr(campaign, "keep", "all") == "failures" and e.get("valid") is True
                and isinstance(e.get("history_sha256"), str))
    if not isinstance(e.get("run_dir"), str):
        return False
    d = path_inside(campaign.directory / "runs", campaign.directory / e["run_dir"])
    return d is not None and (d / "results.json").is_file()


def done_entries(campaign: Any) -> dict[int, dict[str, Any]]:
    """The recorded runs that need not run again (``is_done``), by seed."""
    return {s: e for s, e in load_index(campaign).items() if is_done(campaign, e)}
