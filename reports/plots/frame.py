"""The time frame the time plots share: a figure with one time axes laid out by hand,
every fault window shaded, their F-numbers (F1, F2... in start order, as on the HTML
page) in lanes above, a legend naming them below, a legend to the right drawn as plain
figure artists, and the dashed line where the main phase ends."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from reports.plots.style import _figure
from reports.rundata import FAMILIES, FAMILY_COLOURS, NS, RunData

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
    fig.subplots_adjust(left=LEFT_IN / WIDTH_IN, right=1 - RIGHT_IN / WIDTH_IN, top=1 - top_in / h,
                        bottom=bottom_in / h)
    ax = fig.add_subplot()
    # An explicit y turns off matplotlib's automatic title placement, which measures the
    # tight bounding box of the axis decorations on every draw.
    ax.set_title(title, loc="left", y=1.0, pad=4 + 11.5 * lanes)
    _shade(ax, run, shade_alpha)
    if numbered:
        from matplotlib.transforms import ScaledTranslation

        lane = {f: i for i, f in enumerate(fams)}
        trans = ax.get_xaxis_transform()
        # plain texts shifted by points (what annotate's offset points do, without an
        # annotation's arrow and clipping machinery)
        for w in windows:
            shift = ScaledTranslation(0, (2 + 11 * lane[w.family]) / 72, fig.dpi_scale_trans)
            ax.text(w.start / NS, 1.0, w.name, transform=trans + shift, fontsize=7,
                    color=_dark(FAMILY_COLOURS[w.family]), clip_on=False)
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
        art: Line2D | Rectangle
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
        # update_from copies the handle's transform and clipping too: a line drawn on an
        # axes (not a proxy) put its swatch in data coordinates, clipped to the axes, so
        # the key showed a label with no line beside it
        art.set_transform(tf)
        art.set_clip_on(False)
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
