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

Targets: 10k ops on 10 keys < 1 s; 100k < 15 s; memory < 1 GiB.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checkers.history import load_history, pair_operations  # noqa: E402
from checkers.linearizable import check  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"


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

    timed = []
    for op in ops:
        timed.append((op["invoke"], 0, op, "invoke", op["arg"]))
        out = op.get("out", op["arg"]) if op["type"] == "ok" else op["arg"]
        timed.append((op["complete"], 1, op, op["type"], out))
    timed.sort(key=lambda t: (t[0], t[1]))
    events = []
    for i, (t, _, op, typ, value) in enumerate(timed):
        events.append({"index": i, "time": int(t * 1e6), "process": op["p"], "type": typ,
                       "f": op["f"], "key": op["key"], "value": value})
    return events


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
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.seed, args.tracemalloc)))
        return

    bench_corpus(args.quiet)
    print()
    print("generated: ops issued (failed cas included); ops: ops checked (fails dropped)")
    print(f"{'generated':>9} {'ops':>7} {'info':>5} {'valid':>6} {'load s':>7} {'pair s':>7} {'check s':>8} {'peak RSS MiB':>13}"
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
        line = (f"{r['generated']:>9} {r['ops']:>7} {r['info']:>5} {str(r['valid']):>6} {r['load_s']:>7.3f} {r['pair_s']:>7.3f}"
                f" {r['check_s']:>8.3f} {r['max_rss_mib']:>13.0f}")
        if args.tracemalloc:
            line += f"  {r['check_peak_mib']:>15.0f}"
        print(line)


if __name__ == "__main__":
    main()
