"""Who can reach whom during each partition window: the servers on a circle, an edge
between two that can talk, colours for the connected groups."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from reports.plots.style import STYLE, _figure, _load, _save
from reports.rundata import NS, RunData, natural_key


def _components(servers: list[str], cut: set[frozenset]) -> list[list[str]]:
    """Connected groups of ``servers`` when the links in ``cut`` are down, biggest first."""
    left = list(servers)
    comps = []
    while left:
        comp, todo = [], [left.pop(0)]
        while todo:
            a = todo.pop()
            comp.append(a)
            for b in [b for b in left if frozenset((a, b)) not in cut]:
                left.remove(b)
                todo.append(b)
        comps.append(sorted(comp, key=natural_key))
    return sorted(comps, key=lambda c: (-len(c), c))


def plot_partitions(run: RunData | Path | str, path: Path | str, limit: int = 8) -> Path | None:
    """For each partition window (the first ``limit``), who can reach whom.

    Servers are drawn on a circle in a fixed order, so panels compare at a glance; an
    edge joins two servers that can talk; colours mark connected groups. All panels share
    one axes (each shifted along x), one collection for every edge and one for every
    node: a handful of draw calls whatever the number of panels. (Plain matplotlib: the
    graphs have at most a few servers, not worth networkx's import time.)
    """
    run = _load(run)
    parts = [w for w in run.windows if w.kind == "partition"]
    if not parts:
        return None
    import math

    from matplotlib.collections import LineCollection

    parts = parts[:limit]
    servers = list(run.servers)
    for w in parts:
        for a, b in w.cut:
            for s in (a, b):
                if s not in servers:
                    servers.append(s)
    n = len(servers)
    # the circle networkx's circular_layout draws: first server at angle 0, counter-clockwise
    circle = {s: (math.cos(2 * math.pi * k / n), math.sin(2 * math.pi * k / n)) for k, s in enumerate(servers)}
    palette = ("#6baed6", "#fd8d3c", "#74c476", "#9e9ac8", "#fdd0a2", "#c7e9c0", "#bcbddc")
    step = 3.2
    segments, xs, ys, colours, labels = [], [], [], [], []
    for i, w in enumerate(parts):
        cut = {frozenset(p) for p in w.cut}
        colour = {}
        for k, comp in enumerate(_components(servers, cut)):
            for s in comp:
                colour[s] = palette[k % len(palette)]
        dx = i * step
        for j, a in enumerate(servers):
            for b in servers[j + 1:]:
                if frozenset((a, b)) not in cut:
                    (xa, ya), (xb, yb) = circle[a], circle[b]
                    segments.append(((xa + dx, ya), (xb + dx, yb)))
        for s in servers:
            x, y = circle[s]
            xs.append(x + dx)
            ys.append(y)
            colours.append(colour[s])
            labels.append((x + dx, y, s))
    with matplotlib.rc_context(STYLE):
        fig = _figure(min(1.6 + 2.3 * len(parts), 12.4), 2.3)
        ax = fig.add_axes((0.0, 0.0, 1.0, 0.8))
        ax.add_collection(LineCollection(segments, colors="#555", linewidths=1.2, zorder=1))
        ax.scatter(xs, ys, s=380, c=colours, edgecolors="#333", linewidths=0.8, zorder=2)
        for x, y, s in labels:
            ax.text(x, y, s, ha="center", va="center", fontsize=8, zorder=3)
        for i, w in enumerate(parts):
            fig.text((0.5 + i) / len(parts), 0.98, f"{w.name} {w.label}\n{w.start / NS:.1f}–{w.end / NS:.1f} s",
                     ha="center", va="top", fontsize=8)
        ax.set_axis_off()
        ax.set_xlim(-step / 2, step * (len(parts) - 0.5))
        ax.set_ylim(-1.35, 1.35)
        return _save(fig, Path(path))
