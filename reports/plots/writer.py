"""Drawing every plot of a run into its directory: which plots there are and their
files, stale PNGs removed, and the latency and partition plots drawn in a forked child
when a second process pays (the PNGs are byte for byte those of one process)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reports.plots.leaders import plot_leaders
from reports.plots.operations import plot_latency, plot_throughput
from reports.plots.partitions import plot_partitions
from reports.plots.queue import plot_log_offsets, plot_unseen
from reports.plots.style import _load, capture
from reports.rundata import ResultsPending, RunData

#: plot name -> file in the run directory
FILES = {
    "latency": "latency.png",
    "throughput": "throughput.png",
    "leaders": "leaders.png",
    "partitions": "partitions.png",
    "log_offsets": "log-offsets.png",
    "unseen": "unseen.png",
}


PLOTTERS: dict[str, Callable[[RunData, Path], Path | None]] = {
    "latency": plot_latency,
    "throughput": plot_throughput,
    "leaders": plot_leaders,
    "partitions": plot_partitions,
    "log_offsets": plot_log_offsets,
    "unseen": plot_unseen,
}


#: plots drawn in a forked child when `write_plots` runs two processes: the latency plot
#: (the most text: a legend naming every fault window) and the partition picture, about
#: half the drawing time of a ZAB run and a little less of a Kafka run
CHILD_PLOTS = ("latency", "partitions")


def write_plots(run: RunData | Path | str, out_dir: Path | str | None = None,
                jobs: int | None = None, drawn: dict[str, bytes | None] | None = None) -> dict[str, Path]:
    """Draw every plot that has data into ``out_dir`` (default: the run directory).

    Returns plot name -> path of what was written; a stale PNG of a plot that now has
    no data is removed, so the page never shows a picture of another run.

    ``drawn``: plots already drawn for this run by `draw_plots` (name -> PNG bytes, or
    None: no data), written as they are; the others are drawn here.

    ``jobs=2`` draws `CHILD_PLOTS` in a forked child process while this one draws the
    rest: each PNG is drawn from the same data by the same code whichever process draws
    it, so the files are byte for byte those of ``jobs=1``. Default: 2 when ``fork``
    exists, this process runs no other thread and the machine is not oversubscribed (more
    than one CPU, load average below their number + 0.5); ``REPORT_JOBS=1`` or ``=2`` in the
    environment decides instead. If the child fails, its plots are drawn here, so an
    error surfaces as it would without the child.
    """
    run = _load(run)
    out = Path(out_dir) if out_dir is not None else run.dir
    drawn = drawn or {}
    written: dict[str, Path] = {}
    for name, data in drawn.items():
        path = out / FILES[name]
        if data is not None:
            path.write_bytes(data)
            written[name] = path
        elif path.exists():
            path.unlink()
    todo = [n for n in PLOTTERS if n not in drawn]
    if jobs is None:
        jobs = default_jobs() if any(n in CHILD_PLOTS for n in todo) else 1
    forked = tuple(n for n in CHILD_PLOTS if n in todo)
    child = _fork_plots(run, out, forked) if jobs > 1 and forked else None
    for name in todo:
        if child is None or name not in forked:
            _draw_one(run, out, name, written)
    if child is not None:
        done = _join_child(*child)
        for name in forked:
            if done is None:  # the child failed: draw its plots here
                _draw_one(run, out, name, written)
            elif name in done:
                written[name] = out / FILES[name]
    return {name: written[name] for name in PLOTTERS if name in written}


def draw_plots(run: RunData, jobs: int | None = None,
               meanwhile: Callable[[], None] | None = None) -> dict[str, bytes | None]:
    """The plots of a run whose directory is still being written (`RunData.before_results`),
    drawn from its data files alone, as PNG bytes by name (None: no data to draw): what
    `write_plots` would write, given to it as ``drawn`` once the directory is in place
    (`reports.prefork` draws them while the checkers run). A plot that needs the run's
    results (`ResultsPending`: a Kafka run's unseen writes need the checkers') is left
    out, for `write_plots` to draw. ``jobs`` as for `write_plots`; nothing is written.
    ``meanwhile``: called once this process has drawn its share, before it waits for the
    child's (the page's process prepares the page there)."""
    if jobs is None:
        jobs = default_jobs()
    out: dict[str, bytes | None] = {}
    child = _fork_draw(run, CHILD_PLOTS) if jobs > 1 else None
    for name in PLOTTERS:
        if child is None or name not in CHILD_PLOTS:
            _draw_bytes(run, name, out)
    if meanwhile is not None:
        try:
            meanwhile()
        except BaseException:
            if child is not None:
                _join_draw(*child)  # no child left behind
            raise
    if child is not None:
        got = _join_draw(*child)
        for name in CHILD_PLOTS:
            if got is None:  # the child failed: draw its plots here
                _draw_bytes(run, name, out)
            elif name in got:
                out[name] = got[name]
    return {name: out[name] for name in PLOTTERS if name in out}


def _draw_bytes(run: RunData, name: str, out: dict[str, bytes | None]) -> None:
    """``out[name]``: the PNG of plot ``name`` (None: no data); nothing when it needs the
    results."""
    path = Path(FILES[name])
    try:
        with capture() as got:
            p = PLOTTERS[name](run, path)
    except ResultsPending:
        return
    out[name] = None if p is None else got[path]


def _fork_child(child: Callable[[int], None]) -> tuple[int, int] | None:
    """Fork a child that runs ``child(write end of a pipe)`` and leaves with ``os._exit``
    (0 if ``child`` returned, 1 if it raised: the parent then draws itself), without
    running the parent's exit code; returns (pid, read end of the pipe), or None when
    fork fails."""
    import gc
    import os

    # Objects the collector never visits after the fork: a collection would otherwise
    # write to (so copy) every page of both processes' shared heap.
    gc.freeze()
    try:
        r, w = os.pipe()
        pid = os.fork()
    except OSError:
        gc.unfreeze()
        return None
    if pid != 0:
        gc.unfreeze()
        os.close(w)
        return pid, r
    code = 1
    try:
        gc.disable()  # short-lived: no collections at all
        os.close(r)
        child(w)
        code = 0
    except BaseException:  # noqa: BLE001 - reported as a failure; the parent redraws
        pass
    finally:
        os._exit(code)


def _fork_draw(run: RunData, names: tuple[str, ...]) -> tuple[int, int] | None:
    """Fork a child that draws ``names`` as `_draw_bytes` does; returns (pid, read end of
    its pipe), or None when fork fails. The child sends, for each plot it drew, a line
    ``name size`` (``name -`` for no data) and the PNG's bytes, then ``ok``."""
    import os

    try:  # loaded once here rather than in both processes
        _ = run.operations, run.trace, run.windows
    except ResultsPending:  # nothing to time the windows by but the results: the plots say so
        pass

    def child(w: int) -> None:
        got: dict[str, bytes | None] = {}
        for name in names:
            _draw_bytes(run, name, got)
        parts = []
        for name, data in got.items():
            parts.append(f"{name} {'-' if data is None else len(data)}\n".encode())
            parts.append(data or b"")
        parts.append(b"ok\n")
        with os.fdopen(w, "wb") as f:
            f.write(b"".join(parts))

    return _fork_child(child)


def _join_draw(pid: int, r: int) -> dict[str, bytes | None] | None:
    """Wait for a `_fork_draw` child; the plots it drew, or None if it failed."""
    import os

    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data.endswith(b"ok\n"):
        return None
    got: dict[str, bytes | None] = {}
    at, end = 0, len(data) - 3
    try:
        while at < end:
            nl = data.index(b"\n", at)
            name, size = data[at:nl].decode().split(" ")
            at = nl + 1
            if size == "-":
                got[name] = None
            else:
                got[name] = data[at:at + int(size)]
                at += int(size)
    except ValueError:
        return None
    return got if at == end else None


def default_jobs() -> int:
    import os
    import threading

    forced = os.environ.get("REPORT_JOBS", "").strip()
    if forced == "1":
        return 1
    if forced == "2" and hasattr(os, "fork") and threading.active_count() == 1:
        return 2
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return 1
    cpus = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    # A second process pays while the machine is not oversubscribed: on 2 CPUs it took a
    # fresh `harness report` from 1.06 s to 0.92 s at load 2.4, but at load 3 and more
    # (other processes on both CPUs) it gained nothing or lost a little, the fork's
    # copy-on-write faults costing more than the overlap.
    return 2 if cpus > 1 and busy < cpus + 0.5 else 1


def _draw_one(run: RunData, out: Path, name: str, written: dict[str, Path]) -> None:
    path = out / FILES[name]
    p = PLOTTERS[name](run, path)
    if p is not None:
        written[name] = p
    elif path.exists():
        path.unlink()


def _fork_plots(run: RunData, out: Path, names: tuple[str, ...]) -> tuple[int, int] | None:
    """Fork a child that draws ``names``; returns (pid, read end of its pipe), or None
    when fork fails. The child writes the names it drew, one a line, then ``ok``."""
    import os

    # what the child needs, loaded once here rather than in both processes
    _ = run.operations, run.windows, run.trace, run.checkers

    def child(w: int) -> None:
        written: dict[str, Path] = {}
        for name in names:
            _draw_one(run, out, name, written)
        os.write(w, ("".join(n + "\n" for n in written) + "ok\n").encode())

    return _fork_child(child)


def _join_child(pid: int, r: int) -> set[str] | None:
    """Wait for the child; the plot names it drew, or None if it failed."""
    import os

    chunks = []
    with os.fdopen(r, "rb") as f:
        chunks.append(f.read())
    _, status = os.waitpid(pid, 0)
    lines = b"".join(chunks).decode(errors="replace").splitlines()
    if status != 0 or not lines or lines[-1] != "ok":
        return None
    return set(lines[:-1])
