"""Plots of the queue (Kafka) runs: each replica's log end offset and high watermark over
time, and the acknowledged values no poll had returned yet, per key."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from reports.plots.frame import _legend_right, _phase_line, _shade, _time_frame
from reports.plots.style import STYLE, _figure, _load, _save
from reports.rundata import NS, RunData

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
    fields = frozenset(LEO_FIELDS + HW_FIELDS)
    # only records with one of the fields (a ZAB run's trace has none: one pass in C)
    for rec in [r for r in run.trace if not fields.isdisjoint(r)]:
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
