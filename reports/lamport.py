"""The Lamport (space-time) diagram of a live Maelstrom run, around its first anomaly.

One horizontal line per node (the failed operation's client first, then the servers,
then the services that took part), one arrow per message from its send to its receipt
(a dropped message ends in a cross halfway, with why in its tooltip), the client
operation that failed drawn as a bar on its client's line, and the fault windows of
those moments shaded: a partition across the whole picture, a kill or pause on its
node's line. Drawn from ``messages.jsonl`` (the network's log, times in ns since the
main phase began, as the history's), so only live Maelstrom runs have one.

Which operation: the first operation of the first counted failing checker's anomalies
(as the page lists them), else the operation a checker names in ``focus_index``.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup, escape

from reports.rundata import Operation, RunData, natural_key

#: ns shown before the operation's invoke and after its completion
MARGIN_NS = 150_000_000
#: at most this many messages drawn (those of the operation's client and server first)
MAX_MESSAGES = 160
LANE_H = 26
LABEL_W = 70
PLOT_W = 1100
COLOURS = {"client": "#1f77b4", "server": "#555555", "service": "#2ca02c", "dropped": "#d62728"}


def _focus(run: RunData, views: list[Any]) -> Operation | None:
    for v in views:
        if not v.counted or v.valid is not False:
            continue
        for a in v.anomalies:
            for op in a.ops:
                return op
    for c in (run.results.get("checkers") or {}).values():
        i = c.get("focus_index") if isinstance(c, dict) else None
        if isinstance(i, int):
            for op in run.operations:
                if i in (op.invoke_index, op.complete_index):
                    return op
    return None


def _messages(run: RunData, t0: int, t1: int) -> list[dict]:
    p = run.dir / "messages.jsonl"
    out = []
    try:
        with open(p) as f:
            for line in f:
                m = json.loads(line)
                if t0 <= m["sent"] <= t1:
                    out.append(m)
    except (OSError, ValueError, KeyError):
        return []
    return out


def lamport_diagram(run: RunData, views: list[Any]) -> Markup | None:
    """The SVG, or None when the run has no message log or nothing failed."""
    if not (run.dir / "messages.jsonl").exists():
        return None
    op = _focus(run, views)
    if op is None:
        return None
    clients = int(run.config.get("clients", 1) or 1)
    client = f"c{int(op.process) % clients + 1}" if isinstance(op.process, int) else None
    end = op.end if op.end is not None else op.start + 1_000_000_000
    t0, t1 = op.start - MARGIN_NS, end + MARGIN_NS
    msgs = _messages(run, t0, t1)
    if not msgs:
        return None
    mine = {client, op.node}
    msgs.sort(key=lambda m: (not ({m["src"], m["dest"]} & mine), abs(m["sent"] - op.start)))
    msgs = sorted(msgs[:MAX_MESSAGES], key=lambda m: m["sent"])
    names = {m["src"] for m in msgs} | {m["dest"] for m in msgs}
    if client:
        names.add(client)
    servers = sorted((n for n in names if n[:1] == "n" and n[1:].isdigit()), key=natural_key)
    cl = sorted((n for n in names if n[:1] == "c" and n[1:].isdigit()), key=natural_key)
    if client in cl:
        cl.remove(client)
        cl.insert(0, client)
    others = sorted(n for n in names if n not in servers and n not in cl)
    lanes = cl + servers + others
    y = {n: 30 + i * LANE_H for i, n in enumerate(lanes)}
    height = 30 + len(lanes) * LANE_H + 10
    width = LABEL_W + PLOT_W + 20

    def x(t: float) -> float:
        return LABEL_W + (min(max(t, t0), t1) - t0) / (t1 - t0) * PLOT_W

    body: list[str] = [('<defs><marker id="lamport-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="6" '
                        'markerHeight="6" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="context-stroke"/>'
                        '</marker></defs>')]
    for w in run.windows:
        if w.end < t0 or w.start > t1:
            continue
        tip = escape(f"F{w.number} {w.label}: {w.detail}")
        node = (w.start_record or {}).get("node")
        if w.family == "partition" or node not in y:
            body.append(f'<rect x="{x(w.start):.1f}" y="18" width="{max(1.0, x(w.end) - x(w.start)):.1f}" '
                        f'height="{height - 24}" fill="#ff7f0e" opacity="0.10"><title>{tip}</title></rect>'
                        f'<text x="{x(w.start) + 2:.1f}" y="14" fill="#b25000">F{w.number} {escape(w.kind)}</text>')
        else:
            body.append(f'<rect x="{x(w.start):.1f}" y="{y[node] - 9}" width="{max(1.0, x(w.end) - x(w.start)):.1f}" '
                        f'height="18" fill="#9467bd" opacity="0.25"><title>{tip}</title></rect>')
    for n in lanes:
        body.append(f'<text x="4" y="{y[n] + 4}">{escape(n)}</text>'
                    f'<line x1="{LABEL_W}" y1="{y[n]}" x2="{LABEL_W + PLOT_W}" y2="{y[n]}" stroke="#ccc"/>')
    if client in y:
        colour = {"ok": "#2ca02c", "fail": "#d62728", "info": "#ff7f0e"}.get(op.type or "", "#7f7f7f")
        tip = escape(f"op {op.invoke_index}: {op.f} {op.key if op.key is not None else ''} "
                     f"{op.value!r} -> {op.type} {op.result!r} on {op.node}")
        body.append(f'<rect x="{x(op.start):.1f}" y="{y[client] - 5}" width="{max(2.0, x(end) - x(op.start)):.1f}" '
                    f'height="10" fill="{colour}" stroke="#000" stroke-width="1.5"><title>{tip}</title></rect>'
                    f'<text x="{x(op.start):.1f}" y="{y[client] - 8}" font-weight="bold">▼ op {op.invoke_index} '
                    f'{escape(op.f)}</text>')
    for m in msgs:
        src, dest = m["src"], m["dest"]
        kind = "service" if src in others or dest in others else "client" if src in cl or dest in cl else "server"
        x1, y1, y2 = x(m["sent"]), y[src], y[dest]
        tip = escape(f"{m.get('type')} {src}→{dest} msg_id {m.get('msg_id')} in_reply_to {m.get('in_reply_to')}, "
                     f"sent {m['sent'] / 1e9:.4f} s, "
                     + (f"dropped ({m['dropped']})" if "dropped" in m else
                        f"received {m['received'] / 1e9:.4f} s" if "received" in m else "never received"))
        if "received" in m:
            x2 = x(m["received"])
            body.append(f'<line x1="{x1:.1f}" y1="{y1}" x2="{x2:.1f}" y2="{y2}" stroke="{COLOURS[kind]}" '
                        f'stroke-width="1" marker-end="url(#lamport-arrow)"><title>{tip}</title></line>')
        else:
            xm, ym = x1 + 12, (y1 + y2) / 2
            body.append(f'<line x1="{x1:.1f}" y1="{y1}" x2="{xm:.1f}" y2="{ym:.1f}" stroke="{COLOURS["dropped"]}" '
                        f'stroke-dasharray="3,2"><title>{tip}</title></line>'
                        f'<text x="{xm - 3:.1f}" y="{ym + 4:.1f}" fill="{COLOURS["dropped"]}">×'
                        f'<title>{tip}</title></text>')
    body.append(f'<text x="{LABEL_W}" y="{height - 2}" fill="#777">{t0 / 1e9:.3f} s</text>'
                f'<text x="{LABEL_W + PLOT_W - 50}" y="{height - 2}" fill="#777">{t1 / 1e9:.3f} s</text>')
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 8}" '
                  f'viewBox="0 0 {width} {height + 8}" role="img" aria-label="messages around op '
                  f'{op.invoke_index}" font-family="system-ui, sans-serif" font-size="11">' + "".join(body) + "</svg>")
