"""Wall time of the standard run as a user runs it, and the simulator against a bare loop.

Standard run (issue 16): ``harness run --system zab --workload register --nemesis
partition,kill,clock --seed 1 --time-limit 60`` (5 servers, 10 clients), typed in a shell.

1. **From the shell**: that command as a fresh process, end to end (interpreter start,
   imports, simulate, check, write the run directory, page and plots), and again with
   ``--no-report``. Targets: median of ``--rounds`` (5) under 1.0 s with the page, under
   0.6 s without. Each line gives the load average beside the number: other processes
   on the machine move these times a lot.
2. **Simulator**: events per second of the standard run's simulation (simulate only, in
   one process, seeds 1..``--sim-seeds``), printed beside a bare Python heap loop on the
   same machine in the same process, and the ratio. Target: at least 25%. The bare loop
   is the simulator's loop with nodes, network and disks taken out: a heap of 64
   seven-field event tuples; each step pops the earliest, sets ``now``, counts it and
   pushes a successor through a push method that numbers it (``seq``), as the
   simulator's ``_push`` does. (The same loop with the push written inline runs about
   twice as fast; see ``bare_loop``.) Both are timed in CPU seconds of the process
   (``time.process_time``): on a shared machine wall time mostly measures the neighbours.

``--trees A,B`` measures each source tree in turn, interleaved round by round (the shell
runs with ``PYTHONPATH=tree``, the simulator in a child with ``BENCH_TREE=tree``), so code
before and after a change is compared in the same minutes; e.g. an unpacked
``git archive`` of the old commit.

``--instructions`` adds 3.: the standard run under valgrind's cachegrind, instructions per
process (the harness; the processes it forks, each without what it inherited) and their
sum: a count the machine's load does not move, for comparing trees on a busy machine.

``--sim-instructions`` adds 4.: instructions (cachegrind) of the standard run's
simulation alone, seed 1, in one process: a child that simulates a short warm-up run
(imports) and then seed 1, minus a child that simulates only the warm-up. For comparing
simulator changes on a busy machine (hash seed fixed, so dict orders do not move it).

``--in-process SYSTEMS`` is the older measurement: ``run_test`` in this process
(simulate + check, no files) for ``zab``, ``kafka`` (3 ZooKeeper servers, 5 brokers, 3
partitions, queue workload; target 2 s) or ``toy``.

Usage::

    python bench/run_speed.py                           # shell runs and simulator, this tree
    python bench/run_speed.py --trees /tmp/old,.        # before/after, interleaved
    python bench/run_speed.py --in-process zab,kafka --seeds 5
    python bench/run_speed.py --trees /tmp/old,. --skip shell,sim --instructions
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("BENCH_TREE") or str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))

STANDARD_CMD = ["run", "--system", "zab", "--workload", "register", "--nemesis", "partition,kill,clock",
                "--seed", "1", "--time-limit", "60"]
TARGET_PAGE_S = 1.0
TARGET_NO_PAGE_S = 0.6
TARGET_RATIO = 0.25

#: system -> (workload, servers, keys, description, target seconds), for --in-process
STANDARD = {
    "zab": ("register", 5, 3, "5 ZAB servers, register workload", 1.0),
    "kafka": ("queue", 5, 3, "3 ZooKeeper servers, 5 brokers, 3 partitions, queue workload", 2.0),
    "toy": ("register", 5, 3, "5 toy servers, register workload", 1.0),
}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------ 1. from the shell


def harness_exe() -> list[str]:
    exe = Path(sys.executable).with_name("harness")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"]


def shell_run(tree: str, page: bool, store: Path) -> tuple[float, float]:
    """Wall seconds of the standard run as a fresh ``harness`` process, and its CPU
    seconds (user + system, its children included: the report process)."""
    import resource

    env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
    cmd = harness_exe() + STANDARD_CMD + ["--store", str(store)] + ([] if page else ["--no-report"])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=store.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return wall, cpu


def compile_tree(tree: str) -> None:
    """Byte-compile ``tree`` as an install or a first run leaves it (``__pycache__``), so a
    tree unpacked for the comparison, or an environment with PYTHONDONTWRITEBYTECODE set,
    does not make every measured run compile the harness's sources (~0.1 s) again."""
    packages = [str(p) for name in ("harness", "checkers", "reports", "systems", "workloads")
                if (p := Path(tree).resolve() / name).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *packages],
                   stdout=subprocess.DEVNULL, check=False)


def bench_shell(trees: list[str], rounds: int) -> None:
    print(f"1. from the shell: harness {' '.join(STANDARD_CMD)} (fresh process; with the page and plots, "
          f"and with --no-report; sources byte-compiled first)")
    for tree in trees:
        compile_tree(tree)
    walls: dict[tuple[str, bool], list[float]] = {}
    cpus: dict[tuple[str, bool], list[float]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="run-speed-"))
    try:
        for r in range(1, rounds + 1):
            for tree in trees:
                for page in (True, False):
                    store = tmp / f"s{r}-{len(walls)}"
                    wall, cpu = shell_run(tree, page, store)
                    shutil.rmtree(store, ignore_errors=True)
                    walls.setdefault((tree, page), []).append(wall)
                    cpus.setdefault((tree, page), []).append(cpu)
                    print(f"  round {r} {tree}: {'with page' if page else 'no page  '} {wall:.3f} s wall, "
                          f"{cpu:.3f} s CPU   "
                          f"(load {load()})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for tree in trees:
        for page in (True, False):
            w = walls[(tree, page)]
            target = TARGET_PAGE_S if page else TARGET_NO_PAGE_S
            med = statistics.median(w)
            print(f"  {tree}: {'with page and plots' if page else 'without the page  '}: median {med:.3f} s of "
                  f"{len(w)} (min {min(w):.3f}, max {max(w):.3f}), "
                  f"CPU median {statistics.median(cpus[(tree, page)]):.3f} s; "
                  f"target < {target:g} s: "
                  f"{'met' if med < target else 'NOT MET'}")


#: ``harness`` whose process leaves at its N-th ``os.fork`` (N: the first argument): run
#: under cachegrind, its count is what a process forked there inherited in its own count
_UNTIL_FORK = ("import os, sys\n"
               "n, calls, fork = int(sys.argv.pop(1)), [], os.fork\n"
               "def until(): calls.append(1); return os._exit(0) if len(calls) == n else fork()\n"
               "os.fork = until\n"
               "from harness.cli import main\n"
               "sys.exit(main(sys.argv[1:]))\n")


def _cachegrind(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[int, dict[int, int]]:
    """Instructions per process of ``cmd`` under cachegrind: (its pid, pid -> count).
    ``cwd``: away from any source tree (``python -c`` puts it first on sys.path)."""
    import re

    proc = subprocess.Popen(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
                            + cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate()
    found = re.findall(r"==(\d+)== I\s+refs:\s+([\d,]+)", err)
    return proc.pid, {int(pid): int(n.replace(",", "")) for pid, n in found}


def bench_instructions(trees: list[str]) -> None:
    """Instructions (valgrind's cachegrind, no cache simulation) of the standard run per
    process: the harness, and the processes it forks (with the page its report process;
    the writer of the run's data files), and their sum. Unlike seconds, these do not move
    with the machine's load. Valgrind counts a forked process from its parent's start, so
    each is measured again with the harness leaving at that fork, and the difference is
    the forked process's own count. The report process's import of matplotlib overlaps
    the simulation, its page work follows it."""
    if shutil.which("valgrind") is None:
        print("3. instructions: valgrind is not installed; skipped")
        return
    print("3. instructions of the standard run (cachegrind; REPORT_JOBS=1, so the page is one process; "
          "HARNESS_WRITE_ASIDE=1, so the data files are written beside the checkers whatever the load; "
          "sources byte-compiled first; a forked process's own count, without what it inherited)")
    for tree in trees:
        compile_tree(tree)
    tmp = Path(tempfile.mkdtemp(prefix="run-speed-ir-"))
    try:
        for tree in trees:
            for page in (False, True):
                env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve()), "REPORT_JOBS": "1",
                       "HARNESS_WRITE_ASIDE": "1"}
                args = STANDARD_CMD + ([] if page else ["--no-report"])
                store = tmp / f"s{len(os.listdir(tmp))}"
                pid, counts = _cachegrind(harness_exe() + args + ["--store", str(store)], env, tmp)
                main = counts.pop(pid, 0)
                own = []
                for n, (_, count) in enumerate(sorted(counts.items()), 1):  # pids in fork order
                    store = tmp / f"s{len(os.listdir(tmp))}"
                    at_pid, at = _cachegrind([sys.executable, "-c", _UNTIL_FORK, str(n)] + args
                                             + ["--store", str(store)], env, tmp)
                    own.append(count - at.get(at_pid, 0))
                forked = ", ".join(f"{n / 1e9:.3f} G" for n in own)
                print(f"  {tree}: {'with page' if page else 'no page  '} harness {main / 1e9:.3f} G"
                      + (f", forked {forked}" if forked else "") + f"; total {(main + sum(own)) / 1e9:.3f} G")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------- 2. the simulator


class _BareLoop:
    """The simulator's event loop with everything but the heap taken out."""

    def __init__(self) -> None:
        self._heap: list[tuple] = []
        self._seq = 0
        self.now = 0
        self.events = 0

    def _push(self, t: int, kind: int, a=None, b=None, c=None, d=None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, a, b, c, d))

    def run(self, n: int) -> None:
        heap = self._heap
        pop = heapq.heappop
        while heap and self.events < n:
            t, _, kind, a, b, c, d = pop(heap)
            self.now = t
            self.events += 1
            self._push(t + 300_000 + (self._seq * 7919) % 3_000_000, kind, a, b, c, d)


def bare_loop(n: int = 200_000, inline: bool = False) -> float:
    """Events per second of the bare loop (``inline``: push written out, no method)."""
    loop = _BareLoop()
    for i in range(64):
        loop._push(i * 1000, 0, "n1", 1, ("c0", None), None)
    t0 = time.process_time()
    if inline:
        heap, pop, push = loop._heap, heapq.heappop, heapq.heappush
        seq = loop._seq
        for _ in range(n):
            t, _, kind, a, b, c, d = pop(heap)
            seq += 1
            push(heap, (t + 300_000 + (seq * 7919) % 3_000_000, seq, kind, a, b, c, d))
    else:
        loop.run(n)
    return n / (time.process_time() - t0)


def sim_child(seeds: int) -> None:
    """In this process: bare loop and simulation alternately; one JSON line."""
    from harness.config import RunConfig
    from harness.runner import simulate

    bare, inline, sim = [], [], []
    for seed in range(1, seeds + 1):
        bare.append(bare_loop())
        inline.append(bare_loop(inline=True))
        cfg = RunConfig(system="zab", workload="register", nodes=5, clients=10, keys=3, time_limit=60, seed=seed,
                        nemesis=("partition", "kill", "clock"))
        t0 = time.process_time()
        out = simulate(cfg)
        sim.append(out.stats["events"] / (time.process_time() - t0))
    print(json.dumps({"bare": statistics.median(bare), "inline": statistics.median(inline),
                      "sim": statistics.median(sim)}))


def bench_sim(trees: list[str], rounds: int, seeds: int) -> None:
    print(f"2. simulator: events/s of the standard zab run's simulation (median of seeds 1..{seeds}) beside a bare "
          f"heap loop in the same process; target >= {TARGET_RATIO:.0%}")
    ratios: dict[str, list[float]] = {}
    for r in range(1, rounds + 1):
        for tree in trees:
            env = {**os.environ, "BENCH_TREE": str(Path(tree).resolve())}
            proc = subprocess.run([sys.executable, __file__, "--sim-child", str(seeds)], env=env,
                                  capture_output=True, text=True)
            if proc.returncode:
                raise SystemExit(proc.stderr)
            d = json.loads(proc.stdout)
            ratio = d["sim"] / d["bare"]
            ratios.setdefault(tree, []).append(ratio)
            print(f"  round {r} {tree}: simulator {d['sim']:,.0f} events/s, bare loop {d['bare']:,.0f}/s "
                  f"(inline push {d['inline']:,.0f}/s): {ratio:.1%} ({d['sim'] / d['inline']:.1%} of inline)"
                  f"   (load {load()})")
    for tree in trees:
        med = statistics.median(ratios[tree])
        print(f"  {tree}: median ratio {med:.1%}; target >= {TARGET_RATIO:.0%}: "
              f"{'met' if med >= TARGET_RATIO else 'NOT MET'}")


def _standard_config(seed: int, time_limit: float = 60):
    from harness.config import RunConfig

    return RunConfig(system="zab", workload="register", nodes=5, clients=10, keys=3, time_limit=time_limit,
                     seed=seed, nemesis=("partition", "kill", "clock"))


def sim_ir_child(mode: str) -> None:
    """A short run first (every import, outside the difference), then seed 1 if asked."""
    from harness.runner import simulate

    simulate(_standard_config(9, 1))
    if mode == "sim":
        simulate(_standard_config(1))


def bench_sim_instructions(trees: list[str]) -> None:
    if shutil.which("valgrind") is None:
        print("4. simulation instructions: valgrind is not installed; skipped")
        return
    from cachegrind import instructions

    print("4. instructions of the standard run's simulation, seed 1 (cachegrind; a child with the simulation "
          "minus one without)")
    for tree in trees:
        compile_tree(tree)
        env = {**os.environ, "BENCH_TREE": str(Path(tree).resolve()), "PYTHONHASHSEED": "0"}
        counts = {}
        for mode in ("sim", "warm-up"):
            counts[mode] = instructions([__file__, "--sim-ir-child", mode], env, tree)
        print(f"  {tree}: {(counts['sim'] - counts['warm-up']) / 1e9:.3f} G instructions")


# ------------------------------------------------------------------ the older bench


def bench_in_process(system: str, seeds: int, time_limit: float, clients: int, settings: dict) -> float:
    from harness.config import RunConfig
    from harness.runner import run_test

    workload, nodes, keys, desc, target = STANDARD[system]
    if system == "toy":
        import toysystem  # noqa: F401
    walls = []
    for seed in range(1, seeds + 1):
        cfg = RunConfig(system=system, workload=workload, nodes=nodes, clients=clients, keys=keys,
                        time_limit=time_limit, seed=seed, nemesis=("partition", "kill", "clock"),
                        settings=settings)
        t0 = time.perf_counter()
        res = run_test(cfg)
        wall = time.perf_counter() - t0
        walls.append(wall)
        s = res.results["stats"]
        print(f"{system} seed {seed}: {wall:.3f} s wall (simulate {s['wall_simulate_s']:.3f}, "
              f"check {s['wall_check_s']:.3f}), {s['events']} events, "
              f"{s['events'] / s['wall_simulate_s']:.0f} events/s, {s['operations']} ops, valid={res.valid}"
              f"   (load {load()})")
    med = statistics.median(walls)
    print(f"standard {system} run ({desc}, {clients} clients, {time_limit:g} s simulated): median {med:.3f} s "
          f"wall, max {max(walls):.3f} s; target < {target:g} s: {'met' if med < target else 'NOT MET'}")
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trees", default=str(ROOT), help="comma list of source trees (default: this one)")
    ap.add_argument("--rounds", type=int, default=5, help="shell runs per tree and mode (default %(default)s)")
    ap.add_argument("--sim-rounds", type=int, default=3, help="simulator measurements per tree (default %(default)s)")
    ap.add_argument("--sim-seeds", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: shell, sim")
    ap.add_argument("--instructions", action="store_true",
                    help="also count the standard run's instructions per process (needs valgrind; slow)")
    ap.add_argument("--sim-instructions", action="store_true",
                    help="also count the instructions of the seed-1 simulation alone (needs valgrind)")
    ap.add_argument("--in-process", metavar="SYSTEMS", help="comma list of zab, kafka, toy: the older in-process bench")
    ap.add_argument("--seeds", type=int, default=5, help="--in-process: seeds per system")
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                    help="--in-process: system setting, e.g. zookeeper=mini for Kafka (repeatable)")
    ap.add_argument("--sim-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--sim-ir-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sim_child:
        sim_child(args.sim_child)
        return
    if args.sim_ir_child:
        sim_ir_child(args.sim_ir_child)
        return
    if args.in_process:
        settings = {}
        for item in args.settings:
            k, _, v = item.partition("=")
            try:
                settings[k] = json.loads(v)
            except ValueError:
                settings[k] = v
        systems = [s for s in args.in_process.split(",") if s]
        unknown = [s for s in systems if s not in STANDARD]
        if unknown:
            sys.exit(f"unknown system(s) {', '.join(unknown)}; known: {', '.join(STANDARD)}")
        for system in systems:
            bench_in_process(system, args.seeds, args.time_limit, args.clients, settings)
        return
    trees = [t for t in args.trees.split(",") if t]
    skip = set(args.skip.split(","))
    print(f"{os.cpu_count()} CPUs; load average {load()}")
    if "shell" not in skip:
        bench_shell(trees, args.rounds)
    if "sim" not in skip:
        bench_sim(trees, args.sim_rounds, args.sim_seeds)
    if args.instructions:
        bench_instructions(trees)
    if args.sim_instructions:
        bench_sim_instructions(trees)


if __name__ == "__main__":
    main()
