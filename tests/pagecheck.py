"""Comparing a run's page with one rebuilt from its files: what the tests of the page's
faster paths (prefork, plots drawn early) assert."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from reports.run_report import write_run_report


def page_text(path: Path) -> str:
    """The page without what differs between two writes of it (the time it was made)."""
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w*", "TIME", path.read_text())


def assert_same_as_rebuilt(run_dir: Path, page: Path, scratch: Path) -> None:
    """``page`` (of ``run_dir``) and its PNGs are what `write_run_report` makes from a copy
    of the run's files in ``scratch``, which must not exist yet."""
    shutil.copytree(run_dir, scratch, ignore=shutil.ignore_patterns("*.png", "report.html"))
    plain = write_run_report(scratch)
    assert page_text(page) == page_text(plain).replace(str(scratch), str(run_dir))
    pngs = sorted(p.name for p in run_dir.glob("*.png"))
    assert pngs and pngs == sorted(p.name for p in scratch.glob("*.png"))
    for name in pngs:
        assert (run_dir / name).read_bytes() == (scratch / name).read_bytes(), name
