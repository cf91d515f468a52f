"""Where a campaign's runs execute, and what happens to each as it finishes.

Runs go through any ``concurrent.futures`` executor (:func:`_executor`): in-process for
``--jobs 1``, a local process pool otherwise, or a Dask cluster with ``--scheduler
tcp://host:port`` (:func:`connect`; ``Client.get_executor(pure=False)``, since with
``pure=True`` Dask would hand back a cached result instead of re-running). Local workers
write their run directory straight into the store; Dask workers run in private temporary
directories and return the files to the client, which writes the store (``harness.remote``),
so a cluster needs no shared filesystem. :func:`_finished` keeps a few runs in flight per
slot and yields their index entries as they finish; :func:`record_run` files each one
(coverage log, store) before its index line is written.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from harness.campaign_run import run_one
from harness.config import ConfigError, RunConfig
from harness.coverage import CoverageLog
from harness.remote import run_remote, store_run

#: runs in flight per executor slot: enough to keep workers busy, few enough that Ctrl-C
#: has little to cancel and the index stays close to what has really finished
IN_FLIGHT_PER_SLOT = 2
#: seconds to wait for a Dask scheduler before calling its address bad
SCHEDULER_TIMEOUT_S = 5


@contextmanager
def _executor(jobs: int, client: Any) -> Iterator[tuple[cf.Executor | None, int]]:
    """(executor, runs to keep in flight); executor None means run in this process."""
    if client is not None:
        slots = max(jobs, sum(client.nthreads().values()))
        yield client.get_executor(pure=False), slots * IN_FLIGHT_PER_SLOT
    elif jobs == 1:
        yield None, 1
    else:
        from harness.parentdeath import RenewingPool

        # its workers die with this process, even on SIGKILL; a worker's death breaks
        # only the runs in flight (`_finished` runs them again)
        ex = RenewingPool(jobs)
        try:
            yield ex, jobs * IN_FLIGHT_PER_SLOT
        except BaseException:
            # Ctrl-C, SIGTERM, a full disk: the runs in flight would not be recorded, so
            # end them now rather than wait for each to finish (a --resume runs them again)
            ex.kill_workers()
            raise
        finally:
            ex.shutdown(wait=True, cancel_futures=True)


def lost_run(task: tuple[Any, ...]) -> dict[str, Any]:
    """The index entry of a run whose worker process died while it ran alone: a harness
    error (``--resume`` runs it again), as a run that raised is (``run_one``)."""
    return {"seed": task[0].seed, "valid": "unknown", "failed": [], "anomalies": [], "history_sha256": None,
            "wall_s": None, "error": "its worker process died (killed: out of memory?)"}


def connect(address: str) -> Any:
    """A ``distributed.Client`` for ``address``, or ConfigError if it cannot be reached."""
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("--scheduler needs dask.distributed: pip install 'dask[distributed]'") from None
    if "://" not in address:
        raise ConfigError(f"bad scheduler address {address!r} (expected tcp://host:port)")
    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT_S)
    except Exception as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"cannot reach Dask scheduler {address}: {why}") from None


def _finished(executor: cf.Executor | None, in_flight: int, tasks: Iterable[tuple[Any, ...]],
              fn: Any = None) -> Iterator[dict[str, Any]]:
    """Index entries of ``tasks`` (arguments of ``fn``, run_one by default) in the order they finish."""
    fn = fn or run_one
    if executor is None:
        for t in tasks:
            yield fn(*t)
        return
    tasks = iter(tasks)
    # future -> (its task, whether it ran alone)
    running: dict[cf.Future[Any], tuple[tuple[Any, ...], bool]] = {}
    # runs in flight when a worker died: any of them may have killed it (its memory), so
    # each runs again alone, and one that kills its worker alone is recorded as lost
    suspects: deque[tuple[Any, ...]] = deque()
    try:
        while True:
            if suspects:
                if not running:
                    suspect = suspects.popleft()
                    running[executor.submit(fn, *suspect)] = (suspect, True)
            else:
                while len(running) < in_flight and (task := next(tasks, None)) is not None:
                    running[executor.submit(fn, *task)] = (task, False)
            if not running:
                return
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for f in done:
                ran, alone = running.pop(f)
                try:
                    entry = f.result()
                except BrokenProcessPool:
                    if not alone:
                        suspects.append(ran)
                        continue
                    entry = lost_run(ran)
                yield entry
    finally:
        for f in running:
            f.cancel()


def run_tasks(campaign: Any, runs: Iterable[int], system_module: Any, client: Any,
              configs: dict[int, RunConfig] | None = None) -> tuple[Iterator[tuple[Any, ...]], Any]:
    """(tasks, function) for runs ``runs``: on a Dask cluster, workers run in private
    directories and return the files (``harness.remote``); locally they write the store."""
    seeds = campaign.seeds()

    def config(i: int) -> RunConfig:
        return configs[i] if configs is not None else campaign.config_for(i)

    if client is not None:
        return ((config(i), campaign.keep, system_module) for i in runs), run_remote
    return ((config(i), str(campaign.run_dir(seeds[i]).resolve()), system_module) for i in runs), run_one


def record_run(campaign: Any, e: dict[str, Any], log: Any = None) -> dict[str, Any]:
    """Before a finished run's index line is written: its behaviours go to coverage.jsonl
    (``harness.coverage``), its files (a worker without the store) into the store, and a
    valid run's directory goes unless the campaign keeps all. Returns the index line.
    ``log``: the campaign's open ``harness.coverage.CoverageLog``."""
    e = dict(e)
    found = e.pop("behaviours", None)
    files = e.pop("files", None)
    if found is not None:
        e["behaviours"] = len(found)
        (log or CoverageLog(campaign.directory)).append(e["run"], e["seed"], found)
    return store_run(campaign, e, files)


class IndexWriter:
    """What a campaign does with each finished run, plain or guided: `record_run`, its
    line appended to the open index (flushed, so a killed campaign resumes from it), the
    entry kept, the failure counts and the progress bar (made after the first run, see
    `_progress_bar`) brought up to date. ``extra``: more for the bar's postfix."""

    def __init__(self, campaign: Any, index: Any, entries: dict[int, dict[str, Any]], progress: bool,
                 started: float, extra: Any = None) -> None:
        self.campaign, self.index, self.entries, self.progress = campaign, index, entries, progress
        self.started, self.extra = started, extra
        self.log = CoverageLog(campaign.directory)
        self.invalid = sum(1 for e in entries.values() if e["valid"] is False)
        self.unknown = sum(1 for e in entries.values() if e["valid"] not in (True, False))
        self.bar: Any = None

    def add(self, e: dict[str, Any]) -> dict[str, Any]:
        """Record the finished run ``e`` (its index line, before `record_run`); the line written."""
        e = record_run(self.campaign, e, self.log)
        self.index.write(json.dumps(e, separators=(",", ":")) + "\n")
        self.index.flush()
        self.entries[e["seed"]] = e
        self.invalid += e["valid"] is False
        self.unknown += e["valid"] not in (True, False)
        if self.bar is None and self.progress:
            self.bar = _progress_bar(self.campaign.runs, len(self.entries) - 1, self.started)
        if self.bar is not None:
            self.bar.set_postfix_str(self.postfix(), refresh=False)
            self.bar.update(1)
        return e

    def postfix(self) -> str:
        return f"failures={self.invalid}" + (f" unknown={self.unknown}" if self.unknown else "") + \
            (f" {self.extra()}" if self.extra is not None else "")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress_bar(total: int, initial: int, started: float | None = None, tty: bool | None = None) -> Any:
    """The campaign's progress bar, made after the first run finished (so the process pool
    has forked its workers before tqdm starts its monitor thread); ``started``
    (``time.time()`` when the runs began) dates it back, so that its elapsed time and
    runs per second count the first run too instead of the instant since it finished.
    On a terminal (``tty``; default: whether stderr is one) a tqdm bar, else `LineProgress`."""
    if not (sys.stderr.isatty() if tty is None else tty):
        return LineProgress(total, initial, started)
    from tqdm import tqdm

    bar = tqdm(total=total, initial=initial, unit="run", file=sys.stderr, dynamic_ncols=True,
               desc="campaign", mininterval=0.25)
    if started is not None:
        bar.start_t = bar.last_print_t = min(started, bar.start_t)
    return bar


#: seconds between two progress lines when stderr is a file or a pipe
PROGRESS_LINE_S = 30.0


class LineProgress:
    """The progress bar where stderr is a log file or a pipe: a plain line every
    `PROGRESS_LINE_S` seconds and one at the end (tqdm's carriage returns would make one
    endless line of a log). The part of tqdm's interface the campaign uses."""

    def __init__(self, total: int, initial: int, started: float | None = None) -> None:
        self.total, self.n, self.initial = total, initial, initial
        self.started = time.time() if started is None else started
        self.last = self.started
        self.postfix = ""

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        self.postfix = s

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.time() - self.last >= PROGRESS_LINE_S:
            self.line()

    def close(self) -> None:
        self.line()

    def line(self) -> None:
        self.last = now = time.time()
        elapsed = max(now - self.started, 1e-9)
        rate = (self.n - self.initial) / elapsed
        left = f", about {(self.total - self.n) / rate:.0f} s left" if rate > 0 and self.n < self.total else ""
        print(f"campaign: {self.n}/{self.total} runs, {elapsed:.0f} s, {rate:.2f} runs/s{left}"
              + (f", {self.postfix}" if self.postfix else ""), file=sys.stderr, flush=True)
