"""Who leads: each server's role over time from the trace (leading in which epoch,
following, looking, down), as bars coloured by epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.patches import Patch

from reports.plots.frame import _legend_right, _phase_line, _time_frame
from reports.plots.style import STYLE, _load, _save
from reports.rundata import NS, RunData

#: trace kinds that say what role a server plays (ZAB vocabulary), and crash/restart
ROLE_KINDS = {"leader_established": "leading", "leading": "leading", "following": "following",
              "looking": "looking", "crash": "down", "restart": "up", "boot": "up"}


def leader_segments(run: RunData) -> dict[str, list[tuple[int, int, str, Any]]]:
    """Per server: (start, end, role, epoch) segments from the trace.

    Roles: leading (after ``leader_established``), following, looking, down (crashed),
    up (from the start or restarted, role not yet traced). Empty when the trace says nothing about roles.
    """
    segs: dict[str, list[tuple[int, int, str, Any]]] = {}
    # every server is up from the start until the trace says otherwise (a Kafka broker
    # traces no role: without this it showed only from its first crash, and one never
    # crashed not at all)
    current: dict[str, tuple[int, str, Any]] = {s: (0, "up", None) for s in run.servers}
    any_role = False
    roles = ROLE_KINDS.keys()
    for rec in [r for r in run.trace if r.get("kind") in roles]:  # a few hundred of a run's thousands
        kind: Any = rec.get("kind")
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
        if not isinstance(epoch, (int, str, type(None))) or isinstance(epoch, bool):
            epoch = None  # a damaged line: drawn without its epoch
        cur = current.get(node)
        if cur is not None:
            if cur[1] == role and cur[2] == epoch:
                continue
            if cur[1:] != ("up", None) or t > cur[0]:  # (a role traced at once replaces "up")
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
        style: dict[str, dict[str, Any]] = {
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
            handles.append(Patch(facecolor=(*matplotlib.colors.to_rgb(ecol[epochs[0]]), 0.45),
                                 edgecolor=ecol[epochs[0]], label="following (leader's epoch colour)"))
        if "looking" in roles:
            handles.append(Patch(facecolor="white", edgecolor="#999", hatch="////", label="looking"))
        handles.append(Patch(color="#333", label="down (crashed)"))
        if "up" in roles:
            handles.append(Patch(color="#bbb", label="up, role not traced"))
        _legend_right(ax, handles + fam_handles)
        return _save(fig, Path(path))
