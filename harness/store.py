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

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from harness.config import ConfigError, RunConfig


def _default(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


try:
    # the C encoder is private, so typeshed does not declare it
    from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]

    # json.dumps(r, separators=(",", ":")) without building an encoder per row: the same
    # text (same C encoder, same options), about half the time on a run's trace
    # (no circular-reference bookkeeping: on any error the plain way runs and raises)
    _encode_row: Callable[[Any, int], Any] | None = c_make_encoder(
        None, _default, encode_basestring_ascii, None, ":", ",", False, False, True)
except (ImportError, TypeError):  # no C accelerator: the plain way
    _encode_row = None


def jsonl_text(rows: Iterable[Any]) -> str:
    """One compact JSON object a line, as ``json.dumps(r, separators=(",", ":"))``."""
    enc = _encode_row
    if enc is None:
        return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)
    join = "".join
    rows = rows if isinstance(rows, list) else list(rows)
    try:
        return join([join(enc(r, 0)) + "\n" for r in rows])
    except (TypeError, ValueError, RecursionError):
        return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)


_jsonl = jsonl_text


def history_bytes(history: list[dict[str, Any]]) -> bytes:
    """history.jsonl's bytes: one compact JSON event a line (what ``history_sha256`` and
    ``harness repro`` compare)."""
    return _jsonl(history).encode()


def history_digest(history: list[dict[str, Any]]) -> str:
    return hashlib.sha256(history_bytes(history)).hexdigest()


def default_run_name(config: RunConfig) -> str:
    bugs = ("-" + "+".join(config.bugs)) if config.bugs else ""
    return f"{config.system}-{config.workload}{bugs}-seed{config.seed}"


def write_run(out: Any, results: dict[str, Any], store: Path | None = None, name: str | None = None,
              directory: Path | None = None, history: bytes | None = None) -> Path:
    """Write the run directory of ``out`` and ``results``; its path. ``history``: the
    bytes of history.jsonl when the caller already made them (for its sha256)."""
    pending = begin_run(out, store=store, name=name, directory=directory, history=history)
    return pending.commit(results)


def begin_run(out: Any, store: Path | None = None, name: str | None = None, directory: Path | None = None,
              history: bytes | None = None) -> PendingRun:
    """The first half of `write_run`: the run directory under its temporary name with
    every file but results.json (config, history, trace, faults, schedule, a live run's
    files), so that the page can be drawn from them while the checkers run.
    `PendingRun.commit` adds results.json and renames it into place; `PendingRun.abort`
    removes it. Until then nothing looks like a complete run."""
    pending = new_run_dir(out, store=store, name=name, directory=directory)
    try:
        write_data_files(pending.tmp, out, history)
    except BaseException:
        pending.abort()
        raise
    return pending


def new_run_dir(out: Any, store: Path | None = None, name: str | None = None,
                directory: Path | None = None) -> PendingRun:
    """An empty run directory under its temporary name, for `write_data_files`."""
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
        tmp.chmod(0o755)  # mkdtemp makes it 0700: a run directory is for everyone to read
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PendingRun(directory, tmp)


def write_data_files(tmp: Path, out: Any, history: bytes | None = None) -> None:
    """Every file of a run directory but results.json, into ``tmp``."""
    (tmp / "config.json").write_text(json.dumps(out.config.to_dict(), indent=1) + "\n")
    (tmp / "history.jsonl").write_bytes(history if history is not None else history_bytes(out.history))
    (tmp / "trace.jsonl").write_text(_jsonl(out.trace))
    (tmp / "faults.jsonl").write_text(_jsonl(out.faults))
    (tmp / "schedule.json").write_text(json.dumps([f.to_json() for f in out.schedule]) + "\n")
    for rel, src in (getattr(out, "artifacts", None) or {}).items():  # a live run's server logs
        if isinstance(src, bytes):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(src)
            continue
        src = Path(src)
        if src.is_dir():
            shutil.copytree(src, tmp / rel)
        elif src.exists():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tmp / rel)


class PendingRun:
    """A run directory being written (`begin_run`): its files so far are in ``tmp``; it
    becomes ``directory`` at `commit`."""

    def __init__(self, directory: Path, tmp: Path) -> None:
        self.directory = directory
        self.tmp = tmp

    def commit(self, results: dict[str, Any]) -> Path:
        """Write results.json and rename the directory into place; its path."""
        tmp, directory = self.tmp, self.directory
        try:
            (tmp / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
            if directory.exists():
                shutil.rmtree(directory)
            os.replace(tmp, directory)
        except BaseException:
            self.abort()
            raise
        return directory

    def abort(self) -> None:
        """Remove the unfinished directory."""
        shutil.rmtree(self.tmp, ignore_errors=True)


def load_config(run_dir: Path) -> RunConfig:
    run_dir = Path(run_dir)
    p = run_dir / "config.json"
    if not run_dir.is_dir():
        raise ConfigError(f"no run directory at {run_dir}")
    if not p.exists():
        raise ConfigError(f"{run_dir} is not a run directory (no config.json)")
    try:
        d = json.loads(p.read_text())
        if not isinstance(d, dict):
            raise ConfigError("not a JSON object")
        return RunConfig.from_dict(d).validate()
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None
    except (ValueError, TypeError, RecursionError, OSError) as e:
        why = " ".join(str(e).split())[:200] or type(e).__name__
        raise ConfigError(f"{p}: unreadable config: {why}") from None


def path_inside(base: Path, path: Path) -> Path | None:
    """``path`` if it resolves to somewhere strictly inside ``base`` (symlinks followed),
    else None: a path read from a store's own files never leads out of the store."""
    try:
        real, root = Path(path).resolve(), Path(base).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return Path(path) if real != root and root in real.parents else None


def check_writable(directory: Path, what: str = "--store") -> None:
    """ConfigError unless ``directory`` is (or can be made) a directory this process may
    write in: said before a run, not after it simulated for minutes."""
    directory = Path(directory)
    probe = directory
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{what} {directory}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {directory}: {probe} is not writable")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".probe-", dir=directory)
        os.close(fd)
        os.unlink(name)
    except OSError as e:
        raise ConfigError(f"{what} {directory}: cannot write there ({e.strerror or e})") from None


def load_results(run_dir: Path) -> dict[str, Any]:
    results: dict[str, Any] = json.loads((Path(run_dir) / "results.json").read_text())
    return results
