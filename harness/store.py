"""The store: one directory per run, written atomically.

Layout of a run directory::

    config.json    the RunConfig (everything needed to re-run it, with the seed)
    history.jsonl  the client operations, Jepsen's model, one event a line
    trace.jsonl    what the nodes did (elections, proposals, commits, crashes...)
    faults.jsonl   what the nemesis did, with resolved targets
    schedule.json  the fault schedule the run was given (plain data; shrinkable)
    results.json   overall verdict, each checker's result, seed, sha256 of history.jsonl

The directory is built under a temporary name and renamed into place, so a crash
of the harness never leaves a half-written run that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from harness.config import ConfigError, RunConfig


def _jsonl(rows) -> str:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)


def default_run_name(config: RunConfig) -> str:
    bugs = ("-" + "+".join(config.bugs)) if config.bugs else ""
    return f"{config.system}-{config.workload}{bugs}-seed{config.seed}"


def write_run(out: Any, results: dict, store: Path | None = None, name: str | None = None,
              directory: Path | None = None) -> Path:
    from harness.runner import history_bytes

    if directory is None:
        assert store is not None
        runs = Path(store) / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        base = name or default_run_name(out.config)
        directory = runs / base
        n = 1
        while directory.exists():
            n += 1
            directory = runs / f"{base}.{n}"
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=directory.parent))
    try:
        (tmp / "config.json").write_text(json.dumps(out.config.to_dict(), indent=1) + "\n")
        (tmp / "history.jsonl").write_bytes(history_bytes(out.history))
        (tmp / "trace.jsonl").write_text(_jsonl(out.trace))
        (tmp / "faults.jsonl").write_text(_jsonl(out.faults))
        (tmp / "schedule.json").write_text(json.dumps([f.to_json() for f in out.schedule]) + "\n")
        (tmp / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
        for rel, src in (getattr(out, "artifacts", None) or {}).items():  # a live run's server logs
            src = Path(src)
            if src.is_dir():
                shutil.copytree(src, tmp / rel)
            elif src.exists():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, tmp / rel)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def load_config(run_dir: Path) -> RunConfig:
    run_dir = Path(run_dir)
    p = run_dir / "config.json"
    if not run_dir.is_dir():
        raise ConfigError(f"no run directory at {run_dir}")
    if not p.exists():
        raise ConfigError(f"{run_dir} is not a run directory (no config.json)")
    try:
        return RunConfig.from_dict(json.loads(p.read_text()))
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{p}: unreadable config: {e}") from None


def load_results(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "results.json").read_text())
