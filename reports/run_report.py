"""The HTML page of one run: ``write_run_report(run_dir)`` writes ``run_dir/report.html``.

The page is built from the run directory alone (config.json, history.jsonl, trace.jsonl,
faults.jsonl, schedule.json, results.json) and shows, top to bottom: the verdict and the
command that reproduces the run; system, workload, seed and configuration; each checker's
result, with every anomaly explained in a sentence and the operations involved (history
indices); for a linearizability failure, the operations around it with the longest
linearizable prefix; the fault schedule as a timeline; every operation on a per-worker
timeline with the fault windows shaded behind; the PNG plots; links to the raw files.

Everything is drawn on the server (inline SVG, PNG) so the page reads with JavaScript
off. Templates are Jinja2 with autoescaping on: every value from a run — which is data
produced by the system under test, so anything — is escaped.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from reports.explain import (
    CheckerView,
    build_views,
    key_words,
    op_where,
    op_words,
    seconds,
    verdict_words,
    why_failed,
)
from reports.rundata import FAMILY_COLOURS, NS, RunData, fmt_value

TEMPLATES = Path(__file__).with_name("templates")

RAW_FILES = (
    ("config.json", "the run's configuration (with the seed): everything needed to re-run it"),
    ("results.json", "verdicts and each checker's full result"),
    ("history.jsonl", "client operations, Jepsen's model, one event a line"),
    ("trace.jsonl", "what the nodes did: elections, proposals, commits, crashes"),
    ("faults.jsonl", "what the nemesis did, with resolved targets"),
    ("schedule.json", "the fault schedule the run was given"),
    ("roles.jsonl", "live run: each server's mode and epoch as polled every 100 ms (changes only)"),
)

_env: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the reports: autoescape on, undefined names are errors."""
    global _env
    if _env is None:
        try:  # compiled templates kept between processes (keyed by the template's source)
            cache = jinja2.FileSystemBytecodeCache()
        except Exception:  # no usable temporary directory: compile each time
            cache = None
        _env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            bytecode_cache=cache,
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _env.filters["secs"] = seconds
        _env.filters["val"] = fmt_value
        _env.filters["where"] = op_where
        _env.filters["opw"] = op_words
        # a path that may wrap after each slash (copying it still gives one line)
        _env.filters["wbr"] = lambda text: Markup(str(escape(text)).replace("/", "/<wbr>"))
        _env.filters["keyw"] = key_words
        _env.filters["fam_colour"] = lambda fam: FAMILY_COLOURS.get(fam, "#cccccc")
        _env.globals["verdict_words"] = verdict_words
    return _env


def _config_rows(config: dict) -> list[tuple[str, str]]:
    rows = []
    for k, v in config.items():
        if k == "schedule" and isinstance(v, list):
            text = f"explicit schedule of {len(v)} faults (schedule.json)"
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (str, int, float)) for x in v):
            text = ", ".join(str(x) for x in v) if v else "none"
        elif isinstance(v, dict):
            text = json.dumps(v, sort_keys=True) if v else "none"
        elif v is None:
            text = "none"
        else:
            text = str(v)
        rows.append((str(k), text))
    return rows


def _stats_rows(run: RunData) -> list[tuple[str, str]]:
    s = run.results.get("stats")
    if not isinstance(s, dict):
        return []
    rows = []
    for k, v in s.items():
        if k == "simulated_ns" and isinstance(v, int):
            rows.append(("simulated time", f"{v / NS:.3f} s"))
        else:
            rows.append((k.replace("_", " "), str(v)))
    return rows


def repro_command(run_dir: Path) -> str:
    """``harness repro DIR`` with DIR absolute and quoted for a POSIX shell."""
    return f"harness repro {shlex.quote(str(Path(run_dir).resolve()))}"


def _leaders(run: RunData) -> list[dict[str, Any]]:
    """One row per established leadership: epoch, leader, when."""
    rows = []
    for rec in run.trace:
        if rec.get("kind") == "leader_established":
            rows.append({"epoch": rec.get("epoch"), "node": rec.get("node"), "time": rec.get("time")})
    return rows


def _flagged(views: list[CheckerView]) -> dict[int, str]:
    out: dict[int, str] = {}
    for v in views:
        for a in v.anomalies:
            for op in a.ops:
                if op.invoke_index is not None:
                    out.setdefault(op.invoke_index, a.anchor)
    return out


def render_run_report(run_dir: Path | str, plots: dict[str, Path] | None = None,
                      run: RunData | None = None, context: dict[str, Any] | None = None) -> str:
    """The HTML text of the page (``plots``: name -> PNG path already written, if any;
    ``context``: `page_context` of the run, when already made)."""
    run = run or RunData(run_dir)
    ctx = dict(context) if context is not None else page_context(run)
    ctx["plots"] = {k: os.path.relpath(p, run.dir) for k, p in (plots or {}).items()}
    return environment().get_template("run.html").render(ctx)


def page_context(run: RunData) -> dict[str, Any]:
    """What the page shows of ``run`` but its plots (``render_run_report`` adds them):
    nearly all the work of rendering it."""
    from reports.lamport import lamport_diagram
    from reports.svg import fault_timeline, linearizability_view, process_timeline

    views = build_views(run)
    lin_svgs = {}
    for v in views:
        if v.lin is not None:
            s = linearizability_view(run, v.lin)
            if s is not None:
                lin_svgs[v.name] = s
    valid = run.results.get("valid")
    text, css = verdict_words(valid)
    cfg = run.config
    system = run.results.get("system", cfg.get("system", "?"))
    workload = run.results.get("workload", cfg.get("workload", "?"))
    seed = run.results.get("seed", cfg.get("seed", "?"))
    bad = [v for v in views if v.counted and v.valid is False]
    expected = [v for v in views if not v.counted and v.valid is False]
    files = []
    for name, what in RAW_FILES:
        p = run.dir / name
        if p.exists():
            files.append({"name": name, "what": what, "size": p.stat().st_size})
    logs = run.dir / "logs"  # a live run's server logs and configs
    for p in sorted(logs.iterdir()) if logs.is_dir() else ():
        files.append({"name": f"logs/{p.name}", "what": "live run: a server's " +
                      ("log" if p.suffix == ".log" else "configuration"), "size": p.stat().st_size})
    return {
        "run": run,
        "title": f"{system} / {workload} seed {seed}: {text}",
        "system": system,
        "workload": workload,
        "seed": seed,
        "verdict_text": text,
        "verdict_class": css,
        "bad": bad,
        "expected": expected,
        "repro": repro_command(run.dir),
        "live_note": run.results.get("replay") if run.results.get("live") else None,
        "sha": run.results.get("history_sha256"),
        "config_rows": _config_rows(cfg),
        "stats_rows": _stats_rows(run),
        "views": views,
        "why": why_failed(run, views),
        "lin_svgs": lin_svgs,
        "windows": run.windows,
        "fault_svg": fault_timeline(run),
        "timeline_svg": process_timeline(run, _flagged(views)),
        "lamport_svg": lamport_diagram(run, views),  # live Maelstrom runs only
        "n_ops": len(run.operations),
        "files": files,
        "leaders": _leaders(run),
        "skipped": run.skipped_lines,
        "shrunk": _shrunk(run.dir),
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "NS": NS,
    }


def _shrunk(run_dir: Path) -> dict | None:
    """What ``harness shrink`` wrote beside a shrunk run (shrink.json): where it came
    from and the sizes before and after, for a line under the title."""
    p = Path(run_dir) / "shrink.json"
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(d, dict) or not isinstance(d.get("before"), dict) or not isinstance(d.get("after"), dict):
        return None
    sizes = [(k, d["before"].get(k), d["after"].get(k)) for k in d["after"]]
    return {"from": str(d.get("from", "?")), "kept": [str(k) for k in d.get("kept") or []],
            "sizes": sizes, "seconds": d.get("seconds"), "out_of_budget": bool(d.get("out_of_budget"))}


def write_run_report(run_dir: Path | str | RunData, plots: bool = True,
                     drawn: dict[str, bytes | None] | None = None, context: dict[str, Any] | None = None) -> Path:
    """Write ``run_dir/report.html`` (and, with ``plots``, the PNG plots beside it).
    ``run_dir`` may be the run already read; ``drawn``: plots already drawn
    (``reports.plots.draw_plots``), written as they are; ``context``: its `page_context`."""
    run = run_dir if isinstance(run_dir, RunData) else RunData(run_dir)
    written: dict[str, Path] = {}
    if plots:
        from reports.plots import write_plots

        written = write_plots(run, drawn=drawn)
    page = render_run_report(run.dir, written, run=run, context=context)
    out = run.dir / "report.html"
    tmp = out.with_name(".report.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out


__all__ = ["write_run_report", "render_run_report", "page_context", "repro_command", "environment"]
