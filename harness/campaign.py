"""Campaigns: many seeded runs of one configuration, in parallel, with triage at the end.

``harness campaign --system toy --workload register --runs 200 --jobs 2 --seed 7`` runs 200
tests, each a normal run directory, and prints verdict counts, anomaly kinds and, for every
failure, its seed and repro command. Exit code: 1 if any run is invalid, else 2 if any is
unknown, else 0.

Seeds. Run ``i`` (0-based) of a campaign with seed ``S`` has run seed
``harness.rng.derive_seed(S, "campaign-run", i)``: a 64-bit number that depends on nothing
else, so a campaign is reproducible and a longer campaign extends a shorter one.

Swarm testing (FoundationDB's). Unless ``--no-swarm``, each run draws from its own seed
which fault families of ``--nemesis`` are on (each with probability ``SWARM_P_ON``, at least
one) and a rate scale for each (``SWARM_SCALE``); ``0`` means off. The draw is recorded in
the run's ``config.swarm``, so ``harness repro`` replays it. Varying the mix finds bugs that
a fixed mix hides (a constant partition storm masks what a lone clock fault would show).

Executors. Runs go through any ``concurrent.futures`` executor: in-process for
``--jobs 1``, a local process pool otherwise, or a Dask cluster with ``--scheduler
tcp://host:port`` (``Client.get_executor(pure=False)``; with ``pure=True`` Dask would hand
back a cached result instead of re-running). Workers write their run directory straight
into the store, so a Dask cluster needs the store on a filesystem its workers share.

Layout::

    STORE/campaigns/NAME/campaign.json   name, campaign seed, runs, swarm, base config
    STORE/campaigns/NAME/index.jsonl     one line per finished run, appended as it finishes
    STORE/campaigns/NAME/runs/<seed>/    each a normal run directory

An index line: ``run`` (index i), ``seed``, ``valid`` (true, false or "unknown"),
``failed`` (checkers that failed), ``anomalies`` (``checker`` or ``checker:kind``),
``history_sha256``, ``wall_s``, ``run_dir`` (relative to the campaign directory), and
``error`` if the harness crashed on that run. Each line is flushed as written, so a
crash or Ctrl-C loses no recorded run; ``--resume`` runs exactly the seeds with no line.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import dataclasses
import importlib
import json
import os
import shutil
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from harness.config import ConfigError, RunConfig
from harness.rng import derive_seed, stream
from harness.runner import run_test
from harness.shrink import anomaly_names, failure_signature

#: chance that a fault family is on in a swarm run: FoundationDB-style swarm testing finds
#: the most with most families on most of the time, and each one off now and then
SWARM_P_ON = 0.7
#: range of the per-family rate scale: from half to twice the configured fault rate
SWARM_SCALE = (0.5, 2.0)
#: runs in flight per executor slot: enough to keep workers busy, few enough that Ctrl-C
#: has little to cancel and the index stays close to what has really finished
IN_FLIGHT_PER_SLOT = 2
#: seconds to wait for a Dask scheduler before calling its address bad
SCHEDULER_TIMEOUT_S = 5

#: config fields that belong to one run, not to the campaign
_PER_RUN_FIELDS = ("seed", "swarm", "schedule")


def run_seed(campaign_seed: int, i: int) -> int:
    """The seed of run ``i`` of a campaign."""
    return derive_seed(campaign_seed, "campaign-run", i)


def swarm_for(seed: int, families: Iterable[str]) -> dict[str, float]:
    """Swarm draw of one run: family -> rate scale, 0 for a family that is off."""
    families = sorted(set(families))
    if not families:
        return {}
    rng = stream(seed, "swarm")
    # Draw both numbers for every family whatever the outcome, so that one family's
    # draw does not shift the others'.
    draws = [(rng.random() < SWARM_P_ON, round(rng.uniform(*SWARM_SCALE), 3)) for _ in families]
    if not any(on for on, _ in draws):
        k = rng.randrange(len(families))
        draws[k] = (True, draws[k][1])
    return {f: (scale if on else 0.0) for f, (on, scale) in zip(families, draws)}


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

    def config_for(self, i: int) -> RunConfig:
        seed = run_seed(self.seed, i)
        swarm = swarm_for(seed, self.base.nemesis) if self.swarm else {}
        return self.base.replace(seed=seed, swarm=swarm, schedule=None)

    def seeds(self) -> list[int]:
        return [run_seed(self.seed, i) for i in range(self.runs)]

    @property
    def index_path(self) -> Path:
        return self.directory / "index.jsonl"

    def run_dir(self, seed: int) -> Path:
        return self.directory / "runs" / str(seed)

    def to_json(self) -> dict[str, Any]:
        base = {k: v for k, v in self.base.to_dict().items() if k not in _PER_RUN_FIELDS}
        return {"name": self.name, "seed": self.seed, "runs": self.runs, "swarm": self.swarm,
                "seed_rule": "run i has seed harness.rng.derive_seed(seed, 'campaign-run', i)",
                "config": base}

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / "campaign.json.tmp"
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        os.replace(tmp, self.directory / "campaign.json")

    @classmethod
    def load(cls, directory: Path) -> "Campaign":
        p = Path(directory) / "campaign.json"
        try:
            d = json.loads(p.read_text())
            base = RunConfig.from_dict({**d["config"], "seed": 0})
            return cls(d["name"], Path(directory), int(d["seed"]), int(d["runs"]), bool(d["swarm"]), base)
        except FileNotFoundError:
            raise ConfigError(f"no campaign at {directory} (no campaign.json)") from None
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{p}: unreadable campaign: {e}") from None


def load_index(campaign: Campaign) -> dict[int, dict]:
    """Finished runs by seed. A torn last line (the harness died writing it) is cut off."""
    p = campaign.index_path
    if not p.exists():
        return {}
    data = p.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        with open(p, "r+b") as f:
            f.truncate(len(data))
    entries: dict[int, dict] = {}
    for line in data.decode().splitlines():
        if line.strip():
            e = json.loads(line)
            entries.setdefault(int(e["seed"]), e)
    return entries


# ----------------------------------------------------------------------------- workers

def _system_module(system: str) -> tuple[str, str | None]:
    """The module that registers ``system``, and the folder to import it from if it is
    not inside a package (a test's toy system): a spawned worker must import it too."""
    from harness.system import get_system

    module = type(get_system(system)).__module__
    path = None
    if "." not in module:
        path = str(Path(sys.modules[module].__file__).resolve().parent)
    return module, path


def run_one(config: RunConfig, run_dir: str, system_module: tuple[str, str | None] | None = None) -> dict:
    """Run one test into ``run_dir`` and return its index entry (without ``run``/``run_dir``).

    This is what executors call; it must stay a picklable top-level function.
    """
    try:
        if system_module is not None:
            _import_system(config.system, *system_module)
        res = run_test(config, directory=Path(run_dir))
    except Exception as e:  # one crashed run must not end a campaign of thousands
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        return {"seed": config.seed, "valid": "unknown", "failed": [], "anomalies": [],
                "history_sha256": None, "wall_s": None, "error": last}
    sig = failure_signature(res.results)
    return {"seed": config.seed, "valid": res.valid, "failed": sorted({c for c, _ in sig}),
            "anomalies": anomaly_names(sig), "history_sha256": res.results["history_sha256"],
            "wall_s": round(res.wall_s, 4)}


def _import_system(system: str, module: str, path: str | None) -> None:
    from harness.system import system_names

    if system in system_names():
        return
    if path is not None and path not in sys.path:
        sys.path.insert(0, path)
    importlib.import_module(module)


@contextmanager
def _executor(jobs: int, client: Any) -> Iterator[tuple[cf.Executor | None, int]]:
    """(executor, runs to keep in flight); executor None means run in this process."""
    if client is not None:
        slots = max(jobs, sum(client.nthreads().values()))
        yield client.get_executor(pure=False), slots * IN_FLIGHT_PER_SLOT
    elif jobs == 1:
        yield None, 1
    else:
        ex = cf.ProcessPoolExecutor(max_workers=jobs)
        try:
            yield ex, jobs * IN_FLIGHT_PER_SLOT
        finally:
            ex.shutdown(wait=True, cancel_futures=True)


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


def _finished(executor: cf.Executor | None, in_flight: int, tasks: Iterable[tuple]) -> Iterator[dict]:
    """Index entries of ``tasks`` (arguments of run_one) in the order they finish."""
    if executor is None:
        for t in tasks:
            yield run_one(*t)
        return
    tasks = iter(tasks)
    running: set[cf.Future] = set()
    try:
        while True:
            while len(running) < in_flight and (t := next(tasks, None)) is not None:
                running.add(executor.submit(run_one, *t))
            if not running:
                return
            done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for f in done:
                yield f.result()
    finally:
        for f in running:
            f.cancel()


# ----------------------------------------------------------------------------- campaign

def run_campaign(campaign: Campaign, jobs: int = 1, client: Any = None, progress: bool = True) -> list[dict]:
    """Run every seed of ``campaign`` without an index entry; return all entries, in run order.

    ``client``: a ``distributed.Client`` to run on a Dask cluster instead of locally.
    """
    entries = load_index(campaign)
    seeds = campaign.seeds()
    order = {s: i for i, s in enumerate(seeds)}
    pending = [i for i, s in enumerate(seeds) if s not in entries]
    runs_dir = campaign.directory / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for tmp in runs_dir.glob(".tmp-*"):  # left by a worker killed while writing
        shutil.rmtree(tmp, ignore_errors=True)
    system_module = _system_module(campaign.base.system)
    tasks = ((campaign.config_for(i), str(campaign.run_dir(seeds[i]).resolve()), system_module)
             for i in pending)
    invalid = sum(1 for e in entries.values() if e["valid"] is False)
    unknown = sum(1 for e in entries.values() if e["valid"] not in (True, False))

    bar = None
    with _executor(jobs, client) as (executor, in_flight), open(campaign.index_path, "a") as index:
        try:
            for e in _finished(executor, in_flight, tasks):
                e = {"run": order[e["seed"]], **e,
                     "run_dir": None if "error" in e else f"runs/{e['seed']}"}
                index.write(json.dumps(e, separators=(",", ":")) + "\n")
                index.flush()
                entries[e["seed"]] = e
                invalid += e["valid"] is False
                unknown += e["valid"] not in (True, False)
                if bar is None and progress:
                    bar = _progress_bar(campaign.runs, len(entries) - 1)
                if bar is not None:
                    bar.set_postfix_str(f"failures={invalid}" + (f" unknown={unknown}" if unknown else ""),
                                        refresh=False)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    return sorted(entries.values(), key=lambda e: e["run"])


def _progress_bar(total: int, initial: int) -> Any:
    # Made after the first run finished, so the process pool has forked its workers
    # before tqdm starts its monitor thread.
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="run", file=sys.stderr, dynamic_ncols=True,
                desc="campaign", mininterval=0.25)


def campaign_exit_code(entries: list[dict]) -> int:
    valids = [e["valid"] for e in entries]
    return 1 if False in valids else 2 if any(v is not True for v in valids) else 0


def print_summary(campaign: Campaign, entries: list[dict], new: int, wall_s: float) -> None:
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
            repro = f"harness repro {campaign.directory / e['run_dir']}" if e.get("run_dir") else "-"
            rows.append([e["run"], e["seed"], _verdict(e["valid"]), what, repro])
        print(tabulate(rows, headers=["run", "seed", "verdict", "what failed", "repro"], tablefmt="simple"))


# ----------------------------------------------------------------------------- CLI

def add_arguments(p: argparse.ArgumentParser) -> None:
    from harness.cli import _add_run_options

    _add_run_options(p)
    p.add_argument("--runs", type=int, default=None,
                   help="runs in the campaign (required unless --resume; with it, raises the count)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="local worker processes (default: CPUs, %(default)s); 1 runs in-process")
    p.add_argument("--seed", type=int, default=1, help="campaign seed; run seeds derive from it (default %(default)s)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a Dask cluster, e.g. tcp://host:8786 (the store must be shared with its workers)")
    p.add_argument("--name", default=None,
                   help="campaign name (default SYSTEM-WORKLOAD-seedSEED[-BUG])")
    p.add_argument("--resume", action="store_true",
                   help="continue campaign NAME, running only the seeds not yet finished; "
                        "its parameters come from its campaign.json")
    p.add_argument("--no-swarm", action="store_true",
                   help="every run uses every --nemesis family at the configured rate")
    p.add_argument("--no-report", action="store_true",
                   help="skip index.html and the failing runs' report pages at the end")


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, not {args.jobs}")
    if args.runs is not None and args.runs < 1:
        raise ConfigError(f"--runs must be at least 1, not {args.runs}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be non-negative, not {args.seed}")
    # Resuming a named campaign needs none of the run options: they are in campaign.json.
    base = None if args.resume and args.name else _base_config(args)
    name = args.name or default_name(base, args.seed)
    if not name or "/" in name or name.startswith("."):
        raise ConfigError(f"bad campaign name {name!r}")
    directory = Path(args.store) / "campaigns" / name
    # Connect before writing anything: a bad address is one line now, not a crash later.
    client = connect(args.scheduler) if args.scheduler is not None else None
    try:
        return _run(args, name, directory, base, client)
    finally:
        if client is not None:
            client.close()


def _run(args: argparse.Namespace, name: str, directory: Path, base: RunConfig | None, client: Any) -> int:
    if args.resume:
        if not (directory / "campaign.json").exists():
            raise ConfigError(f"no campaign {name!r} in {directory.parent} to resume")
        campaign = Campaign.load(directory)
        if args.runs is not None and args.runs != campaign.runs:
            if args.runs < campaign.runs:
                raise ConfigError(f"campaign {name!r} has {campaign.runs} runs; --resume cannot lower it to {args.runs}")
            campaign = dataclasses.replace(campaign, runs=args.runs)
            campaign.save()
    else:
        if args.runs is None:
            raise ConfigError("--runs is required (how many runs in the campaign)")
        if (directory / "campaign.json").exists():
            raise ConfigError(f"campaign {name!r} already exists in {directory.parent}: "
                              f"--resume continues it, --name starts another")
        campaign = Campaign(name, directory, args.seed, args.runs, not args.no_swarm, base)
        campaign.save()
    before = len(load_index(campaign))
    if args.resume:
        print(f"resuming {name}: {before} of {campaign.runs} runs already done", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        entries = run_campaign(campaign, jobs=args.jobs, client=client)
    except KeyboardInterrupt:
        print(f"harness: {len(load_index(campaign))} of {campaign.runs} runs recorded; continue with: "
              f"harness campaign --store {args.store} --name {name} --resume", file=sys.stderr)
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


#: failing runs whose report pages a campaign builds at its end (each takes about half a
#: second); the rest are a `harness report RUN_DIR` away
REPORTED_FAILURES = 20


def _base_config(args: argparse.Namespace) -> RunConfig:
    from harness.cli import _config_from

    return _config_from(args, seed=0)
