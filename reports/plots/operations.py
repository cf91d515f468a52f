"""Plots of the client operations: latency of each operation over time (marker: kind,
colour: outcome) and completed operations per simulated second, stacked by outcome."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullLocator

from reports.plots.frame import _legend_right, _phase_line, _time_frame
from reports.plots.style import MARKERS, OTHER_MARKERS, STYLE, _load, _save
from reports.rundata import NS, OUTCOME_COLOURS, RunData


def plot_latency(run: RunData | Path | str, path: Path | str) -> Path | None:
    """Latency of each operation over time: marker = operation kind, colour = outcome,
    every fault window shaded and named (F-number and what it did) below the plot."""
    run = _load(run)
    done = [o for o in run.operations if o.end is not None]
    if not done:
        return None
    # Operations a client answers without waiting (a Kafka poll from its buffer, assign,
    # subscribe) take no simulated time: on a log axis they would make a row of dots at
    # an arbitrary floor. They are counted in the title instead.
    # (o.end is not None again: for mypy, which does not carry the filter above along)
    ops = [o for o in done if o.end is not None and o.end - o.start >= 1000]
    instant = collections.Counter(o.f for o in done if o.end is not None and o.end - o.start < 1000)
    title = "Latency by operation and outcome"
    if instant:
        title += (f" ({sum(instant.values())} operations answered at once by the client, not drawn: "
                  + ", ".join(f"{n} {f}" for f, n in sorted(instant.items(), key=lambda kv: (-kv[1], kv[0]))) + ")")
    with matplotlib.rc_context(STYLE):
        fig, ax, fam_handles = _time_frame(run, 3.0, title, name_windows=True, numbered=True)
        groups: dict[tuple[str, Any], tuple[list[float], list[float]]] = {}
        for o in ops:
            assert o.end is not None
            xs, ys = groups.setdefault((o.f, o.type), ([], []))
            xs.append(o.start / NS)
            ys.append((o.end - o.start) / 1e6)
        kinds = sorted({f for f, _ in groups})
        marker = {f: MARKERS.get(f) or OTHER_MARKERS[i % len(OTHER_MARKERS)] for i, f in enumerate(kinds)}
        for (f, typ), (xs, ys) in sorted(groups.items(), key=lambda kv: (kv[0][1] != "ok", str(kv[0]))):
            # a marker-only line, not ``scatter`` (same pixels: one size, one colour per
            # group): no per-point size and colour arrays to build and transform
            ax.plot(xs, ys, ls="", marker=marker[f], markersize=3, color=OUTCOME_COLOURS.get(typ, "#777"),
                    alpha=0.7, markeredgewidth=0, zorder=2)
        ax.set_yscale("log")
        # Plain tick labels: the default log formatter writes mathtext, which is off here.
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlim(0, run.end_time / NS)
        ax.set_xlabel("time (simulated s) at invoke; dashed line: end of the main phase (all faults healed)")
        ax.set_ylabel("latency (ms, log)")
        _phase_line(ax, run)
        handles = [Line2D([], [], ls="", marker="o", color=OUTCOME_COLOURS[t], label=t) for t in ("ok", "fail", "info")]
        handles += [Line2D([], [], ls="", marker=marker[f], color="#333", label=str(f)) for f in kinds]
        _legend_right(ax, handles + fam_handles)
        return _save(fig, Path(path))


def plot_throughput(run: RunData | Path | str, path: Path | str) -> Path | None:
    """Completed operations per simulated second, stacked by outcome."""
    run = _load(run)
    ops = [o for o in run.operations if o.end is not None]
    if not ops:
        return None
    nbins = int(run.end_time // NS) + 1
    counts = {t: [0] * nbins for t in ("ok", "fail", "info")}
    for o in ops:
        if o.type in counts and o.end is not None:
            counts[o.type][min(o.end // NS, nbins - 1)] += 1
    with matplotlib.rc_context(STYLE):
        fig, ax, fam_handles = _time_frame(run, 2.0, "Throughput by outcome", name_windows=False)
        # Stacked steps, one polygon per outcome, rather than bars (one patch per bar and
        # outcome) or ``stairs`` (whose data-limit update walks every step): the same
        # picture at a fraction of the drawing time.
        from matplotlib.collections import PolyCollection

        bottom = [0] * nbins
        for t in ("ok", "fail", "info"):
            top = [a + b for a, b in zip(bottom, counts[t])]
            if any(counts[t]):
                upper = [(x, top[i]) for i in range(nbins) for x in (i, i + 1)]
                lower = [(x, bottom[i]) for i in reversed(range(nbins)) for x in (i + 1, i)]
                ax.add_collection(PolyCollection([upper + lower], facecolors=OUTCOME_COLOURS[t], edgecolors="none",
                                                 zorder=2), autolim=False)
            bottom = top
        ax.set_ylim(0, max(max(bottom) * 1.05, 1))
        ax.set_xlim(0, run.end_time / NS)
        ax.set_xlabel("time (simulated s) at completion")
        ax.set_ylabel("operations / s")
        _phase_line(ax, run)
        handles = [Patch(color=OUTCOME_COLOURS[t], label=t) for t in ("ok", "fail", "info")]
        _legend_right(ax, handles + fam_handles)
        return _save(fig, Path(path))
