"""Inline SVG drawn on the server: readable with JavaScript off, searchable, printable.

Three pictures, all on a time axis in simulated seconds:

- `fault_timeline`: one lane per nemesis family, a bar per fault window (F1, F2...);
- `process_timeline`: one row per client worker, a bar per operation from invoke to
  completion coloured by outcome, fault windows shaded behind;
- `linearizability_view`: the operations around a linearizability failure, per process,
  numbered in the order of the longest linearizable prefix, with the op that breaks it.

Why not a JavaScript chart library: the page must read in a CI artifact viewer, in a
mail attachment and in a headless browser, none of which promise to run scripts. Hover
detail comes from SVG ``<title>`` elements, which browsers show as tooltips natively.

Every string from a run (values, keys, node names, labels) goes through
`markupsafe.escape`; the result is returned as `Markup` for the autoescaping templates.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from typing import Any

from markupsafe import Markup, escape

from reports.rundata import (
    FAMILIES,
    FAMILY_COLOURS,
    NS,
    OUTCOME_COLOURS,
    FaultWindow,
    Operation,
    RunData,
    family_description,
    fmt_value,
)

#: width of the drawing area and of the row labels, in CSS px: the page is laid out for
#: a 1400 px window, the usual laptop width
PLOT_W = 1120
LABEL_W = 110
FONT = "font-family=\"system-ui, sans-serif\" font-size=\"11\""


class Scale:
    """Simulated ns -> x in px."""

    def __init__(self, t0: int, t1: int, x0: float = LABEL_W, width: float = PLOT_W):
        self.t0, self.t1 = t0, max(t1, t0 + 1)
        self.x0, self.width = x0, width

    def __call__(self, t: float) -> float:
        return self.x0 + (t - self.t0) * self.width / (self.t1 - self.t0)


def _nice_step(span_s: float, max_ticks: int = 12) -> float:
    for step in (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
                 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span_s / step <= max_ticks:
            return step
    return span_s / max_ticks


def _axis(sc: Scale, y: float, height: float, unit: str = "simulated seconds") -> list[str]:
    """Ticks and light grid lines from ``y`` down ``height`` px, labels below."""
    span = (sc.t1 - sc.t0) / NS
    step = _nice_step(span)
    decimals = 0 if step >= 1 else len(f"{step:.4f}".rstrip("0").split(".")[1])
    out = []
    first = int((sc.t0 / NS) / step) * step
    k = 0
    t = first
    while t <= sc.t1 / NS + 1e-9 and k < 200:
        if t >= sc.t0 / NS - 1e-9:
            x = sc(t * NS)
            out.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + height:.1f}" '
                       f'stroke="#e4e4e4" stroke-width="1"/>')
            out.append(f'<text x="{x:.1f}" y="{y + height + 13:.1f}" text-anchor="middle" fill="#555">'
                       f'{t:.{decimals}f}</text>')
        k += 1
        t = first + k * step
    out.append(f'<text x="{sc.x0 + sc.width:.1f}" y="{y + height + 26:.1f}" text-anchor="end" '
               f'fill="#555">{unit}</text>')
    return out


def _unit(run: RunData) -> str:
    # a live run's times are wall-clock seconds since it started
    return "seconds" if run.results.get("live") else "simulated seconds"


def _svg(width: float, height: float, body: Iterable[str], label: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(label)}" {FONT}>'
        + "".join(body) + "</svg>"
    )


def _window_tip(w: FaultWindow) -> str:
    eff = "" if w.changed else " (no effect: nothing to do)"
    return f"{w.name} {w.detail}{eff}: {w.start / NS:.3f}–{w.end / NS:.3f} s"


def _pack(windows: list[FaultWindow], sc: Scale, label_px: float = 0) -> list[list[FaultWindow]]:
    """Rows of windows that do not overlap on screen (greedy, in start order): windows of
    one family that overlap in time (a second power cut before the first one's servers
    are all back, two kills) get rows of their own instead of hiding each other."""
    rows: list[list[FaultWindow]] = []
    ends: list[float] = []
    for w in sorted(windows, key=lambda w: (w.start, w.number)):
        x0 = sc(w.start)
        x1 = max(sc(w.end), x0 + 2.0, x0 + label_px)
        for i, e in enumerate(ends):
            if x0 >= e + 1:
                rows[i].append(w)
                ends[i] = x1
                break
        else:
            rows.append([w])
            ends.append(x1)
    return rows


def fault_timeline(run: RunData) -> Markup | None:
    """One lane per fault family; each window a bar labelled F<n> and its short label.
    Windows of a family that overlap in time stack in rows of the lane."""
    windows = run.windows
    if not windows:
        return None
    sc = Scale(0, run.end_time)
    fams = [f for f in FAMILIES if any(w.family == f for w in windows)]
    row_h, top = 22, 6
    packed = {f: _pack([w for w in windows if w.family == f], sc, label_px=22) for f in fams}
    body: list[str] = []
    h = top + sum(row_h * len(packed[f]) + 4 for f in fams)
    body += _axis(sc, top, h - top, _unit(run))
    if run.main_end is not None and run.main_end < run.end_time:
        x = sc(run.main_end)
        body.append(f'<rect x="{x:.1f}" y="{top}" width="{sc.x0 + sc.width - x:.1f}" height="{h - top}" '
                    f'fill="#f4f4f4"><title>after the main phase: every fault healed, final reads'
                    f'</title></rect>')  # the page's caption says what the grey is
    y = top
    for fam in fams:
        rows = packed[fam]
        lane_h = row_h * len(rows) + 4
        body.append(f'<text x="{LABEL_W - 8}" y="{y + lane_h / 2 + 4:.1f}" text-anchor="end" fill="#333">'
                    f'<title>{escape(family_description(fam))}</title>{escape(fam)}</text>')
        body.append(f'<line x1="{LABEL_W}" y1="{y + lane_h:.1f}" x2="{LABEL_W + PLOT_W}" y2="{y + lane_h:.1f}" '
                    f'stroke="#ddd"/>')
        for r, row in enumerate(rows):
            ry = y + 2 + r * row_h
            for _k, w in enumerate(row):
                x0, x1 = sc(w.start), sc(w.end)
                wd = max(x1 - x0, 2.0)
                op = "0.85" if w.changed else "0.35"
                body.append(
                    f'<g><title>{escape(_window_tip(w))}</title>'
                    f'<rect x="{x0:.1f}" y="{ry + 2}" width="{wd:.1f}" height="{row_h - 4}" rx="3" '
                    f'fill="{FAMILY_COLOURS[fam]}" fill-opacity="{op}" stroke="#555" stroke-width="0.5"/>'
                )
                text = f"{w.name} {w.label}"
                # ~6 px per character at 11 px: print what fits, the tooltip has the rest
                fit = int((wd - 6) / 6.2)
                if fit >= 2:
                    shown = text if len(text) <= fit else text[: max(fit - 1, 1)] + "…"
                    body.append(f'<text x="{x0 + 4:.1f}" y="{ry + 15}" fill="#111">{escape(shown)}</text>')
                else:  # too narrow for a label inside: its F-number beside it
                    body.append(f'<text x="{x0 + wd + 2:.1f}" y="{ry + 15}" fill="#333" font-size="10">'
                                f'{escape(w.name)}</text>')
                body.append("</g>")
        y += lane_h
    return _svg(LABEL_W + PLOT_W + 10, h + 32, body, "fault timeline")


def _shade_windows(run: RunData, sc: Scale, y: float, height: float) -> list[str]:
    """Fault windows as translucent bands behind a timeline, numbered along the top."""
    out = []
    fams = [f for f in FAMILIES if any(w.family == f for w in run.windows)]
    lane = {f: i for i, f in enumerate(fams)}
    for w in run.windows:
        x0, x1 = sc(w.start), sc(w.end)
        out.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 1.5):.1f}" height="{height:.1f}" '
                   f'fill="{FAMILY_COLOURS[w.family]}" fill-opacity="0.16"><title>{escape(_window_tip(w))}'
                   f'</title></rect>')
        ly = y - 4 - 11 * (len(fams) - 1 - lane[w.family])
        out.append(f'<text x="{x0 + 1:.1f}" y="{ly:.1f}" fill="{_darken(FAMILY_COLOURS[w.family])}" '
                   f'font-size="10"><title>{escape(_window_tip(w))}</title>{escape(w.name)}</text>')
    return out


def _darken(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"#{int(r * 0.55):02x}{int(g * 0.55):02x}{int(b * 0.55):02x}"


def _op_tip(op: Operation) -> str:
    key = "" if op.key is None else f" {fmt_value(op.key, 40)}"
    arg = "" if op.value is None else f" {fmt_value(op.value, 80)}"
    res = op.type or "no completion"
    if op.type == "ok" and op.result is not None and op.result != op.value:
        res += f" {fmt_value(op.result, 80)}"
    lat = f", {op.latency / 1e6:.1f} ms" if op.latency is not None else ""
    node = f" at {op.node}" if op.node is not None else ""
    err = f" ({fmt_value(op.error, 60)})" if op.error is not None else ""
    a = "?" if op.invoke_index is None else op.invoke_index
    b = "…" if op.complete_index is None else op.complete_index
    return (f"history {a}–{b}, process {op.process}: {op.f}{key}{arg} → {res}{node}{err}"
            f" [{op.start / NS:.3f}–{'…' if op.end is None else f'{op.end / NS:.3f}'} s{lat}]")


def process_timeline(run: RunData, flagged: dict[int, str] | None = None) -> Markup | None:
    """Every operation as a bar from invoke to completion, one row per client worker.

    A worker's process id changes after an ``info`` (Jepsen's rule), so rows are workers
    (process mod clients) and each bar's tooltip names its process. ``flagged`` maps the
    invoke index of operations involved in an anomaly to the anchor of its explanation;
    those bars get a black outline and link there.
    """
    ops = run.operations
    if not ops:
        return None
    flagged = flagged or {}
    clients = run.clients
    rows: dict[Any, int] = {}
    row_names: list[str] = []
    row_procs: list[set] = []

    def row_of(op: Operation) -> int:
        p = op.process
        r = p % clients if clients and isinstance(p, int) else p
        if r not in rows:
            rows[r] = len(row_names)
            row_names.append(f"worker {r}" if clients and isinstance(p, int) else f"process {r}")
            row_procs.append(set())
        row_procs[rows[r]].add(p)
        return rows[r]

    placed = [(row_of(op), op) for op in ops]
    order = sorted(range(len(row_names)), key=lambda i: (str(type(list(rows)[i])), list(rows)[i]))
    remap = {old: new for new, old in enumerate(order)}
    n = len(row_names)
    fams = len({w.family for w in run.windows})
    row_h = 16
    top = 8 + 11 * fams
    sc = Scale(0, run.end_time)
    body: list[str] = []
    body += _axis(sc, top, n * row_h, _unit(run))
    if run.main_end is not None and run.main_end < run.end_time:
        x = sc(run.main_end)
        body.append(f'<rect x="{x:.1f}" y="{top}" width="{sc.x0 + sc.width - x:.1f}" height="{n * row_h}" '
                    f'fill="#f2f2f2"><title>after the main phase: every fault healed, final reads</title></rect>')
    body += _shade_windows(run, sc, top, n * row_h)
    for new, old in enumerate(order):
        y = top + new * row_h
        procs = ", ".join(str(p) for p in sorted(row_procs[old], key=str))
        body.append(f'<text x="{LABEL_W - 8}" y="{y + 12}" text-anchor="end" fill="#333">'
                    f'<title>processes {escape(procs)}</title>{escape(row_names[old])}</text>')
        if new % 2:
            body.append(f'<rect x="{LABEL_W}" y="{y}" width="{PLOT_W}" height="{row_h}" fill="#000" '
                        f'fill-opacity="0.025"/>')
    # Group bars by outcome so each group sets its fill once (smaller pages).
    groups: dict[Any, list[str]] = {}
    marks: list[str] = []
    end = run.end_time
    for old, op in placed:
        y = top + remap[old] * row_h + 3
        x0 = sc(op.start)
        x1 = sc(op.end if op.end is not None else end)
        w = max(x1 - x0, 1.5)
        rect = (f'<rect x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}">'
                f'<title>{escape(_op_tip(op))}</title></rect>')
        anchor = flagged.get(op.invoke_index) if op.invoke_index is not None else None
        if anchor is not None:
            marks.append(
                f'<a href="#{escape(anchor)}"><rect x="{x0 - 1:.1f}" y="{y - 2}" width="{w + 2:.1f}" '
                f'height="{row_h - 2}" fill="{OUTCOME_COLOURS.get(op.type, "#777")}" stroke="#000" '
                f'stroke-width="1.5"><title>anomaly: {escape(_op_tip(op))}</title></rect>'
                f'<path d="M{x0 + w / 2 - 4:.1f},{y - 7} l8,0 l-4,5 z" fill="#000"/></a>')
        else:
            groups.setdefault(op.type if op.type in OUTCOME_COLOURS else None, []).append(rect)
    for typ in ("ok", "info", "fail", None):
        if groups.get(typ):
            dash = ' fill-opacity="0.55"' if typ is None else ""
            body.append(f'<g fill="{OUTCOME_COLOURS[typ]}"{dash}>' + "".join(groups[typ]) + "</g>")
    body += marks
    return _svg(LABEL_W + PLOT_W + 10, top + n * row_h + 32, body, "per-process timeline of operations")


LIN_COLOURS = {
    "prefix": "#4e79a7",
    "failing": "#d62728",
    "pending": "#f28e2b",
    "other": "#bab0ac",
}


def linearizability_view(run: RunData, lin: Any) -> Markup | None:
    """The operations around a linearizability failure, per process (as Porcupine draws it).

    Blue bars are in the longest linearizable prefix, numbered by their place in it; the
    red bar is the operation that cannot be linearized after it; orange bars were pending
    (could have come next, none can); grey bars are other operations on the key.
    """
    window: list[Operation] = list(lin.window)
    if not window:
        return None
    pending = {id(o) for o in lin.pending}
    t0 = min(o.start for o in window)
    t1 = max((o.end if o.end is not None else o.start) for o in window)
    pad = max((t1 - t0) // 25, 1)
    open_end = t1 + pad
    sc = Scale(t0 - pad, t1 + 2 * pad)
    procs = sorted({o.process for o in window}, key=lambda p: (str(type(p)), p))
    row = {p: i for i, p in enumerate(procs)}
    row_h, top = 36, 6
    body: list[str] = []
    body += _axis(sc, top, row_h * len(procs), _unit(run))
    for p, i in row.items():
        y = top + i * row_h
        body.append(f'<text x="{LABEL_W - 8}" y="{y + 22}" text-anchor="end" fill="#333">'
                    f'process {escape(str(p))}</text>')
        body.append(f'<line x1="{LABEL_W}" y1="{y + row_h}" x2="{LABEL_W + PLOT_W}" y2="{y + row_h}" stroke="#eee"/>')
    # Fault windows overlapping the zoomed range, for context.
    for w in run.windows:
        if w.end < sc.t0 or w.start > sc.t1:
            continue
        x0, x1 = sc(max(w.start, sc.t0)), sc(min(w.end, sc.t1))
        body.append(f'<rect x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 1):.1f}" height="{row_h * len(procs)}" '
                    f'fill="{FAMILY_COLOURS[w.family]}" fill-opacity="0.14"><title>{escape(_window_tip(w))}'
                    f'</title></rect>')
    # Each label may run until the next operation of its row starts; past that it is cut
    # to its mark (#n, ✗, ?): the tooltip and the table below have the rest.
    next_x: dict[int, float] = {}
    by_row: dict[Any, list[Operation]] = {}
    for o in window:
        by_row.setdefault(o.process, []).append(o)
    for ops_ in by_row.values():
        ops_.sort(key=lambda o: o.start)
        for a, b in pairwise(ops_):
            next_x[id(a)] = sc(b.start)
    for o in window:
        y = top + row[o.process] * row_h
        pos = lin.position.get(o.invoke_index) if o.invoke_index is not None else None
        if o is lin.failing:
            cat, mark = "failing", "✗"
        elif pos is not None:
            cat, mark = "prefix", f"#{pos}"
        elif id(o) in pending:
            cat, mark = "pending", "?"
        else:
            cat, mark = "other", ""
        label = (mark + " " + _short_op(o)).strip()
        x0 = sc(o.start)
        x1 = sc(o.end if o.end is not None else open_end)
        width = max(x1 - x0, 3)
        room = next_x.get(id(o), LABEL_W + PLOT_W + 200) - x0 - 4
        if len(label) * 6.6 > room:
            label = (mark if mark and len(mark) * 6.6 <= room + 12
                     else (mark or label[: max(int(room / 6.6) - 1, 1)] + "…"))
        stroke = ' stroke="#000" stroke-width="2"' if cat == "failing" else ""
        body.append(f'<g><title>{escape(_op_tip(o))}</title>'
                    f'<rect x="{x0:.1f}" y="{y + 18}" width="{width:.1f}" height="12" rx="2" '
                    f'fill="{LIN_COLOURS[cat]}"{stroke}/>')
        if o.end is None:
            body.append(f'<text x="{x1 + 2:.1f}" y="{y + 28}" fill="#777">→</text>')
        weight = ' font-weight="bold"' if cat in ("failing", "prefix") else ""
        body.append(f'<text x="{x0:.1f}" y="{y + 14}" fill="{_darken(LIN_COLOURS[cat]) if cat != "other" else "#666"}"'
                    f'{weight}>{escape(label)}</text></g>')
    return _svg(LABEL_W + PLOT_W + 10, top + row_h * len(procs) + 32, body,
                "operations around the linearizability failure")


def _short_op(o: Operation) -> str:
    if o.f == "read":
        return f"read → {fmt_value(o.result, 24)}" if o.type == "ok" else "read ?"
    if o.value is None:
        return o.f
    return f"{o.f} {fmt_value(o.value, 24)}" + ("" if o.type == "ok" else " (info)")
