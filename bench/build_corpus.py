"""Build the seed corpora a guided campaign starts from (``harness/corpus/SYSTEM-WORKLOAD.json``).

    python bench/build_corpus.py                       # zab register, zab election, kafka queue
    python bench/build_corpus.py --targets kafka-queue --seeds 1001,1002 --runs 100

For each target, the runs of default explorative campaigns (``--nemesis`` left out, no
bug planted) of the given campaign seeds are distilled by coverage
(``harness.guided_corpus.distil``: greedy, most rarity-weighted behaviours not yet covered
first) to ``--size`` entries. Only the bug-free system runs here, and nothing looks at any
planted bug: the corpus is chosen by the behaviours it reaches, not by what it finds.
The default seeds (1001-1004) are disjoint from the campaign seeds ``bench/search.py``
measures (1-5).

Prints, per target, the runs made, the behaviours they reached, and those the corpus keeps.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.campaign import Campaign  # noqa: E402
from harness.config import RunConfig  # noqa: E402
from harness.guided_corpus import CORPUS_SIZE, SHIPPED, distil, write  # noqa: E402


def run(config: RunConfig) -> tuple[Any, list[str]]:
    from harness.runner import run_test

    res = run_test(config)
    return res.valid, res.results["coverage"]["behaviours"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", default="zab-register,zab-election,kafka-queue")
    p.add_argument("--seeds", default="1001,1002,1003,1004", help="campaign seeds (default %(default)s)")
    p.add_argument("--runs", type=int, default=100, help="runs per campaign seed")
    p.add_argument("--time-limit", type=float, default=30.0)
    p.add_argument("--size", type=int, default=CORPUS_SIZE)
    p.add_argument("--out", default=str(SHIPPED))
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for target in args.targets.split(","):
            system, workload = target.split("-", 1)
            base = RunConfig(system=system, workload=workload, seed=0, time_limit=args.time_limit)
            configs = [(Campaign("corpus", Path("/nonexistent"), s, args.runs, True, base, ()).config_for(i))
                       for s in seeds for i in range(args.runs)]
            results = list(pool.map(run, configs, chunksize=4))
            bad = [c.seed for c, (valid, _) in zip(configs, results) if valid is not True]
            if bad:
                print(f"{target}: {len(bad)} runs not valid (seeds {bad[:5]}); left out", file=sys.stderr)
            runs = [(c, found) for c, (valid, found) in zip(configs, results) if valid is True]
            kept = distil(runs, args.size)
            note = (f"bench/build_corpus.py: {len(configs)} runs of bug-free explorative campaigns, seeds "
                    f"{args.seeds}, {args.runs} runs each, {args.time_limit:g} s, distilled by coverage to {len(kept)}")
            write(out / f"{target}.json", system, workload, kept, note)
            every = {b for _, found in runs for b in found}
            mine = {b for _, found in kept for b in found}
            print(f"{target}: {len(configs)} runs, {len(every)} behaviours; corpus of {len(kept)} "
                  f"reaches {len(mine)} ({(out / f'{target}.json').stat().st_size} bytes)", flush=True)
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
