"""Campaigns: many seeded runs of one configuration, in parallel, with triage at the end.

``harness campaign --system toy --workload register --runs 200 --jobs 2 --seed 7`` runs 200
tests, each a normal run directory, and prints verdict counts, anomaly kinds and, for every
failure, its seed and repro command. Exit code: 1 if any run is invalid, else 2 if any is
unknown, else 0.

Seeds. Run ``i`` (0-based) of a campaign with seed ``S`` has run seed
``harness.rng.derive_seed(S, "campaign-run", i)``: a 64-bit number that depends on nothing
else, so a campaign is reproducible and a longer campaign extends a shorter one
(``harness.campaign_params``).

Exploring. With ``--nemesis`` left out, each run draws its whole shape from its seed
(``harness.swarm``): fault families, cluster size, interval, read mode, testing aids;
``--guided`` plans runs from a corpus of schedules that reached new behaviour
(``harness.guided``; behaviours: ``harness.coverage``, kept in ``coverage.jsonl``),
starting from a seed corpus (``--corpus``, ``harness.guided_corpus``; a copy in
``seed-corpus.json``) and ending with its own, distilled, in ``corpus.json``.

Swarm testing (FoundationDB's). With ``--nemesis`` given and unless ``--no-swarm``, each
run draws from its own seed which fault families of ``--nemesis`` are on (each with
probability ``SWARM_P_ON``, at least one) and a rate scale for each (``SWARM_SCALE``;
both in ``harness.swarm``); ``0`` means off. The draw is recorded in the run's
``config.swarm``, so ``harness repro`` replays it. Varying the mix finds bugs that a fixed
mix hides (a constant partition storm masks what a lone clock fault would show).

Executors. Runs go through any ``concurrent.futures`` executor: in-process for
``--jobs 1``, a local process pool otherwise, or a Dask cluster with ``--scheduler
tcp://host:port`` (``Client.get_executor(pure=False)``; with ``pure=True`` Dask would hand
back a cached result instead of re-running). Local workers write their run directory
straight into the store; Dask workers run in private temporary directories and return
the files to the client, which writes the store (``harness.remote``), so a cluster needs
no shared filesystem (``harness.campaign_exec``; one run: ``harness.campaign_run``).
``--keep failures`` drops valid runs' directories.

Layout::

    STORE/campaigns/NAME/campaign.json   name, campaign seed, runs, swarm, base config
    STORE/campaigns/NAME/index.jsonl     one line per finished run, appended as it finishes
    STORE/campaigns/NAME/runs/<seed>/    each a normal run directory

An index line: ``run`` (index i), ``seed``, ``valid`` (true, false or "unknown"),
``failed`` (checkers that failed), ``anomalies`` (``checker`` or ``checker:kind``),
``history_sha256``, ``wall_s``, ``run_dir`` (relative to the campaign directory), and
``error`` if the harness crashed on that run. Each line is flushed as written, so a
crash or Ctrl-C loses no recorded run; ``--resume`` runs exactly the seeds with no line
(reading the index: ``harness.campaign_index``).

This module runs a campaign (:func:`run_campaign`), prints its summary and is the
``harness campaign`` command; it re-exports the names callers have imported from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from harness.campaign_exec import (  # noqa: F401 (re-exported)
    IN_FLIGHT_PER_SLOT,
    SCHEDULER_TIMEOUT_S,
    IndexWriter,
    _executor,
    _finished,
    _progress_bar,
    connect,
    record_run,
    run_tasks,
)
from harness.campaign_index import _bad_entry, done_entries, is_done, load_index  # noqa: F401 (re-exported)
from harness.campaign_params import MAX_RUNS, Campaign, default_name, run_seed  # noqa: F401 (re-exported)
from harness.campaign_run import _import_system, _system_module, run_one  # noqa: F401 (re-exported)
from harness.config import ConfigError, RunConfig
from harness.store import check_writable
from harness.swarm import SWARM_P_ON, SWARM_SCALE, swarm_for  # noqa: F401 (re-exported)

#: most local worker processes (each one a whole simulator in memory)
MAX_JOBS = 64
#: longest campaign name (it is a directory name; file systems allow 255 bytes)
MAX_NAME = 100


# ----------------------------------------------------------------------------- campaign

def run_campaign(campaign: Campaign, jobs: int = 1, client: Any = None, progress: bool = True) -> list[dict[str, Any]]:
    """Run every seed of ``campaign`` without an index entry; return all entries, in run order.

    ``client``: a ``distributed.Client`` to run on a Dask cluster instead of locally.
    """
    entries = done_entries(campaign)
    seeds = campaign.seeds()
    order = {s: i for i, s in enumerate(seeds)}
    pending = [i for i, s in enumerate(seeds) if s not in entries]
    runs_dir = campaign.directory / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for tmp in runs_dir.glob(".tmp-*"):  # left by a worker killed while writing
        shutil.rmtree(tmp, ignore_errors=True)
    system_module = _system_module(campaign.base.system)
    if campaign.guided:
        from harness.guided_campaign import run_guided

        return run_guided(campaign, jobs, client, progress)
    tasks, fn = run_tasks(campaign, pending, system_module, client)
    with _executor(jobs, client) as (executor, in_flight), open(campaign.index_path, "a") as index:
        writer = IndexWriter(campaign, index, entries, progress, time.time())
        try:
            for e in _finished(executor, in_flight, tasks, fn):
                writer.add({"run": order[e["seed"]], **e, "run_dir": None if "error" in e else f"runs/{e['seed']}"})
        finally:
            writer.close()
    return sorted(entries.values(), key=lambda e: e["run"])


def campaign_exit_code(entries: list[dict[str, Any]]) -> int:
    valids = [e["valid"] for e in entries]
    return 1 if False in valids else 2 if any(v is not True for v in valids) else 0


def print_summary(campaign: Campaign, entries: list[dict[str, Any]], new: int, wall_s: float) -> None:
    from tabulate import tabulate

    from harness.summary import _verdict

    rate = f", {new / wall_s:.1f} runs/s" if wall_s > 0 and new else ""
    print(f"campaign {campaign.name}: {len(entries)} of {campaign.runs} runs "
          f"({new} this time, {wall_s:.1f} s{rate}) in {campaign.directory}")
    counts: dict[str, int] = {}
    for e in entries:
        v = "error" if "error" in e else _verdict(e["valid"])
        counts[v] = counts.get(v, 0) + 1
    print(tabulate(sorted(counts.items()), headers=["verdict", "runs"], tablefmt="simple"))
    kinds: dict[str, list[int]] = {}
    for e in entries:
        for a in e["anomalies"]:
            kinds.setdefault(a, []).append(e["seed"])
    if kinds:
        print()
        print(tabulate([[k, len(s), s[0]] for k, s in sorted(kinds.items())],
                       headers=["anomaly", "runs", "first seed"], tablefmt="simple"))
    failures = [e for e in entries if e["valid"] is not True]
    if failures:
        print()
        rows = []
        for e in failures:
            what = e.get("error") or ", ".join(e["anomalies"]) or _verdict(e["valid"])
            repro = f"harness repro {shlex.quote(str(campaign.directory / e['run_dir']))}" if e.get("run_dir") \
                else "-"
            rows.append([e["run"], e["seed"], _verdict(e["valid"]), what, repro])
        print(tabulate(rows, headers=["run", "seed", "verdict", "what failed", "repro"], tablefmt="simple"))


# ----------------------------------------------------------------------------- CLI

def add_arguments(p: argparse.ArgumentParser) -> None:
    from harness.cli import _add_run_options

    _add_run_options(p, campaign=True)
    p.add_argument("--runs", type=int, default=None,
                   help="runs in the campaign (required unless --resume; with it, raises the count)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="local worker processes (default: CPUs, %(default)s); 1 runs in-process")
    p.add_argument("--seed", type=int, default=1, help="campaign seed; run seeds derive from it (default %(default)s)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a Dask cluster, e.g. tcp://host:8786 (no shared filesystem needed: workers send "
                        "each run back and this process writes the store)")
    p.add_argument("--name", default=None,
                   help="campaign name (default SYSTEM-WORKLOAD-seedSEED[-BUG])")
    p.add_argument("--resume", action="store_true",
                   help="continue campaign NAME, running only the seeds not yet finished; "
                        "its parameters come from its campaign.json")
    p.add_argument("--no-swarm", action="store_true",
                   help="every run uses every --nemesis family at the configured rate")
    p.add_argument("--no-report", action="store_true",
                   help="skip index.html and the failing runs' report pages at the end")
    p.add_argument("--guided", action="store_true",
                   help="coverage-guided: runs mutate a corpus of fault schedules that reached new behaviour")
    p.add_argument("--corpus", default=None, metavar="PATH",
                   help="--guided: the seed corpus to start from: a corpus file or a guided campaign's "
                        "directory (its corpus.json), or none (default: the one shipped for the system "
                        "and workload, if any)")
    p.add_argument("--keep", choices=("all", "failures"), default=None,
                   help="run directories to keep in the store (default all; failures from "
                        f"{KEEP_FAILURES_FROM} runs on); others are re-made from their seed on demand")
    # None marks an option left out: the explorative swarm draws it per run (harness.swarm)
    p.add_argument("--materialize", type=int, default=None, metavar="SEED",
                   help="re-make run SEED of campaign NAME (a run not kept) and check its history hash")
    p.set_defaults(nemesis=None, nodes=None, nemesis_interval=None, reads=None)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.jobs <= MAX_JOBS:
        raise ConfigError(f"--jobs must be at least 1 and at most {MAX_JOBS}, not {args.jobs}")
    if args.runs is not None and not 1 <= args.runs <= MAX_RUNS:
        raise ConfigError(f"--runs must be at least 1 and at most {MAX_RUNS}, not {args.runs}")
    if not 0 <= args.seed < 2**64:
        raise ConfigError(f"--seed must be an integer from 0 to {2**64 - 1}, not {args.seed}")
    if args.materialize is not None:
        if not args.name:
            raise ConfigError("--materialize needs --name (the campaign)")
        other = [flag for flag, v in (("--runs", args.runs is not None), ("--resume", args.resume),
                                      ("--guided", args.guided), ("--corpus", args.corpus is not None),
                                      ("--keep", args.keep is not None), ("--no-swarm", args.no_swarm)) if v]
        if other:  # silently ignored before: materializing re-makes one run as the campaign made it
            raise ConfigError(f"{', '.join(other)}: not with --materialize (it re-makes one run of the campaign "
                              f"as it was made)")
        from harness.remote import materialize

        print(materialize(Path(args.store) / "campaigns" / args.name, args.materialize))
        return 0
    # Resuming a named campaign needs none of the run options: they are in campaign.json.
    base = None if args.resume and args.name else _base_config(args)
    name = args.name if base is None else args.name or default_name(base, args.seed)
    if not name or "/" in name or name.startswith(".") or len(name) > MAX_NAME or not name.isprintable():
        raise ConfigError(f"bad campaign name {name[:MAX_NAME]!r}{'...' if len(name) > MAX_NAME else ''} "
                          f"(at most {MAX_NAME} printable characters, no '/', not starting with '.')")
    directory = Path(args.store) / "campaigns" / name
    check_writable(directory.parent)
    # Connect before writing anything: a bad address is one line now, not a crash later.
    client = connect(args.scheduler) if args.scheduler is not None else None
    try:
        from harness.lock import exclusive

        # one process per campaign: two would each run every seed not done (harness.lock)
        with exclusive(directory.parent / f".{name}.lock", f"campaign {name!r}"):
            return _run(args, name, directory, base, client)
    finally:
        if client is not None:
            client.close()


def _run(args: argparse.Namespace, name: str, directory: Path, base: RunConfig | None, client: Any) -> int:
    if args.resume:
        if not (directory / "campaign.json").exists():
            raise ConfigError(f"no campaign {name!r} in {directory.parent} to resume")
        if args.corpus is not None:
            raise ConfigError("--corpus cannot change a campaign being resumed (it plans from its own copy)")
        campaign = Campaign.load(directory)
        _refuse_changes(args, campaign)
        if args.runs is not None and args.runs != campaign.runs:
            if args.runs < campaign.runs:
                raise ConfigError(f"campaign {name!r} has {campaign.runs} runs; "
                                  f"--resume cannot lower it to {args.runs}")
            campaign = dataclasses.replace(campaign, runs=args.runs)
            campaign.save()
    else:
        if args.runs is None:
            raise ConfigError("--runs is required (how many runs in the campaign)")
        if (directory / "campaign.json").exists():
            raise ConfigError(f"campaign {name!r} already exists in {directory.parent}: "
                              f"--resume continues it, --name starts another")
        assert base is not None  # not resuming: run() built it
        seeds = _seed_corpus(args, base)
        campaign = Campaign(name, directory, args.seed, args.runs, not args.no_swarm, base,
                            args._explore, args.guided,
                            args.keep or ("failures" if args.runs >= KEEP_FAILURES_FROM else "all"),
                            SEED_CORPUS if seeds else None)
        directory.mkdir(parents=True, exist_ok=True)
        if seeds:  # the campaign's own copy: a resume plans from it whatever the shipped one becomes
            from harness.guided_corpus import write

            write(directory / SEED_CORPUS, base.system, base.workload, seeds,
                  f"seed corpus ({args.corpus or 'default'})")
        campaign.save()
    before = len(done_entries(campaign))
    if args.resume:
        if campaign.guided:  # its own copy of the seed corpus, damaged: one line, before any other
            from harness.guided import seed_corpus

            seed_corpus(campaign)
        print(f"resuming {name}: {before} of {campaign.runs} runs already done", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        entries = run_campaign(campaign, jobs=args.jobs, client=client)
    except KeyboardInterrupt:
        print(f"harness: {len(done_entries(campaign))} of {campaign.runs} runs done; continue with: "
              f"harness campaign --store {shlex.quote(str(args.store))} --name {shlex.quote(name)} --resume",
              file=sys.stderr)
        raise
    print_summary(campaign, entries, len(entries) - before, time.perf_counter() - t0)
    if not args.no_report:
        from reports.campaign_report import write_campaign_report

        page = write_campaign_report(directory, run_reports="failing", max_run_reports=REPORTED_FAILURES)
        failing = sum(1 for e in entries if e["valid"] is not True)
        more = (f" (report pages for the first {REPORTED_FAILURES} of {failing} failing runs; "
                f"`harness report DIR` builds any other)") if failing > REPORTED_FAILURES else ""
        print(f"report: {page}{more}")
    return campaign_exit_code(entries)


def _refuse_changes(args: argparse.Namespace, campaign: Campaign) -> None:
    """ConfigError if an option given with ``--resume`` says something other than the
    campaign's ``campaign.json``: a resumed campaign runs as it was started, so a
    ``--time-limit 50`` or ``--guided`` there would be silently ignored. An option left
    at its default (or equal to the campaign's) passes; ``--runs`` may raise the count."""
    from harness.cli import _bin, _settings

    d, base = RunConfig(), campaign.base

    def differs(given: Any, default: Any, recorded: Any) -> bool:
        return given is not None and given != default and given != recorded

    changed = [flag for flag, given, default, recorded in (
        ("--system", args.system, d.system, base.system),
        ("--workload", args.workload, d.workload, base.workload),
        ("--clients", args.clients, d.clients, base.clients),
        ("--rate", args.rate, d.rate, base.rate),
        ("--time-limit", args.time_limit, d.time_limit, base.time_limit),
        ("--recovery-time", args.recovery_time, d.recovery_time, base.recovery_time),
        ("--keys", args.keys, d.keys, base.keys),
        ("--nodes", args.nodes, d.nodes, base.nodes),
        ("--nemesis-interval", args.nemesis_interval, d.nemesis_interval, base.nemesis_interval),
        ("--reads", args.reads, d.reads, base.reads),
        ("--nemesis", None if args.nemesis is None else tuple(args.nemesis), d.nemesis, base.nemesis),
        ("--bug", tuple(dict.fromkeys(args.bug)), (), base.bugs),
        ("--seed", args.seed, 1, campaign.seed),
        ("--keep", args.keep, None, campaign.keep),
    ) if differs(given, default, recorded)]
    given = {**_settings(args.settings), **({"fencing": True} if args.fencing else {})}
    if any(base.settings.get(k, object()) != v for k, v in given.items()):
        changed.append("--set" if args.settings else "--fencing")
    # --bin and --bin-arg are settings too (``bin``, ``bin_args``), as the run records them
    bins = _bin(args)
    changed += [flag for key, flag in (("bin", "--bin"), ("bin_args", "--bin-arg"))
                if key in bins and base.settings.get(key, object()) != bins[key]]
    if args.guided and not campaign.guided:
        changed.append("--guided")
    if args.no_swarm and campaign.swarm:
        changed.append("--no-swarm")
    if changed:
        raise ConfigError(f"{' '.join(changed)}: campaign {campaign.name!r} runs as it was started "
                          f"(its campaign.json); --resume cannot change that; --name starts another")


#: failing runs whose report pages a campaign builds at its end (each takes about half a
#: second); the rest are a `harness report RUN_DIR` away
REPORTED_FAILURES = 20


#: campaigns of at least this many runs keep only failing run directories by default
KEEP_FAILURES_FROM = 1000


#: a guided campaign's copy of its seed corpus, in its directory
SEED_CORPUS = "seed-corpus.json"


def _seed_corpus(args: argparse.Namespace, base: RunConfig) -> list[Any]:
    """The entries of the seed corpus ``--corpus`` names (``harness.guided_corpus``)."""
    if not args.guided:
        if args.corpus is not None:
            raise ConfigError("--corpus is for guided campaigns (--guided)")
        return []
    from harness.guided_corpus import resolve

    return resolve(args.corpus or "default", base)


def _base_config(args: argparse.Namespace) -> RunConfig:
    from harness.cli import _config_from
    from harness.swarm import pinned_dimensions

    args._explore = pinned_dimensions(args)
    return _config_from(args, seed=0)
