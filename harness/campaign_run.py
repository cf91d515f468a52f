"""One run of a campaign, as an executor task: run the test, return its index entry.

:func:`run_one` is what a process pool or a Dask worker calls (``harness.campaign_exec``),
so it is a picklable top-level function, and a crash in one run becomes an index entry
with ``error`` instead of ending the campaign. A spawned worker imports the system's
module first (:func:`_system_module`): a test's toy system lives outside any package.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from typing import Any

from checkers.result import anomaly_names, failure_signature
from harness.config import RunConfig
from harness.runner import run_test


def _system_module(system: str) -> tuple[str, str | None]:
    """The module that registers ``system``, and the folder to import it from if it is
    not inside a package (a test's toy system): a spawned worker must import it too."""
    from harness.system import get_system

    module = type(get_system(system)).__module__
    path = None
    if "." not in module:
        file = sys.modules[module].__file__
        assert file is not None, f"system module {module} has no file"
        path = str(Path(file).resolve().parent)
    return module, path


def run_one(config: RunConfig, run_dir: str, system_module: tuple[str, str | None] | None = None) -> dict[str, Any]:
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
            "wall_s": round(res.wall_s, 4), "behaviours": res.results["coverage"]["behaviours"]}


def _import_system(system: str, module: str, path: str | None) -> None:
    from harness.system import system_names

    if system in system_names():
        return
    if path is not None and path not in sys.path:
        sys.path.insert(0, path)
    importlib.import_module(module)
