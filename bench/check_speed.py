"""Speed and memory of the linearizability checker.

    .venv/bin/python bench/check_speed.py [--quiet] [--sizes 1000,10000,100000] [--seed 1]

1. The Knossos corpus (``CORPUS`` below, beside the repository; skipped when absent):
   per-file load and check times, both formats, and totals.
2. Generated register histories of 1k, 10k and 100k operations: 10 keys, 5-20
   concurrent processes, about 1% info ops, produced by a simulated linearizable
   register (each op takes effect at a random instant inside its interval), so every one
   must be valid. Each size runs in a fresh subprocess so that its peak RSS
   (``resource.getrusage``) is its own; the check's own peak is also measured with
   ``tracemalloc`` in a second, slower pass when ``--tracemalloc`` is given.

3. ``--shapes``: the two shapes of Porcupine's own test histories (Porcupine, in Go, is
   not on these machines; issue 16 gives its times as ratios): ``etcd``, single-register
   cas histories where about 30% of operations are indeterminate (crashed clients, as in
   Jepsen's etcd tests), ``etcd-stale``, the failing ones with the read's value written only
   at the end instead (a read from the future: only the whole search refutes it, where a
   read of a value never written is caught at once), and ``kv``, string key-value
   histories (get/put/append) over 1-50 clients and many keys, partitioned by key. Each shape is a fixed set of seeded
   histories, valid ones and ones with one read corrupted (which must fail); the script
   prints the time to pair and check them (wall clock and the process's CPU time, which
   other load on the machine disturbs less) and the verdicts. ``--trees A,B`` runs the shapes
   against each source tree in turn (``BENCH_TREE=tree``), interleaved round by round, to
   compare code before and after a change in the same minutes. ``--only kv`` checks one
   shape; ``--repeat N`` checks each history N times and counts its least time.
   ``--instructions`` counts instead the instructions (valgrind's cachegrind, no cache
   simulation) of pairing and checking the kv and etcd (ok and bad) shapes in each tree:
   a child that makes and checks a shape's histories minus one that only makes them.
   Other load does not move these counts, so they compare trees on a busy machine, as
   long as every check ends before its time limit (f42b4d1's etcd checks do not: under
   valgrind they run until the limit, so their count depends on the machine's speed).

Targets: 10k ops on 10 keys < 1 s; 100k < 15 s; memory < 1 GiB. Shapes (issue 16):
etcd at most 0.7x Porcupine's time, kv at most 1.0x.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# BENCH_TREE: the source tree to measure (bench_shapes runs other trees in children)
sys.path.insert(0, os.environ.get("BENCH_TREE") or str(ROOT))

from checkers.history import load_history, pair_operations  # noqa: E402
from checkers.linearizable import check  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"


def generate(n_ops: int, seed: int, n_keys: int = 10, info_rate: float = 0.01) -> list[dict]:
    """A valid cas-register history: read/write/cas on ``n_keys`` keys.

    Processes (5-20 at a time) issue operations back to back; each operation takes effect
    at a uniform instant between its invoke and its completion, so the history is
    linearizable by construction. A cas whose expected value is wrong fails; an info op
    takes effect or not (50/50) and retires its process, as in Jepsen.
    """
    rng = random.Random(seed)
    n_procs = rng.randint(5, 20)
    slots = [(rng.random(), s) for s in range(n_procs)]
    heapq.heapify(slots)
    pid = list(range(n_procs))
    next_pid = n_procs
    ops = []
    for _ in range(n_ops):
        free_at, slot = heapq.heappop(slots)
        invoke = free_at + rng.expovariate(4.0)
        complete = invoke + rng.expovariate(1.0)
        at = rng.uniform(invoke, complete)
        key = f"k{rng.randrange(n_keys)}"
        roll = rng.random()
        if roll < 0.5:
            f, arg = "read", None
        elif roll < 0.8:
            f, arg = "write", rng.randrange(5)
        else:
            f, arg = "cas", [rng.randrange(5), rng.randrange(5)]
        info = rng.random() < info_rate
        ops.append({"p": pid[slot], "key": key, "f": f, "arg": arg, "invoke": invoke, "complete": complete,
                    "at": at, "info": info, "happens": (not info) or rng.random() < 0.5})
        if info:
            pid[slot] = next_pid
            next_pid += 1
        heapq.heappush(slots, (complete, slot))

    state = {f"k{k}": 0 for k in range(n_keys)}
    for op in sorted(ops, key=lambda o: o["at"]):
        key, f, arg = op["key"], op["f"], op["arg"]
        op["type"] = "info" if op["info"] else "ok"
        if not op["happens"]:
            continue
        if f == "read":
            op["out"] = state[key]
        elif f == "write":
            state[key] = arg
        elif state[key] == arg[0]:
            state[key] = arg[1]
        elif not op["info"]:
            op["type"] = "fail"
    return _events(ops)


def generate_kv(n_ops: int, seed: int, n_clients: int, n_keys: int, crash_rate: float = 0.0) -> list[dict]:
    """A valid string key-value history (get/put/append), Porcupine's kv test shape.

    ``n_clients`` processes issue operations back to back on ``n_keys`` keys; each takes
    effect at a uniform instant inside its interval, so the history is linearizable by
    construction. A crashed operation (``crash_rate``) takes effect or not and retires its
    process.
    """
    rng = random.Random(seed)
    slots = [(rng.random(), s) for s in range(n_clients)]
    heapq.heapify(slots)
    pid = list(range(n_clients))
    next_pid = n_clients
    ops = []
    for i in range(n_ops):
        free_at, slot = heapq.heappop(slots)
        invoke = free_at + rng.expovariate(4.0)
        complete = invoke + rng.expovariate(1.0)
        roll = rng.random()
        f = "get" if roll < 0.4 else "put" if roll < 0.6 else "append"
        arg = None if f == "get" else f"x {pid[slot]} {i} y"
        info = rng.random() < crash_rate
        ops.append({"p": pid[slot], "key": str(rng.randrange(n_keys)), "f": f, "arg": arg, "invoke": invoke,
                    "complete": complete, "at": rng.uniform(invoke, complete), "info": info,
                    "happens": (not info) or rng.random() < 0.5})
        if info:
            pid[slot] = next_pid
            next_pid += 1
        heapq.heappush(slots, (complete, slot))
    state: dict[str, str] = {}
    for op in sorted(ops, key=lambda o: o["at"]):
        op["type"] = "info" if op["info"] else "ok"
        if not op["happens"]:
            continue
        k = op["key"]
        if op["f"] == "get":
            op["out"] = state.get(k, "")
        elif op["f"] == "put":
            state[k] = op["arg"]
        else:
            state[k] = state.get(k, "") + op["arg"]
    return _events(ops)


def _events(ops: list[dict]) -> list[dict]:
    """The invoke and completion events of ``ops``, in time order, as a history."""
    timed = []
    for op in ops:
        timed.append((op["invoke"], 0, op, "invoke", op["arg"]))
        out = op.get("out", op["arg"]) if op["type"] == "ok" else op["arg"]
        timed.append((op["complete"], 1, op, op["type"], out))
    timed.sort(key=lambda t: (t[0], t[1]))
    return [{"index": i, "time": int(t * 1e6), "process": op["p"], "type": typ, "f": op["f"], "key": op["key"],
             "value": value} for i, (t, _, op, typ, value) in enumerate(timed)]


def corrupt(events: list[dict], seed: int) -> list[dict]:
    """The history with one ok read's value changed to one no write ever made: not
    linearizable."""
    rng = random.Random(seed)
    reads = [i for i, e in enumerate(events) if e["type"] == "ok" and e["f"] in ("read", "get")]
    out = [dict(e) for e in events]
    i = reads[len(reads) // 2 + rng.randrange(max(1, len(reads) // 4))]
    out[i]["value"] = 99 if out[i]["f"] == "read" else "never written"
    return out


def corrupt_stale(events: list[dict], seed: int) -> list[dict]:
    """The history with one ok read's value changed to 5, which a write added at the end
    makes: a read from the future, not linearizable, but every op could run on its own,
    so only the whole search refutes it (a read of a value never written is caught at
    once)."""
    out = corrupt(events, seed)
    for e in out:
        if e["value"] == 99:
            e["value"] = 5
    last, p = out[-1], 1 + max(e["process"] for e in out)
    for typ in ("invoke", "ok"):
        out.append({"index": len(out), "time": last["time"] + 1, "process": p, "type": typ, "f": "write",
                    "key": last["key"], "value": 5})
    return out


#: shape -> list of (label, model, initial, events factory, expected verdict)
def shapes() -> dict[str, list[tuple[str, str, Any, Callable[[], list[dict]], bool]]]:
    etcd = []
    for seed in range(1, 21):
        n = 100 + 20 * (seed % 10)  # 100-280 ops
        etcd.append((f"etcd-{seed:02d} {n} ops", "cas-register", 0,
                     lambda n=n, seed=seed: generate(n, seed, n_keys=1, info_rate=0.3), True))
    for seed in range(1, 6):
        etcd.append((f"etcd-bad-{seed:02d} 200 ops", "cas-register", 0,
                     lambda seed=seed: corrupt(generate(200, 100 + seed, n_keys=1, info_rate=0.3), seed), False))
    stale = []
    for seed in range(1, 6):
        stale.append((f"etcd-stale-{seed:02d} 200 ops", "cas-register", 0,
                      lambda seed=seed: corrupt_stale(generate(200, 100 + seed, n_keys=1, info_rate=0.3), seed), False))
    kv = []
    for clients in (1, 10, 50):
        for bad in (False, True):
            n = 5000 if clients > 1 else 2000
            kv.append((f"kv-c{clients:02d}-{'bad' if bad else 'ok'} {n} ops", "kv", None,
                       lambda n=n, c=clients, bad=bad: (corrupt if bad else lambda e, s: e)(
                           generate_kv(n, 7 + c, c, n_keys=max(10, 2 * c), crash_rate=0.01), c),
                       not bad))
    return {"etcd": etcd, "etcd-stale": stale, "kv": kv}


#: seconds of search per shape history: a crashed-write-heavy register history can take
#: exponential time (Porcupine's too); past this it counts as unknown
SHAPE_LIMIT_S = 5.0


def shapes_child(names: list[str], make_only: bool = False, repeat: int = 1) -> None:
    """Check every history of the named shapes here; one JSON line of times and verdicts,
    per shape and group (``ok``: must pass, ``bad``: must fail). ``make_only``: make the
    histories, check none (what `bench_instructions` subtracts). ``repeat``: check each
    history that many times and count the least time and CPU of them (timeit's rule: the
    other runs are the same work slowed by something else on the machine)."""
    out = {}
    for name in names:
        for _label, model, initial, make, expect in shapes()[name]:
            events = make()
            if make_only:
                continue
            took = cpu = math.inf
            for _ in range(repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                result = check(events, model, initial=initial, time_limit=SHAPE_LIMIT_S)
                took, cpu = min(took, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
            group = name if name == "etcd-stale" else f"{name}-{'ok' if expect else 'bad'}"
            g = out.setdefault(group, {"histories": 0, "ops": 0, "agree": 0, "unknown": 0, "check_s": 0.0,
                                       "cpu_s": 0.0})
            g["histories"] += 1
            g["ops"] += result.ops
            g["agree"] += result.valid is expect
            g["unknown"] += result.valid == "unknown"
            g["check_s"] += took
            g["cpu_s"] += cpu
    out["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def bench_shapes(trees: list[str], rounds: int, names: str = "etcd,etcd-stale,kv", repeat: int = 1) -> None:
    print("shapes of Porcupine's test histories: etcd (1 key, ~30% crashed ops; 20 must pass, 5 must fail: "
          "a read of a value never written; etcd-stale: 5 with a read from the future, which must fail too, "
          "but only the whole search tells), "
          "kv (get/put/append, 1/10/50 clients; 3 must pass, 3 must fail); time = pair + check, "
          f"at most {SHAPE_LIMIT_S:g} s per history (past it: unknown)")
    for r in range(1, rounds + 1):
        for tree in trees:
            env = {**os.environ, "BENCH_TREE": str(Path(tree).resolve()), "PYTHONHASHSEED": "0"}
            proc = subprocess.run([sys.executable, __file__, "--shapes-child", names, "--repeat", str(repeat)],
                                  capture_output=True, text=True, env=env)
            if proc.returncode:
                print(proc.stderr)
                raise SystemExit(proc.returncode)
            d = json.loads(proc.stdout)
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"round {r} tree {tree}: " + "; ".join(
                f"{k} {d[k]['check_s']:.3f} s, cpu {d[k]['cpu_s']:.3f} s ({d[k]['ops']} ops, "
                + f"agree {d[k]['agree']}/{d[k]['histories']}"
                + f", {d[k]['unknown']} unknown)"
                for k in ("etcd-ok", "etcd-bad", "etcd-stale", "kv-ok", "kv-bad") if k in d) + f"; peak RSS "
                f"{d['max_rss_mib']:.0f} MiB; load {load}")


#: shapes whose instructions `bench_instructions` counts (etcd-stale takes seconds, so
#: minutes under valgrind)
INSTRUCTION_SHAPES = ("kv", "etcd")


def bench_instructions(trees: list[str]) -> None:
    """Instructions of pairing and checking each of `INSTRUCTION_SHAPES` in each tree."""
    import shutil

    from cachegrind import instructions

    if shutil.which("valgrind") is None:
        print("instructions: valgrind is not installed; skipped")
        return
    print("instructions (cachegrind) of pairing and checking each shape: a child that makes and checks its "
          "histories minus one that only makes them")
    first: dict[str, int] = {}
    for tree in trees:
        env = {**os.environ, "BENCH_TREE": str(Path(tree).resolve()), "PYTHONHASHSEED": "0"}
        line = []
        for name in INSTRUCTION_SHAPES:
            counts = {}
            for mode in ("check", "make"):
                args = [__file__, "--shapes-child", name] + (["--make-only"] if mode == "make" else [])
                counts[mode] = instructions(args, env, tree)
            n = counts["check"] - counts["make"]
            first.setdefault(name, n)
            line.append(f"{name} {n / 1e6:,.0f} M ({n / first[name]:.3f} of the first tree's)")
        print(f"  {tree}: " + "; ".join(line))


def bench_corpus(quiet: bool) -> None:
    manifest = CORPUS / "manifest.json"
    if not manifest.exists():
        print(f"corpus not found at {CORPUS}; skipped")
        return
    entries = json.loads(manifest.read_text())["histories"]
    for fmt, label in (("file", "jsonl"), ("edn", "edn")):
        total_load = total_check = 0.0
        agree = 0
        for entry in entries:
            t0 = time.perf_counter()
            events = load_history(CORPUS / entry[fmt])
            t1 = time.perf_counter()
            result = check(events, entry["model"], initial=entry["init"])
            t2 = time.perf_counter()
            total_load += t1 - t0
            total_check += t2 - t1
            agree += result.valid == entry["linearizable"]
            if not quiet:
                print(f"  {entry[fmt]:<62} ops {entry['ops_not_failed']:>4}  load {1e3 * (t1 - t0):7.1f} ms"
                      f"  check {1e3 * (t2 - t1):7.1f} ms  {result.valid}")
        print(f"corpus {label}: {len(entries)} histories, agree {agree}/{len(entries)}, "
              f"load {total_load:.2f} s, check {total_check:.2f} s")


def one_size(n_ops: int, seed: int, use_tracemalloc: bool) -> dict:
    t0 = time.perf_counter()
    events = generate(n_ops, seed)
    gen_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        t0 = time.perf_counter()
        loaded = load_history(path)
        load_s = time.perf_counter() - t0
    del loaded
    t0 = time.perf_counter()
    ops = pair_operations(events)
    pair_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = check(ops, "cas-register", initial=0)
    check_s = time.perf_counter() - t0
    out = {
        "generated": n_ops,
        "ops": len(ops),
        "info": sum(o.type == "info" for o in ops),
        "valid": result.valid,
        "gen_s": gen_s,
        "load_s": load_s,
        "pair_s": pair_s,
        "check_s": check_s,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if use_tracemalloc:
        import tracemalloc

        tracemalloc.start()
        check(ops, "cas-register", initial=0)
        out["check_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiet", action="store_true", help="corpus totals only")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tracemalloc", action="store_true", help="also measure the check's peak allocations")
    parser.add_argument("--shapes", action="store_true", help="only the etcd and kv shapes (issue 16)")
    parser.add_argument("--trees", default=".", help="comma list of source trees for --shapes (default: this one)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --shapes")
    parser.add_argument("--only", default="etcd,etcd-stale,kv", help="the shapes --shapes checks (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="check each shape history this many times, counting the least time (default 1)")
    parser.add_argument("--instructions", action="store_true",
                        help="count the instructions of the kv and etcd shapes in each of --trees (needs valgrind)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shapes-child", help=argparse.SUPPRESS)
    parser.add_argument("--make-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.shapes_child:
        shapes_child(args.shapes_child.split(","), args.make_only, args.repeat)
        return
    if args.instructions:
        bench_instructions([t for t in args.trees.split(",") if t])
        return
    if args.shapes:
        bench_shapes([t for t in args.trees.split(",") if t], args.rounds, args.only, args.repeat)
        return
    if args.one:
        print(json.dumps(one_size(args.one, args.seed, args.tracemalloc)))
        return

    bench_corpus(args.quiet)
    print()
    print("generated: ops issued (failed cas included); ops: ops checked (fails dropped)")
    print(f"{'generated':>9} {'ops':>7} {'info':>5} {'valid':>6} {'load s':>7} {'pair s':>7} {'check s':>8} "
          f"{'peak RSS MiB':>13}"
          + ("  check peak MiB" if args.tracemalloc else ""))
    for size in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--one", str(size), "--seed", str(args.seed)]
        if args.tracemalloc:
            cmd.append("--tracemalloc")
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if proc.returncode:
            print(proc.stderr)
            raise SystemExit(proc.returncode)
        r = json.loads(proc.stdout)
        line = (f"{r['generated']:>9} {r['ops']:>7} {r['info']:>5} {r['valid']!s:>6} {r['load_s']:>7.3f} "
                f"{r['pair_s']:>7.3f}"
                f" {r['check_s']:>8.3f} {r['max_rss_mib']:>13.0f}")
        if args.tracemalloc:
            line += f"  {r['check_peak_mib']:>15.0f}"
        print(line)


if __name__ == "__main__":
    main()
