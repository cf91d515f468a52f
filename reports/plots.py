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

import collections
from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")


def _quick_import() -> None:
    """Import the parts of matplotlib the plots use, without building the docstrings of
    the ``set`` methods of its artist classes.

    On import, each `Artist` subclass writes a docstring for its generated ``set`` listing
    every property (``matplotlib.artist.kwdoc``): about a fifth of matplotlib's import
    time, spent on text only ``help()`` reads. A report is often the only thing a process
    draws (``harness report DIR``), so this matters. The docstrings of the classes
    imported here say "Properties:" with no list; nothing else changes, and when
    matplotlib's figure module was already imported this does nothing.
    """
    import sys

    if "matplotlib.figure" in sys.modules:
        return
    import matplotlib.artist as martist

    kwdoc = martist.kwdoc
    martist.kwdoc = lambda artist: "Properties:\n    (see the matplotlib documentation)"
    try:
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.collections  # noqa: F401
        import matplotlib.figure  # noqa: F401
    finally:
        martist.kwdoc = kwdoc


_quick_import()

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullLocator  # noqa: E402

from reports.rundata import FAMILIES, FAMILY_COLOURS, NS, OUTCOME_COLOURS, RunData, natural_key  # noqa: E402

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
    # FreeType's autohinter costs about a third of the drawing time of a run's plots
    # (text dominates them) and changes nothing one can see at this size
    "text.hinting": "no_hinting",
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
    "unseen": "unseen.png",
}


def _figure(w_in: float, h_in: float) -> Figure:
    fig = Figure(figsize=(w_in, h_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    # zlib level 1: a tenth of the encoding time of the default 6, files ~20% larger
    fig.savefig(path, dpi=DPI, format="png", pil_kwargs={"compress_level": 1})
    return path


def _load(run: RunData | Path | str) -> RunData:
    return run if isinstance(run, RunData) else RunData(run)


#: figure width (in) of the time plots, and the margins (in) around their axes
WIDTH_IN = 12.4
LEFT_IN, RIGHT_IN = 0.75, 2.4
#: fault-window legend below the time axis: columns, and rows before it is per family
WINDOW_LEGEND_COLS = 4
MAX_NAMED_WINDOWS = 40


def _families(run: RunData) -> list[str]:
    return [f for f in FAMILIES if any(w.family == f for w in run.windows)]


def _time_frame(run: RunData, axes_h: float, title: str, name_windows: bool,
                numbered: bool = False, shade_alpha: float = 0.22) -> tuple[Figure, Any, list[Any]]:
    """A figure with one time axes, room above it for the F-number lanes and, with
    ``name_windows``, a legend below it naming every fault window.

    Sizes are in inches and laid out by hand (no tight_layout): the figure grows with the
    number of lanes and legend rows instead of squeezing the plot.
    ``numbered`` writes each window's F-number above the axes (the plots share one x
    layout, so the unnumbered ones line up under the numbered one).
    Returns the figure, the axes and the legend handles for the right-hand legend
    (one per family when the windows are not named below).
    """
    fams = _families(run)
    windows = run.windows
    named = name_windows and 0 < len(windows) <= MAX_NAMED_WINDOWS
    rows = -(-len(windows) // WINDOW_LEGEND_COLS) if named else 0
    lanes = len(fams) if numbered else 0
    top_in = 0.32 + 0.16 * lanes
    bottom_in = 0.5 + (0.12 + 0.155 * rows if rows else 0)
    h = top_in + axes_h + bottom_in
    fig = _figure(WIDTH_IN, h)
    fig.subplots_adjust(left=LEFT_IN / WIDTH_IN, right=1 - RIGHT_IN / WIDTH_IN, top=1 - top_in / h, bottom=bottom_in / h)
    ax = fig.add_subplot()
    # An explicit y turns off matplotlib's automatic title placement, which measures the
    # tight bounding box of the axis decorations on every draw.
    ax.set_title(title, loc="left", y=1.0, pad=4 + 11.5 * lanes)
    _shade(ax, run, shade_alpha)
    if numbered:
        lane = {f: i for i, f in enumerate(fams)}
        trans = ax.get_xaxis_transform()
        for w in windows:
            ax.annotate(w.name, xy=(w.start / NS, 1.0), xycoords=trans, xytext=(0, 2 + 11 * lane[w.family]),
                        textcoords="offset points", fontsize=7, color=_dark(FAMILY_COLOURS[w.family]),
                        annotation_clip=False)
    if named:
        handles = [Patch(color=FAMILY_COLOURS[w.family], alpha=0.45 if w.changed else 0.2,
                         label=_window_label(w)) for w in windows]
        _key(fig, handles, LEFT_IN, h - bottom_in + 0.5, ncol=WINDOW_LEGEND_COLS, fontsize=7, row_in=0.155,
             col_w_in=(WIDTH_IN - LEFT_IN - 0.2) / WINDOW_LEGEND_COLS)
        return fig, ax, []
    return fig, ax, [Patch(color=FAMILY_COLOURS[f], alpha=min(2 * shade_alpha, 1), label=f"{f} window") for f in fams]


#: characters of a window's name in the legend below a plot (a column is ~2.9 in at 7 pt)
WINDOW_LABEL_CHARS = 46


def _window_label(w: Any) -> str:
    """``F3 power cut armed at n5 leader_… (11.9–17.1 s)``: the label cut to fit its
    column, the times kept."""
    times = f" ({w.start / NS:.1f}–{w.end / NS:.1f} s)"
    room = WINDOW_LABEL_CHARS - len(times) - len(w.name) - 1
    label = w.label if len(w.label) <= room else w.label[: max(room - 1, 1)] + "…"
    return f"{w.name} {label}{times}"


def _shade(ax: Any, run: RunData, alpha: float = 0.22) -> None:
    """Every fault window as a full-height band, one collection per family (an axvspan
    per window costs a patch and a draw call each)."""
    from matplotlib.collections import PolyCollection

    trans = ax.get_xaxis_transform()
    by: dict[tuple[str, bool], list] = {}
    for w in run.windows:
        x0, x1 = w.start / NS, w.end / NS
        by.setdefault((w.family, w.changed), []).append([(x0, 0), (x1, 0), (x1, 1), (x0, 1)])
    for (fam, changed), polys in by.items():
        ax.add_collection(PolyCollection(polys, facecolors=FAMILY_COLOURS[fam], edgecolors="none",
                                         alpha=alpha if changed else alpha / 2, transform=trans, zorder=0),
                          autolim=False)


def _dark(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"#{int(r * 0.6):02x}{int(g * 0.6):02x}{int(b * 0.6):02x}"


def _key(fig: Figure, handles: list[Any], x_in: float, top_in: float, ncol: int = 1,
         col_w_in: float = 2.0, row_in: float = 0.17, fontsize: float = 8, max_chars: int = 0) -> None:
    """A legend drawn as plain figure artists: a swatch (a copy of each handle's style:
    patch, marker or line) and one text per entry, filled down each column in turn as
    matplotlib's legend does. ``x_in``/``top_in``: top-left corner, in inches from the
    figure's left and top edges.

    Why not ``Figure.legend``: its offset-box layout measured every text several times
    and cost about a third of the drawing time of a run's plots.
    """
    from matplotlib.patches import Rectangle

    if not handles:
        return
    w_in, h_in = fig.get_size_inches()
    nrow = -(-len(handles) // ncol)
    tf = fig.transFigure
    for k, h in enumerate(handles):
        col, row = divmod(k, nrow)
        x = x_in + col * col_w_in
        yc = h_in - (top_in + (row + 0.5) * row_in)
        if isinstance(h, Line2D):
            if h.get_marker() not in (None, "", "None", "none"):
                art = Line2D([(x + 0.08) / w_in], [yc / h_in], transform=tf)
                art.update_from(h)
                art.set_linestyle("")
                art.set_markersize(5)
            else:
                art = Line2D([x / w_in, (x + 0.22) / w_in], [yc / h_in, yc / h_in], transform=tf)
                art.update_from(h)
            text_x = x + (0.2 if h.get_marker() not in (None, "", "None", "none") else 0.28)
        else:
            art = Rectangle((x / w_in, (yc - 0.05) / h_in), 0.16 / w_in, 0.1 / h_in, transform=tf)
            art.update_from(h)
            text_x = x + 0.22
        fig.add_artist(art)
        label = h.get_label()
        if max_chars and len(label) > max_chars:
            label = label[: max_chars - 1] + "…"
        fig.text(text_x / w_in, yc / h_in, label, va="center", ha="left", fontsize=fontsize)


def _legend_right(ax: Any, handles: list[Any]) -> None:
    """The legend to the right of ``ax``, its top level with the axes' top."""
    if handles:
        fig = ax.figure
        w_in, h_in = fig.get_size_inches()
        pos = ax.get_position()
        small = len(handles) > 12
        _key(fig, handles, pos.x1 * w_in + 0.1, (1 - pos.y1) * h_in, fontsize=7 if small else 8,
             row_in=0.15 if small else 0.17, max_chars=int((w_in - pos.x1 * w_in - 0.3) / 0.05))


def _phase_line(ax: Any, run: RunData) -> None:
    if run.main_end is not None and run.main_end < run.end_time:
        ax.axvline(run.main_end / NS, color="#888", lw=0.8, ls="--", zorder=1)


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
    ops = [o for o in done if o.end - o.start >= 1000]
    instant = collections.Counter(o.f for o in done if o.end - o.start < 1000)
    title = "Latency by operation and outcome"
    if instant:
        title += (f" ({sum(instant.values())} operations answered at once by the client, not drawn: "
                  + ", ".join(f"{n} {f}" for f, n in sorted(instant.items(), key=lambda kv: (-kv[1], kv[0]))) + ")")
    with matplotlib.rc_context(STYLE):
        fig, ax, fam_handles = _time_frame(run, 3.0, title, name_windows=True, numbered=True)
        groups: dict[tuple[str, Any], tuple[list[float], list[float]]] = {}
        for o in ops:
            xs, ys = groups.setdefault((o.f, o.type), ([], []))
            xs.append(o.start / NS)
            ys.append((o.end - o.start) / 1e6)
        kinds = sorted({f for f, _ in groups})
        marker = {f: MARKERS.get(f) or OTHER_MARKERS[i % len(OTHER_MARKERS)] for i, f in enumerate(kinds)}
        for (f, typ), (xs, ys) in sorted(groups.items(), key=lambda kv: (kv[0][1] != "ok", str(kv[0]))):
            ax.scatter(xs, ys, s=9, marker=marker[f], c=OUTCOME_COLOURS.get(typ, "#777"),
                       alpha=0.7, linewidths=0, zorder=2)
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
        if o.type in counts:
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
    roles = {r for ss in segs.values() for _, _, r, _ in ss}
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    ecol = {e: cmap(i % 10) for i, e in enumerate(epochs)}
    # One broken_barh (one collection) per style rather than per segment: a ZAB run has
    # hundreds of segments, and each collection costs a draw call.
    bars: dict[tuple, list[tuple[float, float]]] = {}
    labels: list[tuple[float, float, str, bool]] = []
    nrow = len(servers)
    for i, s in enumerate(reversed(servers)):
        for t0, t1, role, epoch in segs.get(s, []):
            x, w = t0 / NS, max((t1 - t0) / NS, 0.02)
            bars.setdefault((role, epoch if role in ("leading", "following") else None, i), []).append((x, w))
            if role == "leading":
                labels.append((x + w / 2, i, f"e{epoch}", w > 1.2))
    leads = any(r in ("leading", "following", "looking") for r in roles)
    title = ("Who leads (epoch), follows, looks, is down" if leads
             else "Servers up and down (the trace names no leader)")
    with matplotlib.rc_context(STYLE):
        # Lighter fault shading here: the following bars are pastel too.
        fig, ax, fam_handles = _time_frame(run, 0.3 * nrow + 0.25, title, name_windows=False, shade_alpha=0.1)
        ax.grid(False, axis="y")
        # One collection per role (rectangles with their own colours), not per bar row:
        # each collection is a draw call and an autoscale.
        from matplotlib.collections import PolyCollection
        from matplotlib.colors import to_rgb

        half = {"leading": 0.38, "following": 0.2, "looking": 0.2, "down": 0.12}
        polys: dict[str, tuple[list, list, list]] = {}
        for (role, epoch, i), xs in bars.items():
            hh = half.get(role, 0.06)
            c = ecol.get(epoch, "#333" if role == "leading" else "#888")
            ps, fcs, ecs = polys.setdefault(role, ([], [], []))
            for x, w in xs:
                ps.append([(x, i - hh), (x + w, i - hh), (x + w, i + hh), (x, i + hh)])
                if role == "following":
                    fcs.append((*to_rgb(c), 0.45))
                    ecs.append(c)
                elif role == "leading":
                    fcs.append(c)
        style = {
            "leading": {"edgecolors": "none"},
            "following": {"linewidths": 0.6},
            "looking": {"facecolors": "white", "edgecolors": "#999", "hatch": "////", "linewidths": 0.4},
            "down": {"facecolors": "#333", "edgecolors": "none"},
        }
        for role, (ps, fcs, ecs) in polys.items():
            kw = dict(style.get(role, {"facecolors": "#bbb", "edgecolors": "none"}))
            if fcs:
                kw["facecolors"] = fcs
            if ecs:
                kw["edgecolors"] = ecs
            ax.add_collection(PolyCollection(ps, zorder=2, **kw), autolim=False)
        for x, y, text, inside in labels:
            if inside:
                ax.text(x, y, text, ha="center", va="center", fontsize=7, color="white", zorder=3)
            else:  # too short to hold its label: write it above the bar
                ax.text(x, y + 0.4, text, ha="center", va="bottom", fontsize=6, color="#222", zorder=3)
        ax.set_yticks(range(nrow), list(reversed(servers)))
        ax.set_ylim(-0.6, nrow - 0.3)
        ax.set_xlim(0, run.end_time / NS)
        ax.set_xlabel("time (simulated s)")
        _phase_line(ax, run)
        handles = []
        if epochs:
            handles.append(Patch(color=ecol[epochs[0]], label="leading (colour: epoch eN)"))
            handles.append(Patch(facecolor=(*matplotlib.colors.to_rgb(ecol[epochs[0]]), 0.45), edgecolor=ecol[epochs[0]],
                                 label="following (leader's epoch colour)"))
        if "looking" in roles:
            handles.append(Patch(facecolor="white", edgecolor="#999", hatch="////", label="looking"))
        handles.append(Patch(color="#333", label="down (crashed)"))
        if "up" in roles:
            handles.append(Patch(color="#bbb", label="up, role not traced"))
        _legend_right(ax, handles + fam_handles)
        return _save(fig, Path(path))


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
            _shade(ax, run, alpha=0.15)
            ax.set_xlim(0, run.end_time / NS)
            ax.set_ylabel("offset")
            ax.set_title(f"partition {p}: log end offset (solid), high watermark (dashed)", loc="left", y=1.0)
            handles, _ = ax.get_legend_handles_labels()
            _legend_right(ax, handles)
        ax.set_xlabel("time (simulated s)")
        return _save(fig, Path(path))


def plot_unseen(run: RunData | Path | str, path: Path | str) -> Path | None:
    """Queue: acknowledged values no poll has returned yet, per key, over time.

    From a checker result's ``unseen_over_time`` (the durability checker's: a list of
    ``{"time", "unseen": {key: count}}``). A curve that falls back to zero was only late;
    one that stays up through the final drain is lost writes (docs/anomalies.md).
    """
    run = _load(run)
    points = None
    for res in run.checkers.values():
        u = res.details.get("unseen_over_time")
        if isinstance(u, list) and u:
            points = u
            break
    if not points:
        return None
    series: dict[str, tuple[list[float], list[float]]] = {}
    for p in points:
        if not isinstance(p, dict):
            continue
        t, counts = p.get("time"), p.get("unseen")
        if not isinstance(t, (int, float)) or not isinstance(counts, dict):
            continue
        for key in set(series) | set(counts):
            xs, ys = series.setdefault(str(key), ([], []))
            v = counts.get(key, 0)
            xs.append(t / NS)
            ys.append(v if isinstance(v, (int, float)) else 0)
    if not series:
        return None
    with matplotlib.rc_context(STYLE):
        fig, ax, fam_handles = _time_frame(run, 2.0, "Unseen acknowledged writes by key", name_windows=False)
        for key, (xs, ys) in sorted(series.items()):
            ax.step(xs, ys, where="post", lw=1.2, label=key)
        ax.set_xlim(0, run.end_time / NS)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("time (simulated s)")
        ax.set_ylabel("values")
        _phase_line(ax, run)
        handles, _ = ax.get_legend_handles_labels()
        _legend_right(ax, handles[:20] + fam_handles)
        return _save(fig, Path(path))


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
                jobs: int | None = None) -> dict[str, Path]:
    """Draw every plot that has data into ``out_dir`` (default: the run directory).

    Returns plot name -> path of what was written; a stale PNG of a plot that now has
    no data is removed, so the page never shows a picture of another run.

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
    if jobs is None:
        jobs = default_jobs()
    child = _fork_plots(run, out, CHILD_PLOTS) if jobs > 1 else None
    written: dict[str, Path] = {}
    mine = [n for n in PLOTTERS if child is None or n not in CHILD_PLOTS]
    for name in mine:
        _draw_one(run, out, name, written)
    if child is not None:
        done = _join_child(*child)
        for name in CHILD_PLOTS:
            if done is None:  # the child failed: draw its plots here
                _draw_one(run, out, name, written)
            elif name in done:
                written[name] = out / FILES[name]
    return {name: written[name] for name in PLOTTERS if name in written}


def warm_up() -> None:
    """Draw and encode a small throwaway figure in the plots' style, so that the first
    real plot of this process does not pay for loading the font and the drawing code
    (about a third of the first plot's time). For a process that imports the plots
    before it has a run to draw (`reports.prefork`); changes nothing that is drawn."""
    import io

    with matplotlib.rc_context(STYLE):
        fig = _figure(2, 1)
        ax = fig.add_subplot(1, 1, 1)
        ax.plot([0, 1], [0, 1], marker="o", label="x")
        ax.fill_betweenx([0, 1], 0, 0.5, alpha=0.2)
        ax.set_title("warm-up 0123456789")
        ax.set_xlabel("time (s)")
        ax.legend(loc="upper left")
        fig.text(0.5, 0.5, "F1 partition", fontsize=8)
        fig.savefig(io.BytesIO(), dpi=DPI, format="png", pil_kwargs={"compress_level": 1})


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
    import gc

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
    if pid == 0:  # the child: draw, report, leave without running the parent's exit code
        code = 1
        try:
            gc.disable()  # short-lived: no collections at all
            os.close(r)
            written: dict[str, Path] = {}
            for name in names:
                _draw_one(run, out, name, written)
            os.write(w, ("".join(n + "\n" for n in written) + "ok\n").encode())
            code = 0
        except BaseException:  # noqa: BLE001 - reported as a failure; the parent redraws
            pass
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


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
