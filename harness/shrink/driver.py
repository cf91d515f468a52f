"""The shrink driver: load a failing run directory, choose the failure to keep (its
signature, or the pairs ``--keep`` names), run the passes within the budget, and write
the smallest failing run found as a normal run directory with ``shrink.json`` beside it
saying what was reduced. Every smaller failing run found on the way is checkpointed to
the output directory at once (`harness.shrink.checkpoint`), and a shrink of the same run
into the same directory resumes from that checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from checkers.result import anomaly_names, failure_signature
from harness.config import ConfigError
from harness.lock import exclusive
from harness.shrink.checkpoint import resumable, write_checkpoint
from harness.shrink.output import recover, replace_dir, staging_dir
from harness.shrink.passes import Shrinker, sizes

#: default seconds of wall clock for shrinking: a toy run is milliseconds, a 60 s ZAB run
#: about a second, so this allows a few hundred candidates
DEFAULT_BUDGET_S = 300.0


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def shrink_run(run_dir: Path, budget_s: float = DEFAULT_BUDGET_S, out_dir: Path | None = None,
               log: Callable[[str], None] = lambda s: None, jobs: int | None = None,
               run_limit_s: float | None = None,
               keep: Iterable[tuple[str, str | None]] | None = None) -> tuple[Path, Shrinker]:
    """Shrink the failing run in ``run_dir``; write the result; (its directory, the shrinker).

    ``jobs`` worker processes (default: the machine's cores, at most 4); ``run_limit_s``
    bounds one candidate's wall clock (a message storm counts as not failing). ``keep``:
    the (checker, kind) pairs a candidate must show, each one the run shows; kind None
    means every kind of that checker the run shows (default: every pair the run shows)."""
    from harness.store import load_config, load_results, write_run

    t0 = time.monotonic()
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    try:
        results = load_results(run_dir)
        schedule = json.loads((run_dir / "schedule.json").read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{run_dir}: incomplete run directory ({e})") from None
    target = signature = failure_signature(results)
    if not target:
        from harness.summary import _verdict

        raise ConfigError(f"{run_dir} did not fail (verdict {_verdict(results.get('valid'))}): nothing to shrink")
    if keep is not None:
        keep = list(keep)
        chosen = set()
        for c, k in keep:
            pairs = {p for p in target if p[0] == c and (k is None or p[1] == k)}
            if not pairs:
                raise ConfigError(f"--keep {anomaly_names(frozenset([(c, k)]))[0]}: the run fails with "
                                  f"{', '.join(anomaly_names(target))}")
            chosen |= pairs
        if not chosen:
            raise ConfigError("--keep: nothing to keep")
        target = frozenset(chosen)
    try:  # the schedule shrunk is the one the run was given: checked as a config's would be
        config = config.replace(schedule=schedule).validate()
    except ConfigError as e:
        raise ConfigError(f"{run_dir}/schedule.json: {e}") from None
    if out_dir is None:  # beside the run; `harness shrink .` names it from the real directory
        named = run_dir if run_dir.name not in ("", ".", "..") else run_dir.resolve()
        out_dir = named.with_name(named.name + ".shrunk")
    out_dir = Path(out_dir)
    from harness.store import check_writable

    check_writable(out_dir.parent, "shrink output")  # before the work, not after it
    # one process per output directory: two would race to swap their results into it
    with exclusive(out_dir.parent / f".{out_dir.name}.lock", f"shrink output {out_dir}"):
        kept = anomaly_names(target)
        recover(out_dir)  # an earlier shrink killed while publishing its result
        resume = resumable(out_dir, config, kept)

        def checkpoint(res: Any, done: bool = False, where: Path = out_dir) -> None:
            write_checkpoint(where, {
                "from": str(run_dir), "origin": config.to_dict(), "kept": kept, "complete": done,
                "seconds": round(time.monotonic() - t0, 1), "sizes": sizes(res), "config": res.config.to_dict(),
            })

        shrinker = Shrinker(config, target, budget_s - (time.monotonic() - t0), log,
                            jobs=default_jobs() if jobs is None else jobs, run_limit_s=run_limit_s,
                            on_best=checkpoint)
        if resume is not None and resume != config:
            if shrinker.resume(resume):
                log(f"resumed from the checkpoint in {out_dir}: {sizes(shrinker.best)['faults']} faults")
            else:
                log(f"the checkpoint in {out_dir} does not fail the same way with this code: starting afresh")
        best = shrinker.shrink()
        # Everything is written into a staging directory first, then put in place in one
        # step (`harness.shrink.output`): out_dir always holds either the checkpoint so far
        # or the complete result, even if this process is killed meanwhile.
        staging = staging_dir(out_dir)
        try:
            write_run(best.out, best.results, directory=staging)
            (staging / "shrink.json").write_text(json.dumps({
                "from": str(run_dir), "signature": anomaly_names(signature), "kept": anomaly_names(target),
                "candidates": shrinker.candidates,
                "jobs": shrinker.jobs, "seconds": round(time.monotonic() - t0, 1),
                "out_of_budget": shrinker.out_of_budget, "interrupted": shrinker.interrupted,
                "before": sizes(shrinker.first), "after": sizes(best),
                "passes": shrinker.passes,
            }, indent=1) + "\n")
            checkpoint(best, done=True, where=staging)
            replace_dir(staging, out_dir)
        except OSError as e:
            shutil.rmtree(staging, ignore_errors=True)
            # the work is not thrown away: the shrunk config (explicit schedule) is the run
            raise ConfigError(f"cannot write the shrunk run to {out_dir} ({e.strerror or e}); its config, "
                              f"for a file given to `harness repro`'s config.json: "
                              f"{json.dumps(best.config.to_dict(), separators=(',', ':'))}") from None
        return out_dir, shrinker
