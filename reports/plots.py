"""PNG plots of a run (matplotlib, Agg): latency, throughput, who leads, partitions, logs.

Each ``plot_*`` function takes a `RunData` and a path, draws one figure, writes it and
returns the path, or returns None when the run has nothing to draw (no operations, no
leader trace, no partition, no Kafka trace). `write_plots` draws every one of them into
the run directory.

Speed matters (a campaign may rebuild hundreds of reports): figures are built with the
object API (``Figure`` + ``FigureCanvasAgg``, no pyplot state machine), one style for all,
a fixed layout (``subplots_adjust``, no ``tight_layout`` or ``bbox_inches="tight"``,
which lay the figure out twice) and dpi 90. Mathtext is off, so a ``$`` in a key or a
node name is drawn as a dollar sign instead of raising a parse error.

Fault windows are numbered F1, F2... in start order, the same numbers as on the HTML page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from reports.rundata import FAMILIES, FAMILY_COLOURS, NS, OUTCOME_COLOURS, RunData  # noqa: E402

DPI = 90

#: one style for every figure (applied with rc_context, so it never leaks into the
#: caller's own matplotlib use)
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "text.parse_math": False,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
}

MARKERS = {"read": "o", "write": "^", "cas": "s", "send": "^", "poll": "o", "commit": "s"}
OTHER_MARKERS = ("D", "v", "P", "X", "*", "<", ">")
#: more windows than this and the legend names families instead of each window
MAX_NAMED_WINDOWS = 24

#: plot name -> file in the run directory
FILES = {
    "latency": "latency.png",
    "throughput": "throughput.png",
    "leaders": "leaders.png",
    "partitions": "partitions.png",
    "log_offsets": "log-offsets.png",
}


def _figure(w_in: float, h_in: float) -> Figure:
    fig = Figure(figsize=(w_in, h_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, format="png")
    return path


def _load(run: RunData | Path | str) -> RunData:
    return run if isinstance(run, RunData) else RunData(run)


def _shade(ax: Any, run: RunData, numbered: bool = True) -> list[Any]:
    """Shade each fault window on ``ax``; return legend handles naming them."""
    windows = run.windows
    fams = [f for f in FAMILIES if any(w.family == f for w in windows)]
    lane = {f: i for i, f in enumerate(fams)}
    trans = ax.get_xaxis_transform()
    for w in windows:
        ax.axvspan(w.start / NS, w.end / NS, color=FAMILY_COLOURS[w.family],
                   alpha=0.22 if w.changed else 0.1, lw=0, zorder=0)
        if numbered:
            ax.text(w.start / NS, 1.0 + 0.045 * (lane[w.family] + 0.3), w.name, transform=trans,
                    fontsize=7, color=FAMILY_COLOURS[w.family], clip_on=False, va="bottom")
    if not windows:
        return []
    if len(windows) <= MAX_NAMED_WINDOWS:
        return [Patch(color=FAMILY_COLOURS[w.family], alpha=0.45,
                      label=f"{w.name} {w.label} ({w.start / NS:.1f}–{w.end / NS:.1f} s)") for w in windows]
    return [Patch(color=FAMILY_COLOURS[f], alpha=0.45, label=f"{f} (F-numbers on the page)") for f in fams]


def _legend_right(fig: Figure, ax: Any, handles: list[Any]) -> None:
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
                  handlelength=1.2, fontsize=7 if len(handles) > 14 else 8)


def _phase_line(ax: Any, run: RunData) -> None:
    if run.main_end is not None and run.main_end < run.end_time:
        ax.axvline(run.main_end / NS, color="#888", lw=0.8, ls="--", zorder=1)


def plot_latency(run: RunData | Path | str, path: Path | str) -> Path | None:
    """Latency of each operation over time: marker = operation kind, colour = outcome."""
    run = _load(run)
    ops = [o for o in run.operations if o.end is not None]
    if not ops:
        return None
    with matplotlib.rc_context(STYLE):
        fig = _figure(12.4, 4.4)
        fig.subplots_adjust(left=0.06, right=0.70, top=0.86, bottom=0.12)
        ax = fig.add_subplot()
        groups: dict[tuple[str, Any], tuple[list[float], list[float]]] = {}
        for o in ops:
            xs, ys = groups.setdefault((o.f, o.type), ([], []))
            xs.append(o.start / NS)
            ys.append(max(o.end - o.start, 1000) / 1e6)
        kinds = sorted({f for f, _ in groups})
        marker = {f: MARKERS.get(f) or OTHER_MARKERS[i % len(OTHER_MARKERS)] for i, f in enumerate(kinds)}
        for (f, typ), (xs, ys) in sorted(groups.items(), key=lambda kv: (kv[0][1] != "ok", str(kv[0]))):
            ax.scatter(xs, ys, s=9, marker=marker[f], c=OUTCOME_COLOURS.get(typ, "#777"),
                       alpha=0.7, linewidths=0, rasterized=True, zorder=2)
        ax.set_yscale("log")
        # Plain tick labels: the default log formatter writes mathtext, which is off here.
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(0, run.end_time / NS)
        ax.set_xlabel("time (simulated s) at invoke")
        ax.set_ylabel("latency (ms, log)")
        ax.set_title("Latency by operation and outcome", loc="left", pad=22)
        _phase_line(ax, run)
        handles = [Line2D([], [], ls="", marker="o", color=OUTCOME_COLOURS[t], label=t) for t in ("ok", "fail", "info")]
        handles += [Line2D([], [], ls="", marker=marker[f], color="#333", label=str(f)) for f in kinds]
        handles += _shade(ax, run)
        _legend_right(fig, ax, handles)
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
        if o.type in counts:
            counts[o.type][min(o.end // NS, nbins - 1)] += 1
    with matplotlib.rc_context(STYLE):
        fig = _figure(12.4, 3.2)
        fig.subplots_adjust(left=0.06, right=0.70, top=0.82, bottom=0.16)
        ax = fig.add_subplot()
        xs = [i + 0.5 for i in range(nbins)]
        bottom = [0] * nbins
        for t in ("ok", "fail", "info"):
            ax.bar(xs, counts[t], width=0.9, bottom=bottom, color=OUTCOME_COLOURS[t], label=t, zorder=2, lw=0)
            bottom = [a + b for a, b in zip(bottom, counts[t])]
        ax.set_xlim(0, run.end_time / NS)
        ax.set_xlabel("time (simulated s) at completion")
        ax.set_ylabel("operations / s")
        ax.set_title("Throughput by outcome", loc="left", pad=22)
        _phase_line(ax, run)
        handles = [Patch(color=OUTCOME_COLOURS[t], label=t) for t in ("ok", "fail", "info")]
        handles += _shade(ax, run)
        _legend_right(fig, ax, handles)
        return _save(fig, Path(path))


#: trace kinds that say what role a server plays (ZAB vocabulary), and crash/restart
ROLE_KINDS = {"leader_established": "leading", "leading": "leading", "following": "following",
              "looking": "looking", "crash": "down", "restart": "up", "boot": "up"}


def leader_segments(run: RunData) -> dict[str, list[tuple[int, int, str, Any]]]:
    """Per server: (start, end, role, epoch) segments from the trace.

    Roles: leading (after ``leader_established``), following, looking, down (crashed),
    up (restarted, role not yet traced). Empty when the trace says nothing about roles.
    """
    segs: dict[str, list[tuple[int, int, str, Any]]] = {}
    current: dict[str, tuple[int, str, Any]] = {}
    any_role = False
    for rec in run.trace:
        kind = rec.get("kind")
        role = ROLE_KINDS.get(kind)
        node = rec.get("node")
        t = rec.get("time")
        if role is None or not isinstance(node, str) or not isinstance(t, int):
            continue
        if kind not in ("boot", "restart"):
            any_role = True
        if kind == "boot" and node in current:
            continue
        epoch = rec.get("epoch")
        cur = current.get(node)
        if cur is not None:
            if cur[1] == role and cur[2] == epoch:
                continue
            segs.setdefault(node, []).append((cur[0], t, cur[1], cur[2]))
        current[node] = (t, role, epoch)
    if not any_role:
        return {}
    end = run.end_time
    for node, (t, role, epoch) in current.items():
        segs.setdefault(node, []).append((t, max(end, t), role, epoch))
    return segs


def plot_leaders(run: RunData | Path | str, path: Path | str) -> Path | None:
    """Which server leads in which epoch, who follows, who looks, who is down."""
    run = _load(run)
    segs = leader_segments(run)
    if not segs:
        return None
    servers = [s for s in run.servers if s in segs] + sorted(s for s in segs if s not in run.servers)
    epochs = sorted({e for ss in segs.values() for _, _, r, e in ss if r == "leading" and e is not None}, key=str)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    ecol = {e: cmap(i % 10) for i, e in enumerate(epochs)}
    with matplotlib.rc_context(STYLE):
        fig = _figure(12.4, 1.1 + 0.32 * len(servers))
        fig.subplots_adjust(left=0.06, right=0.70, top=1 - 0.55 / (1.1 + 0.32 * len(servers)),
                            bottom=0.45 / (1.1 + 0.32 * len(servers)))
        ax = fig.add_subplot()
        ax.grid(False, axis="y")
        for i, s in enumerate(reversed(servers)):
            for t0, t1, role, epoch in segs.get(s, []):
                x, w = t0 / NS, max((t1 - t0) / NS, 0.02)
                if role == "leading":
                    col = ecol.get(epoch, "#333")
                    ax.broken_barh([(x, w)], (i - 0.38, 0.76), facecolors=col, zorder=2)
                    if w > 1.2:
                        ax.text(x + w / 2, i, f"e{epoch}", ha="center", va="center", fontsize=7, color="white", zorder=3)
                elif role == "following":
                    col = ecol.get(epoch, "#888")
                    ax.broken_barh([(x, w)], (i - 0.2, 0.4), facecolors=col, alpha=0.35, zorder=2)
                elif role == "looking":
                    ax.broken_barh([(x, w)], (i - 0.2, 0.4), facecolors="white", edgecolors="#999",
                                   hatch="////", lw=0.4, zorder=2)
                elif role == "down":
                    ax.broken_barh([(x, w)], (i - 0.12, 0.24), facecolors="#333", zorder=2)
                else:
                    ax.broken_barh([(x, w)], (i - 0.06, 0.12), facecolors="#bbb", zorder=2)
        ax.set_yticks(range(len(servers)), list(reversed(servers)))
        ax.set_ylim(-0.7, len(servers) - 0.3)
        ax.set_xlim(0, run.end_time / NS)
        ax.set_xlabel("time (simulated s)")
        title = ("Who leads (epoch), follows, looks, is down" if any(r != "down" and r != "up" for ss in segs.values() for _, _, r, _ in ss)
                 else "Servers up and down (the trace names no leader)")
        ax.set_title(title, loc="left", pad=22)
        _phase_line(ax, run)
        handles = [Patch(color=ecol[e], label=f"leader, epoch {e}") for e in epochs[:10]]
        handles += [Patch(color="#888", alpha=0.35, label="following (epoch's colour)"),
                    Patch(facecolor="white", edgecolor="#999", hatch="////", label="looking"),
                    Patch(color="#333", label="down (crashed)"),
                    Patch(color="#bbb", label="up, role not traced")]
        handles += _shade(ax, run, numbered=True) if len(run.windows) <= 12 else []
        _legend_right(fig, ax, handles)
        return _save(fig, Path(path))


def plot_partitions(run: RunData | Path | str, path: Path | str, limit: int = 8) -> Path | None:
    """For each partition window (the first ``limit``), who can reach whom (networkx)."""
    run = _load(run)
    parts = [w for w in run.windows if w.kind == "partition"]
    if not parts:
        return None
    import networkx as nx

    parts = parts[:limit]
    servers = list(run.servers)
    for w in parts:
        for a, b in w.cut:
            for s in (a, b):
                if s not in servers:
                    servers.append(s)
    pos = nx.circular_layout(servers)
    ncols = min(4, len(parts))
    nrows = (len(parts) + ncols - 1) // ncols
    with matplotlib.rc_context(STYLE):
        fig = _figure(2.6 * ncols, 2.5 * nrows + 0.2)
        fig.subplots_adjust(left=0.02, right=0.98, top=1 - 0.45 / (2.5 * nrows + 0.2), bottom=0.02,
                            wspace=0.1, hspace=0.35)
        for i, w in enumerate(parts):
            ax = fig.add_subplot(nrows, ncols, i + 1)
            g = nx.complete_graph(servers)
            g.remove_edges_from([tuple(p) for p in w.cut])
            comps = list(nx.connected_components(g))
            colour = {}
            palette = ("#6baed6", "#fd8d3c", "#74c476", "#9e9ac8", "#fdd0a2", "#c7e9c0", "#bcbddc")
            for k, comp in enumerate(sorted(comps, key=lambda c: (-len(c), sorted(c)))):
                for s in comp:
                    colour[s] = palette[k % len(palette)]
            nx.draw_networkx_edges(g, pos, ax=ax, edge_color="#555", width=1.2)
            nx.draw_networkx_nodes(g, pos, ax=ax, node_color=[colour[s] for s in servers], node_size=420,
                                   edgecolors="#333", linewidths=0.8)
            nx.draw_networkx_labels(g, pos, ax=ax, font_size=8)
            ax.set_title(f"{w.name} {w.label}\n{w.start / NS:.1f}–{w.end / NS:.1f} s", fontsize=8)
            ax.set_axis_off()
            ax.set_xlim(-1.35, 1.35)
            ax.set_ylim(-1.35, 1.35)
        return _save(fig, Path(path))


#: trace fields a Kafka-style system may use for a replica's log end offset and high watermark
LEO_FIELDS = ("log_end_offset", "leo")
HW_FIELDS = ("high_watermark", "hw")


def plot_log_offsets(run: RunData | Path | str, path: Path | str) -> Path | None:
    """Kafka: each replica's log end offset (solid) and high watermark (dashed) over time.

    Reads any trace record carrying ``log_end_offset``/``leo`` or ``high_watermark``/``hw``,
    one line per (node, topic-partition). Returns None when no record does (ZAB runs, toy
    runs), so callers need not know which system ran.
    """
    run = _load(run)
    series: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}
    for rec in run.trace:
        t = rec.get("time")
        if not isinstance(t, int):
            continue
        part = rec.get("partition", rec.get("key", rec.get("topic_partition", "")))
        for what, names in (("LEO", LEO_FIELDS), ("HW", HW_FIELDS)):
            for n in names:
                v = rec.get(n)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    xs, ys = series.setdefault((str(part), str(rec.get("node")), what), ([], []))
                    xs.append(t / NS)
                    ys.append(v)
                    break
    if not series:
        return None
    parts = sorted({p for p, _, _ in series})
    with matplotlib.rc_context(STYLE):
        fig = _figure(12.4, 1.0 + 2.0 * len(parts))
        fig.subplots_adjust(left=0.06, right=0.70, top=0.93, bottom=0.08, hspace=0.45)
        from matplotlib import colormaps

        cmap = colormaps["tab10"]
        nodes = sorted({n for _, n, _ in series})
        col = {n: cmap(i % 10) for i, n in enumerate(nodes)}
        for i, p in enumerate(parts):
            ax = fig.add_subplot(len(parts), 1, i + 1)
            for (pp, node, what), (xs, ys) in sorted(series.items()):
                if pp != p:
                    continue
                ax.step(xs + [run.end_time / NS], ys + ys[-1:], where="post", color=col[node],
                        ls="-" if what == "LEO" else "--", lw=1.0, label=f"{node} {what}")
            ax.set_xlim(0, run.end_time / NS)
            ax.set_ylabel("offset")
            ax.set_title(f"partition {p}: log end offset (solid), high watermark (dashed)", loc="left")
            handles, _ = ax.get_legend_handles_labels()
            _legend_right(fig, ax, handles + (_shade(ax, run, numbered=False) if i == 0 else []))
        ax.set_xlabel("time (simulated s)")
        return _save(fig, Path(path))


PLOTTERS: dict[str, Callable[[RunData, Path], Path | None]] = {
    "latency": plot_latency,
    "throughput": plot_throughput,
    "leaders": plot_leaders,
    "partitions": plot_partitions,
    "log_offsets": plot_log_offsets,
}


def write_plots(run: RunData | Path | str, out_dir: Path | str | None = None) -> dict[str, Path]:
    """Draw every plot that has data into ``out_dir`` (default: the run directory).

    Returns plot name -> path of what was written; a stale PNG of a plot that now has
    no data is removed, so the page never shows a picture of another run.
    """
    run = _load(run)
    out = Path(out_dir) if out_dir is not None else run.dir
    written: dict[str, Path] = {}
    for name, fn in PLOTTERS.items():
        path = out / FILES[name]
        p = fn(run, path)
        if p is not None:
            written[name] = p
        elif path.exists():
            path.unlink()
    return written
