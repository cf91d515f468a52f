"""A report process forked before the run, so the page's imports overlap the simulation.

``harness run`` spends about as long importing matplotlib and Jinja2 for the page (0.4 s)
as simulating the standard run; on a machine with a second CPU both can happen at once.
`ReportWorker.start()` forks a child that imports the report modules (and compiles the
page template) while the parent simulates and checks. `ReportWorker.data(tmp)` (the
runner's ``on_data``) hands it the run directory while it is still being written, with
every file but results.json: the child reads them and draws the plots that need no
results while the parent checks (``reports.plots.draw_plots``). `ReportWorker.finish(run_dir)`
then hands it the finished directory and waits while it writes the page and plots
exactly as `reports.run_report.write_run_report` does (it is that function, given the
plots drawn so far). If the child cannot be started or fails, ``finish`` writes the
report in this process, so an error surfaces as it would without the child.

The child is tracked by its pid: it dies with the harness (``PR_SET_PDEATHSIG``, also
on SIGKILL), and `close` kills and reaps it when the run ends without a report (an
error, Ctrl-C). Nothing of the simulation runs in the child, so the run stays
deterministic; the report it writes is the one this process would write.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any


def worth_forking() -> bool:
    """Fork only where it can pay: ``fork`` exists, no other thread runs, more than one
    CPU. ``REPORT_PREFORK=0`` turns it off, ``=1`` on."""
    import threading

    forced = os.environ.get("REPORT_PREFORK", "").strip()
    if forced == "0" or not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    return forced == "1" or (os.cpu_count() or 1) > 1


class ReportWorker:
    """The forked report process: ``start()``, then ``finish(run_dir)`` or ``close()``."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self._to_child: int | None = None
        self._from_child: int | None = None

    @classmethod
    def start(cls) -> ReportWorker:
        w = cls()
        if worth_forking():
            w._fork()
        return w

    def _fork(self) -> None:
        parent = os.getpid()
        try:
            r1, w1 = os.pipe()  # parent -> child: the run directory
            r2, w2 = os.pipe()  # child -> parent: "ok" when the report is written
        except OSError:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError:
            for fd in (r1, w1, r2, w2):
                os.close(fd)
            return
        if pid == 0:
            code = 1
            try:
                os.close(w1)
                os.close(r2)
                from harness.parentdeath import die_with_parent

                die_with_parent(parent)
                code = _child(r1, w2)
            except BaseException:  # noqa: BLE001 - the parent writes the report itself
                pass
            finally:
                os._exit(code)
        os.close(r1)
        os.close(w2)
        self.pid, self._to_child, self._from_child = pid, w1, r2

    def data(self, tmp: Path | str) -> None:
        """The run directory, at its temporary path, holds every file but results.json:
        the child may draw the plots from them now (``harness.runner.run_test``'s
        ``on_data``). It reads them at once, through a descriptor of the directory, so
        the directory's rename into place does not disturb it; if it comes too late
        (the directory already renamed), it reads the finished one."""
        if self.pid is not None and self._to_child is not None:
            try:
                os.write(self._to_child, (f"data {Path(tmp).resolve()}\n").encode())
            except OSError:  # the child is gone: finish writes the report here
                pass

    def finish(self, run_dir: Path | str) -> Path:
        """Write ``run_dir``'s report (in the child if it is running); its path."""
        run_dir = Path(run_dir)
        if self.pid is not None:
            try:
                assert self._to_child is not None and self._from_child is not None  # open while the child runs
                os.write(self._to_child, (f"run {run_dir.resolve()}\n").encode())
                os.close(self._to_child)
                self._to_child = None
                with os.fdopen(self._from_child, "rb") as f:
                    self._from_child = None
                    answer = f.read()
                _, status = os.waitpid(self.pid, 0)
                self.pid = None
                if status == 0 and answer == b"ok\n":
                    return run_dir / "report.html"
            except OSError:
                pass
            finally:
                self.close()
        from reports.run_report import write_run_report

        return write_run_report(run_dir)

    def close(self) -> None:
        """End the child if it still runs (kill by pid, reap) and close the pipes."""
        for attr in ("_to_child", "_from_child"):
            fd = getattr(self, attr)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, attr, None)
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = None


def _child(r: int, w: int) -> int:
    """Import what the report needs, wait for the run directory, write the report."""
    import gc

    gc.disable()  # short-lived: no collections
    import reports.plots  # matplotlib: most of the import time
    import reports.svg  # noqa: F401 - imported by the page when it renders
    from reports.run_report import environment, write_run_report

    environment().get_template("run.html")
    # No throwaway drawing to warm up matplotlib here: measured in instructions
    # (cachegrind), one cost 166 M and saved the real plots 26 M, and under load every
    # instruction of this process competes with the simulation.
    with os.fdopen(r, "rb") as f:
        line = f.readline().decode().strip()
        run, drawn, later = None, None, _Later(f)
        if line.startswith("data "):
            # the plots, and while the second plot process finishes, the rest of the page
            run, drawn = _draw_early(line[len("data "):], later)
        line = later.line if later.line is not None else f.readline().decode().strip()
    if not line.startswith("run "):
        return 1
    run_dir = line[len("run "):]
    if run is not None and later.context is None:
        run.attach_results(run_dir)
    write_run_report(run if run is not None else run_dir, drawn=drawn, context=later.context)
    os.write(w, b"ok\n")
    return 0


class _Later:
    """What the child does once it has drawn its share of the plots: wait for the
    finished run directory and prepare the page (``reports.run_report.page_context``)."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self.line: str | None = None
        self.context: dict[str, Any] | None = None
        self.run: Any = None

    def __call__(self) -> None:
        from reports.run_report import page_context

        self.line = self._f.readline().decode().strip()
        if self.run is not None and self.line.startswith("run "):
            self.run.attach_results(self.line[len("run "):])
            self.context = page_context(self.run)


def _draw_early(tmp: str, later: _Later) -> tuple[Any, dict[str, bytes | None] | None]:
    """Read the data files of the run directory being written at ``tmp`` and draw what
    plots need no results, calling ``later`` before waiting for the second plot process:
    (the run read, the plots), or (None, None) when the directory has already been
    renamed into place (the finished one is read instead)."""
    from reports.plots import draw_plots
    from reports.rundata import DATA_FILES, RunData

    files: dict[str, bytes] = {}
    try:
        fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None, None
    try:
        for name in DATA_FILES:
            try:
                with open(name, "rb", opener=lambda p, flags: os.open(p, flags, dir_fd=fd)) as f:
                    files[name] = f.read()
            except FileNotFoundError:
                pass
    except OSError:
        return None, None
    finally:
        os.close(fd)
    run = RunData.before_results(tmp, files)
    later.run = run
    return run, draw_plots(run, meanwhile=later)
