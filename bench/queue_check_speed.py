"""Time of the queue (durability) checker on long correct histories.

    python bench/queue_check_speed.py [--events 20000,100000] [--rounds 3]

The histories are tests/test_durability.py's ``_big_history``: independent logs of 4 keys,
8 producers and 8 consumers each, with crashed and failed operations, glued together. The
tests only assert the verdict; the speed is printed here, in CPU seconds of this process
(median of ``--rounds``) beside the wall time and the load average, since a timed unit test
says nothing true on a shared machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from checkers.durability import check_queue  # noqa: E402


def _tests_module():
    spec = importlib.util.spec_from_file_location("test_durability", ROOT / "tests" / "test_durability.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", default="20000,100000", help="history lengths (comma list)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    tests = _tests_module()
    rows = []
    for n in (int(x) for x in args.events.split(",")):
        events = tests._big_history(n)
        cpu, wall = [], []
        for _ in range(args.rounds):
            c0, w0 = time.process_time(), time.perf_counter()
            r = check_queue(events, final_drain=False)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            if r.valid is not True:
                print(f"{n} events: verdict {r.valid}, expected valid", file=sys.stderr)
                return 1
        rows.append((n, statistics.median(cpu), statistics.median(wall), os.getloadavg()[0]))
    print(f"{'events':>8} {'cpu s':>8} {'wall s':>8} {'load':>6}")
    for n, c, w, load in rows:
        print(f"{n:>8} {c:>8.2f} {w:>8.2f} {load:>6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
