"""Hunt the planted bugs (ZAB/ZooKeeper and Kafka): for each, a randomized campaign until
the first failing seed, then shrink that run.

    python bench/bugs.py                      # every bug of the table below
    python bench/bugs.py zab-no-trunc zab-ack-before-fsync
    python bench/bugs.py --runs 200 --jobs 2 --store store/bug-hunts --budget 60

For each bug: a campaign (``STORE/campaigns/hunt-BUG``, a normal campaign directory, so
``harness report`` and ``harness repro`` work on it) of up to ``--runs`` seeds with the
nemesis suited to the bug (``HUNTS``), run in seed order and stopped at the first seed
whose run is invalid. Then:

- the checker that failed must be the one the bug names (``Hunt.expect``: checker and,
  for the quorum and session checkers, the kinds of violation);
- control: the same seed without the bug must pass (so it is the bug that was caught);
- ``harness shrink`` (its Python API, ``--budget`` seconds) reduces the failing run.

Resumable: finished runs are in each campaign's ``index.jsonl`` (a rerun continues where
it stopped), and each finished hunt's row is kept in ``STORE/bug-hunts.json``; ``--redo``
hunts again. A run that crashes the harness, or exceeds ``--run-timeout`` seconds of wall
clock, is recorded as an error and the hunt goes on. (A message storm does not get there:
the simulator's storm budget stops it, and liveness reports ``message-storm``; the
timeout is only a backstop.)

Prints: bug, checker that caught it (with the kinds of violation), seeds until the first
failure, wall time of the hunt, shrunk faults before -> after, shrink time, control.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tabulate import tabulate  # noqa: E402

from harness.campaign import Campaign, load_index, run_one  # noqa: E402
from harness.config import RunConfig  # noqa: E402
from harness.parentdeath import ProcessPool  # noqa: E402


@dataclass(frozen=True)
class Hunt:
    """How to hunt one bug: the campaign's base config and what must catch it."""

    nemesis: tuple[str, ...]
    #: (checker, kinds): the run must fail ``checker``; if ``kinds`` is not empty, with at
    #: least one of these kinds of violation (quorum: violation_counts, session:
    #: anomaly_counts). Several pairs: any of them.
    expect: tuple[tuple[str, tuple[str, ...]], ...]
    nodes: int = 5
    interval: float = 6.0
    time_limit: float = 30.0
    reads: str = "sync"
    workload: str = "register"
    settings: dict = field(default_factory=dict)
    swarm: bool = True
    note: str = ""
    system: str = "zab"
    #: where the hunt's settings make other failures legitimate (an unclean election may
    #: lose acknowledged writes), only a run that shows ``expect`` ends the hunt
    only_expected: bool = False

    def base(self, bug: str) -> RunConfig:
        return RunConfig(
            system=self.system, workload=self.workload, nemesis=self.nemesis, nodes=self.nodes,
            nemesis_interval=self.interval, time_limit=self.time_limit, reads=self.reads,
            bugs=(bug,), settings=dict(self.settings), seed=0,
        ).validate()


Q = "quorum"
HUNTS: dict[str, Hunt] = {
    "zab-commit-without-quorum": Hunt(
        ("partition", "kill"), ((Q, ("quorum-commit", "I9-acked-write-durability")),)),
    "zab-ack-before-fsync": Hunt(
        ("power", "kill"), ((Q, ("I9-acked-write-durability", "quorum-commit")),), nodes=3,
        note="quorum-commit: the leader counted an ACK whose record was not durable yet"),
    "zab-newleader-ack-before-durable": Hunt(
        ("power", "crash", "kill"),
        ((Q, ("I9-acked-write-durability", "committed-log-durability", "quorum-commit")),)),
    "zab-epoch-before-log": Hunt(
        ("power",), ((Q, ("committed-log-durability", "I6-primary-integrity", "I9-acked-write-durability")),),
        nodes=3, interval=1.0, time_limit=60.0),
    "zab-no-trunc": Hunt(
        ("partition", "kill", "crash"), ((Q, ("I3-agreement",)), ("linearizable", ()))),
    "zab-volatile-accepted-epoch": Hunt(
        ("partition", "kill"), ((Q, ("I7-one-leader-per-epoch", "I8-zxid-sanity", "I3-agreement")),),
        nodes=3, interval=3.0),
    "zab-vote-by-id-only": Hunt(
        ("kill", "power", "crash"),
        (("liveness", ()), (Q, ("I6-primary-integrity", "I9-acked-write-durability"))),
        interval=2.0, time_limit=60.0,
        note="liveness: a stale top-id server is elected and abandons (a follower is more recent), "
             "again and again, until the others happen to time out together while it waits"),
    "zab-vote-order-not-total": Hunt(
        ("power", "partition", "kill"), (("liveness", ()),),
        note="liveness: a message storm (the votes cycle, each re-broadcast begets more) "
             "that the simulator's storm budget stops"),
    "zab-propose-only-synced": Hunt(
        ("kill", "crash", "pause"), ((Q, ("I3-agreement", "I4-local-primary-order")),),
        note="no partitions: no message is lost inside a live connection, so the hole in "
             "a follower's history is the leader's doing, not the network's"),
    "zab-zxid-overflow": Hunt(
        ("partition", "kill"), ((Q, ("I8-zxid-sanity", "I5-global-primary-order")),),
        settings={"counter_bits": 6}),
    "zk-sync-not-quorum": Hunt(
        ("partition", "slow"), (("linearizable", ()),), interval=3.0),
    "zk-wallclock-session-expiry": Hunt(
        ("clock",), (("session", ("expired-while-live",)), ("mutex", ())), workload="election"),
    "zk-reconnect-ignores-lastzxid": Hunt(
        ("partition", "pause"), (("session", ("monotonic-reads", "read-your-writes")),), reads="local"),
    "zk-ephemeral-lingers": Hunt(
        ("partition", "kill", "pause"), (("convergence", ()),)),
}


def kafka(nemesis: tuple[str, ...], *expect: tuple[str, tuple[str, ...]], **kw) -> Hunt:
    """A Kafka hunt: the standard queue run (3 ZooKeeper servers, 5 brokers, 3 partitions)."""
    return Hunt(nemesis, tuple(expect), system="kafka", workload="queue", **kw)


D, R = "durability", "replicas"
HUNTS.update({
    "kafka-acks-all-as-one": kafka(("partition", "kill"), (D, ("lost-write",)), (R, ("acked-uncommitted",))),
    "kafka-unclean-election": kafka(("partition", "kill"), (D, ("lost-write", "inconsistent-offsets"))),
    "kafka-ignore-min-isr": kafka(("partition", "kill"), (R, ("acked-below-min-isr",)), (D, ("lost-write",))),
    # the committed records it loses are reused for other values: a consumer that read
    # them first sees an offset change its value, or one that had not, a lost write
    "kafka-hw-truncation": kafka(("partition", "kill"), (D, ("lost-write", "inconsistent-offsets")),
                                 (R, ("committed-value-changed", "replicas-disagree-after-healing"))),
    # KIP-101 scenario 2 needs a new leader that lacks records below the old high
    # watermark, which only an unclean election produces
    "kafka-hw-divergence": kafka(("partition", "kill"), (R, ("replicas-disagree-after-healing",)),
                                 settings={"unclean_leader_election_enable": True}, only_expected=True),
    "kafka-epoch-answer-unknown": kafka(("partition", "kill", "crash"),
                                        (R, ("diverged-below-hw", "replicas-disagree-after-healing",
                                             "committed-value-changed")),
                                        (D, ("inconsistent-offsets", "lost-write"))),
    "kafka-premature-isr-join": kafka(("partition", "kill"), (R, ("isr-join-without-committed",)),
                                      (D, ("lost-write",))),
    "kafka-no-epoch-fencing": kafka(("pause", "partition"),
                                    (R, ("diverged-below-hw", "replicas-disagree-after-healing",
                                         "committed-value-changed", "two-leaders-one-epoch",
                                         "stale-epoch-append"))),
    "kafka-zombie-controller": kafka(("pause", "partition"), (R, ("two-leaders-one-epoch",)), (D, ("lost-write",))),
    "kafka-non-idempotent-retry": kafka(("partition", "kill"), (D, ("duplicate",))),
    "kafka-producer-state-lost": kafka(("partition", "kill"), (D, ("duplicate",))),
    "kafka-commit-before-process": kafka(("partition", "kill"), (D, ("lost-write",))),
    "kafka-wallclock-isr-lag": kafka(("clock", "kill"), (R, ("spurious-isr-shrink",)), (D, ("lost-write",))),
})


# ----------------------------------------------------------------------------- runs

class RunTimeout(Exception):
    pass


def _alarm(signum, frame):  # pragma: no cover - only on a runaway run
    raise RunTimeout("run exceeded its wall-clock limit")


def guarded_run(config: RunConfig, run_dir: str, limit_s: float) -> dict:
    """``harness.campaign.run_one`` under a wall-clock limit (SIGALRM, in the worker)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        e = run_one(config, run_dir)
        e.pop("behaviours", None)  # results.json has them; the hunt's index need not
        return e
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def failure_kinds(run_dir: Path) -> dict[str, list[str]]:
    """checker -> kinds of violation, for every checker that failed (and counts)."""
    return kinds_of(json.loads((run_dir / "results.json").read_text()))


def kinds_of(res: dict) -> dict[str, list[str]]:
    """checker -> kinds, from the failure signature campaigns and shrink use."""
    from checkers.result import failure_signature

    out: dict[str, list[str]] = {}
    for checker, kind in failure_signature(res):
        out.setdefault(checker, [])
        if kind is not None:
            out[checker].append(kind)
    return {c: sorted(k) for c, k in sorted(out.items())}


def matches(expect, kinds: dict[str, list[str]]) -> tuple[str, str] | None:
    """The first (checker, kind) of ``expect`` that the failure shows, else None."""
    for checker, wanted in expect:
        if checker not in kinds:
            continue
        if not wanted:
            return checker, ",".join(kinds[checker])
        hit = [k for k in wanted if k in kinds[checker]]
        if hit:
            return checker, ",".join(hit)
    return None


def hunt(bug: str, h: Hunt, store: Path, runs: int, seed: int, jobs: int, run_timeout: float,
         log=print) -> dict:
    """Run the campaign of ``bug`` in seed order until the first invalid run."""
    name = f"hunt-{bug}"
    directory = store / "campaigns" / name
    if (directory / "campaign.json").exists():
        campaign = Campaign.load(directory)
        if campaign.runs < runs:
            campaign = Campaign(name, directory, campaign.seed, runs, campaign.swarm, campaign.base)
            campaign.save()
    else:
        campaign = Campaign(name, directory, seed, runs, h.swarm, h.base(bug))
        campaign.save()
    entries = {e["run"]: e for e in load_index(campaign).values()}
    (directory / "runs").mkdir(parents=True, exist_ok=True)
    meta_path = directory / "hunt.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"wall_s": 0.0}
    t0 = time.perf_counter()

    hits: dict[int, bool] = {}

    def is_hit(i: int) -> bool:
        e = entries[i]
        if e["valid"] is not False:
            return False
        if not h.only_expected:
            return True
        if i not in hits:
            hits[i] = matches(h.expect, failure_kinds(directory / e["run_dir"])) is not None
        return hits[i]

    def first_failure() -> int | None:
        for i in range(runs):
            if i not in entries:
                return None
            if is_hit(i):
                return i
        return None

    def record(e: dict) -> None:
        with open(campaign.index_path, "a") as f:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
        entries[e["run"]] = e

    seeds = campaign.seeds()
    todo = [i for i in range(runs) if i not in entries]
    found = first_failure()
    if found is None and todo:
        ex = ProcessPool(jobs) if jobs > 1 else None  # workers die with this script
        try:
            pending: dict = {}
            queue = list(todo)
            while True:
                # keep the pool busy, never past a failure already found below
                fail_at = min((k for k in entries if is_hit(k)), default=None)
                queue = [i for i in queue if fail_at is None or i < fail_at]
                while ex is not None and len(pending) < 2 * jobs and queue:
                    i = queue.pop(0)
                    cfg = campaign.config_for(i)
                    fut = ex.submit(guarded_run, cfg, str(campaign.run_dir(seeds[i]).resolve()), run_timeout)
                    pending[fut] = i
                if ex is None:
                    if not queue:
                        break
                    i = queue.pop(0)
                    cfg = campaign.config_for(i)
                    e = guarded_run(cfg, str(campaign.run_dir(seeds[i]).resolve()), run_timeout)
                    record({"run": i, **e, "run_dir": None if "error" in e else f"runs/{e['seed']}"})
                else:
                    if not pending:
                        break
                    done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        i = pending.pop(fut)
                        e = fut.result()
                        record({"run": i, **e, "run_dir": None if "error" in e else f"runs/{e['seed']}"})
                found = first_failure()
                if found is not None and all(k in entries for k in range(found)):
                    break
                done_n = len(entries)
                if done_n % 20 == 0:
                    log(f"  {bug}: {done_n} runs, no failure yet")
        finally:
            if ex is not None:
                ex.shutdown(wait=True, cancel_futures=True)
    meta["wall_s"] = round(meta["wall_s"] + time.perf_counter() - t0, 2)
    meta_path.write_text(json.dumps(meta) + "\n")
    errors = [e for e in entries.values() if "error" in e and (found is None or e["run"] < found)]
    others = sum(1 for i, e in entries.items() if e["valid"] is False and (found is None or i < found))
    out = {"bug": bug, "runs_done": len(entries), "found": found, "wall_s": meta["wall_s"], "other_failures": others,
           "errors": len(errors), "error_kinds": sorted({e["error"][:80] for e in errors})}
    if found is not None:
        out["run_dir"] = str(directory / entries[found]["run_dir"])
        out["seed"] = entries[found]["seed"]
    return out


def control(run_dir: Path, expect=None) -> bool:
    """The failing run's config without the bug passes; where the hunt's settings make
    some loss legitimate (an unclean election may lose acknowledged writes), it is enough
    that the run without the bug does not show what caught the bug."""
    from harness.runner import run_test
    from harness.store import load_config

    res = run_test(load_config(run_dir).replace(bugs=()))
    if res.valid is True:
        return True
    return expect is not None and matches(expect, kinds_of(res.results)) is None


def _guard_run_test(limit_s: float) -> None:
    """In this (child) process, every harness run gets ``limit_s`` of wall clock; past
    it, it counts as a run that did not fail (a message storm is not a shrink result)."""
    import harness.runner as runner

    real = runner.run_test

    def guarded(config, *args, **kwargs):
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, limit_s)
        try:
            return real(config, *args, **kwargs)
        except RunTimeout:
            return runner.RunResult(config, "unknown", {"valid": "unknown", "checkers": {}, "stats": {}},
                                    None, None, limit_s)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    runner.run_test = guarded


def _after(run_dir: str, budget_s: float, run_limit_s: float, shrink_it: bool, expect=None) -> dict:
    """Control and shrink, in a child process (bounded memory, runs under a time limit).

    The shrink keeps what caught the bug: the checker ``expect`` names and the first of its
    kinds the run shows (every kind the checker shows when ``expect`` names none)."""
    import resource

    import harness.runner as runner
    from checkers.result import anomaly_names, failure_signature
    from harness.shrink import shrink_run, sizes

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    real_run_test = runner.run_test
    _guard_run_test(run_limit_s)
    out: dict = {"control": control(Path(run_dir), expect)}
    runner.run_test = real_run_test  # the shrinker bounds its runs itself (budget, run limit)
    if not shrink_it:
        return out
    keep = None
    results = json.loads((Path(run_dir) / "results.json").read_text())
    hit = matches(expect, kinds_of(results)) if expect is not None else None
    if hit is not None:
        sig = failure_signature(results)
        wanted = next(w for c, w in expect if c == hit[0])
        first = hit[1].split(",")[0] if wanted else None
        keep = {p for p in sig if p[0] == hit[0] and (first is None or p[1] in (first, None))} or None
    t0 = time.perf_counter()
    try:
        out_dir, sh = shrink_run(Path(run_dir), budget_s, Path(run_dir + ".shrunk"), run_limit_s=run_limit_s,
                                 keep=keep)
    except Exception as e:  # a run that does not reproduce, or out of memory
        out["shrink_error"] = f"{type(e).__name__}: {str(e)[:160]}"
        return out
    before, after = sizes(sh.first), sizes(sh.best)
    out.update({"faults_before": before["faults"], "faults_after": after["faults"],
                "ops_before": before["operations"], "ops_after": after["operations"],
                "shrink_s": round(time.perf_counter() - t0, 1), "shrunk_dir": str(out_dir),
                "out_of_budget": sh.out_of_budget, "shrink_kept": anomaly_names(sh.target)})
    return out


#: address-space limit of the control-and-shrink child process
MEMORY_LIMIT = 6 * 1024**3


def after(run_dir: Path, budget_s: float, run_limit_s: float, shrink_it: bool = True, expect=None) -> dict:
    with ProcessPool(1) as ex:  # dies with this script, even on SIGKILL
        fut = ex.submit(_after, str(run_dir), budget_s, run_limit_s, shrink_it, expect)
        try:
            return fut.result(timeout=budget_s + 4 * run_limit_s + 60)
        except Exception as e:
            return {"control": None, "shrink_error": f"{type(e).__name__}: {str(e)[:160]}"}


def row(r: dict) -> list:
    if r.get("found") is None:
        err = f" ({r['errors']} errors: {'; '.join(r['error_kinds'])})" if r.get("errors") else ""
        return [r["bug"], "NOT CAUGHT" + err, f"none in {r['runs_done']}", f"{r['wall_s']:.0f} s", "-", "-", "-"]
    ok = "" if r.get("expected") else " (UNEXPECTED)"
    if r.get("other_failures"):
        ok += f" [{r['other_failures']} earlier runs failed otherwise, as the settings allow]"
    shr = f"{r['faults_before']} -> {r['faults_after']}" if "faults_before" in r else "-"
    st = f"{r['shrink_s']:.0f} s" if "shrink_s" in r else "-"
    ctl = {True: "pass", False: "FAILS", None: "?"}[r.get("control")]
    return [r["bug"], f"{r['caught_by']}{ok}", r["found"] + 1, f"{r['wall_s']:.0f} s", shr, st, ctl]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bugs", nargs="*", help="bugs to hunt (default: all of the table)")
    ap.add_argument("--runs", type=int, default=200, help="seeds per bug at most (default %(default)s)")
    ap.add_argument("--seed", type=int, default=1, help="campaign seed (default %(default)s)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default %(default)s)")
    ap.add_argument("--store", type=Path, default=Path("store/bug-hunts"), help="store (default %(default)s)")
    ap.add_argument("--budget", type=float, default=60.0, help="shrink budget, seconds (default %(default)s)")
    ap.add_argument("--run-timeout", type=float, default=300.0,
                    help="wall-clock seconds one run may take before it counts as an error (default %(default)s)")
    ap.add_argument("--no-shrink", action="store_true", help="skip shrinking")
    ap.add_argument("--redo", action="store_true", help="hunt again even if bug-hunts.json has a row")
    a = ap.parse_args(argv)
    unknown = [b for b in a.bugs if b not in HUNTS]
    if unknown:
        print(f"unknown bug(s): {', '.join(unknown)}; known: {', '.join(HUNTS)}", file=sys.stderr)
        return 254
    store: Path = a.store
    store.mkdir(parents=True, exist_ok=True)
    table_path = store / "bug-hunts.json"
    table = json.loads(table_path.read_text()) if table_path.exists() else {}
    for bug in a.bugs or list(HUNTS):
        if bug in table and not a.redo and table[bug].get("runs") == a.runs:
            continue
        h = HUNTS[bug]
        print(f"hunting {bug}: {h.system}, nemesis {','.join(h.nemesis)}, {h.nodes} servers, "
              f"{h.workload}/{h.reads}, up to {a.runs} seeds", file=sys.stderr, flush=True)
        r = hunt(bug, h, store, a.runs, a.seed, a.jobs, a.run_timeout,
                 log=lambda s: print(s, file=sys.stderr, flush=True))
        r["runs"] = a.runs
        if r["found"] is not None:
            run_dir = Path(r["run_dir"])
            kinds = failure_kinds(run_dir)
            hit = matches(h.expect, kinds)
            r["failed"] = kinds
            r["expected"] = hit is not None
            r["caught_by"] = f"{hit[0]}: {hit[1]}" if hit else "; ".join(
                f"{c}: {','.join(k)}" if k else c for c, k in kinds.items())
            r.update(after(run_dir, a.budget, min(a.run_timeout, 60.0), not a.no_shrink, h.expect))
        table[bug] = r
        table_path.write_text(json.dumps(table, indent=1) + "\n")
        print(tabulate([row(r)], tablefmt="plain"), file=sys.stderr, flush=True)
    rows = [row(table[b]) for b in (a.bugs or list(HUNTS)) if b in table]
    print(tabulate(rows, headers=["bug", "caught by", "seeds to 1st failure", "wall", "shrunk faults",
                                  "shrink time", "control (no bug)"], tablefmt="github"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
