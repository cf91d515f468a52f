"""``harness report DIR``: (re)build the HTML report of a run or of a campaign.

DIR is a run directory (it has results.json): writes DIR/report.html and the PNG plots.
DIR is a campaign directory (it has campaign.json): writes DIR/index.html and
anomalies.png, and first the reports of the runs chosen by ``--runs`` (failing ones by
default) so the index links to them. Anything else is a usage error (exit 254).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.config import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, metavar="DIR",
                   help="a run directory (has results.json) or a campaign directory (has campaign.json)")
    # None marks it left out: a run directory refuses it, a campaign takes "failing"
    p.add_argument("--runs", choices=("none", "failing", "all"), default=None,
                   help="for a campaign: also rebuild the reports of these runs (default failing: "
                        "invalid, unknown and crashed runs)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots (faster)")


def run(args: argparse.Namespace) -> int:
    d: Path = args.dir
    plots = not args.no_plots
    if not d.exists():
        raise ConfigError(f"no such directory: {d}")
    if not d.is_dir():
        raise ConfigError(f"{d} is not a directory (give a run or a campaign directory)")
    from harness.store import check_writable

    check_writable(d, "report directory")
    if (d / "results.json").exists():
        from reports.run_report import write_run_report

        if args.runs is not None:  # silently ignored before
            raise ConfigError(f"--runs is for a campaign directory; {d} is a run directory")

        if (d / "config.json").exists():
            from harness.store import load_config

            load_config(d)  # the one validation every config goes through: bad input is 254

        print(write_run_report(d, plots=plots))
        return 0
    if (d / "campaign.json").exists():
        from reports.campaign_report import write_campaign_report

        print(write_campaign_report(d, run_reports=args.runs or "failing", plots=plots))
        return 0
    raise ConfigError(f"{d} is neither a run directory (no results.json) nor a campaign directory "
                      f"(no campaign.json)")
