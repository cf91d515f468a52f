"""The shrinker's checkpoint: ``checkpoint.json`` in the output directory, rewritten
atomically (a temporary file, fsynced, then renamed over the old one) every time a
smaller failing run is found, so a shrink killed at any moment (SIGKILL included) loses
nothing it found: the file holds the best config so far, explicit schedule included (a
complete run config: the run it describes is the best failing run found), and
``harness shrink`` run again on the same run resumes from it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from harness.config import ConfigError, RunConfig

NAME = "checkpoint.json"


def write_checkpoint(out_dir: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as ``out_dir/checkpoint.json`` atomically; its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / NAME
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(data, indent=1) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def read_checkpoint(out_dir: Path) -> dict[str, Any] | None:
    """The checkpoint in ``out_dir``, or None if there is none or it cannot be read."""
    try:
        data = json.loads((Path(out_dir) / NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def resumable(out_dir: Path, origin: RunConfig, kept: list[str]) -> RunConfig | None:
    """The best config of an earlier shrink of the same run (same original config, same
    failure kept) checkpointed in ``out_dir``, else None."""
    data = read_checkpoint(out_dir)
    if data is None or data.get("origin") != origin.to_dict() or data.get("kept") != kept:
        return None
    try:
        return RunConfig.from_dict(data["config"]).validate()
    except (ConfigError, KeyError, TypeError):
        return None
