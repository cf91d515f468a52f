"""The HTML page of a campaign: ``write_campaign_report(dir)`` writes ``dir/index.html``.

A campaign directory (harness/campaign.py) holds ``campaign.json`` (name, campaign seed,
runs, swarm, base config), ``index.jsonl`` (one line per finished run: ``run``, ``seed``,
``valid``, ``failed``, ``anomalies``, ``history_sha256``, ``wall_s``, ``run_dir``, maybe
``error``) and ``runs/<seed>/`` run directories. The page lists every run — failures
first — with its seed, fault kinds, verdict, anomalies, duration, a link to its report and
its repro command, and a bar chart of anomaly counts by kind. For an explorative campaign
(``--nemesis`` left out) the page says what each run draws instead of the base config's
faults, and each kept run's row what it drew (cluster size, interval, reads, settings).

Reading is tolerant: fields missing from an index line are looked up in the run's own
results.json, a run directory without an index line (the harness died before writing
it) is listed too, and a torn or foreign line is skipped and counted.

Filtering by anomaly kind works without JavaScript: each kind has an empty element with
an id, and a CSS rule ``#only-kN:target ~ table tr:not(.kN) {display: none}`` hides the
other rows when the URL's fragment names it (clicking the kind's link). With CSS off the
table is simply complete.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.result import anomaly_names, failure_signature
from harness.config import ConfigError
from harness.faults import fault_family
from harness.store import path_inside
from harness.swarm import DIMENSIONS
from reports.explain import verdict_words
from reports.rundata import FAMILY_COLOURS, NS, _read_json, _read_jsonl

_MISSING: Any = object()  # an index line without a verdict: take the run's results.json


@dataclass
class RunRow:
    seed: Any
    run: Any = None
    valid: Any = "unknown"
    anomalies: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    wall_s: float | None = None
    simulated_s: float | None = None
    operations: int | None = None
    sha: str | None = None
    #: an explorative or guided campaign: what the run drew (nodes, interval, reads, settings)
    drew: str | None = None
    run_dir: Path | None = None
    link: str | None = None  # relative link to the run's report (or results.json)
    repro: str | None = None
    error: str | None = None
    in_index: bool = True
    classes: str = ""

    @property
    def verdict(self) -> tuple[str, str]:
        if self.error:
            return "error", "unknown"
        return verdict_words(self.valid)

    @property
    def rank(self) -> int:
        if self.valid is False:
            return 0
        if self.error or self.valid != True:  # noqa: E712  (True, not truthy)
            return 1
        return 2


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _fault_kinds(run_dir: Path, config: dict) -> list[str]:
    """Fault families that actually fired in a run (faults.jsonl), else the config's."""
    rows, _ = _read_jsonl(run_dir / "faults.jsonl")
    fams = {f for f in map(fault_family, rows) if f is not None}
    if rows or (run_dir / "faults.jsonl").exists():
        return sorted(fams)
    nem = config.get("nemesis") if isinstance(config, dict) else None
    swarm = config.get("swarm") if isinstance(config, dict) else None
    if isinstance(nem, list):
        if isinstance(swarm, dict) and swarm:
            return sorted(str(n) for n in nem if _num(swarm.get(n, 1.0)) != 0)
        return sorted(str(n) for n in nem)
    return []


def _names(x: Any) -> list[str]:
    """An index line's list of names; anything else (a damaged line) is none."""
    return [str(a) for a in x if a is not None] if isinstance(x, list) else []


def load_rows(campaign_dir: Path, base_settings: dict[str, Any] | None = None) -> tuple[list[RunRow], int]:
    """Every run of the campaign (index lines, then run directories missing from it).
    ``base_settings``: the campaign's own ``--set`` settings, left out of what a run drew."""
    lines, bad = _read_jsonl(campaign_dir / "index.jsonl")
    # a seed run again (--resume after a harness error) has a later line: the last one counts
    last = {str(e["seed"]): e for e in lines if e.get("seed") is not None}
    lines = [e for e in lines if e.get("seed") is None or last[str(e["seed"])] is e]
    rows: list[RunRow] = []
    seen: set[str] = set()
    for e in lines:
        seed = e.get("seed")
        if seed is None or str(seed) in seen:
            if seed is None:
                bad += 1
            continue
        seen.add(str(seed))
        rd = e.get("run_dir") or e.get("dir") or e.get("directory")
        candidate = (campaign_dir / rd) if isinstance(rd, str) else campaign_dir / "runs" / str(seed)
        # a path read from the store's own files stays inside the store: a line pointing
        # elsewhere must not make a report write there
        run_dir = path_inside(campaign_dir / "runs", candidate)
        row = RunRow(seed=seed, run=e.get("run"), valid=e.get("valid", e.get("verdict", _MISSING)),
                     anomalies=_names(e.get("anomalies")), failed=_names(e.get("failed")),
                     wall_s=_num(e.get("wall_s", e.get("wall"))), sha=e.get("history_sha256"),
                     run_dir=run_dir, error=str(e["error"]) if e.get("error") else None)
        rows.append(row)
    runs = campaign_dir / "runs"
    if runs.is_dir():
        for d in sorted(runs.iterdir(), key=lambda p: p.name):
            # a run directory is named by its seed: SEED.shrunk (`harness shrink` writes
            # it beside the run) and other directories are not runs of the campaign
            if d.is_dir() and d.name.isdigit() and d.name not in seen and (d / "results.json").exists():
                rows.append(RunRow(seed=d.name, run_dir=d, in_index=False))
                seen.add(d.name)
    for row in rows:
        _enrich(row, campaign_dir, base_settings or {})
        if row.valid is _MISSING:
            row.valid = "unknown"
    return rows, bad


def _enrich(row: RunRow, campaign_dir: Path, base_settings: dict[str, Any]) -> None:
    d = row.run_dir
    if d is None or not d.is_dir():
        return
    results = _read_json(d / "results.json", None)
    config = _read_json(d / "config.json", {})
    if isinstance(results, dict):
        if not row.in_index or row.valid is _MISSING:
            row.valid = results.get("valid", "unknown")
        if not row.anomalies and row.valid is False:
            row.anomalies = anomaly_names(failure_signature(results))
        raw_stats = results.get("stats")
        stats: dict[str, Any] = raw_stats if isinstance(raw_stats, dict) else {}
        sim = _num(stats.get("simulated_ns"))
        row.simulated_s = sim / NS if sim is not None else None
        ops = stats.get("operations")
        row.operations = ops if isinstance(ops, int) else None
        if row.wall_s is None:
            parts = [_num(stats.get(k)) for k in ("wall_simulate_s", "wall_check_s")]
            if any(p is not None for p in parts):
                row.wall_s = sum(p for p in parts if p is not None)
        row.sha = row.sha or results.get("history_sha256")
    row.faults = _fault_kinds(d, config if isinstance(config, dict) else {})
    if isinstance(config, dict) and config:
        row.drew = _drew(config, base_settings)
    report = d / "report.html"
    target = report if report.exists() else (d / "results.json" if (d / "results.json").exists() else d)
    row.link = os.path.relpath(target, campaign_dir)
    row.repro = f"harness repro {shlex.quote(str(d.resolve()))}"


def _config_rows(meta: dict) -> list[tuple[str, str]]:
    rows = []
    for k, v in meta.items():
        if k == "config" and isinstance(v, dict):
            continue
        rows.append((str(k), v if isinstance(v, str) else json.dumps(v)))
    cfg = meta.get("config")
    pinned = _explores(meta)
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            if isinstance(v, (list, tuple)) and all(isinstance(x, (str, int, float)) for x in v):
                text = ", ".join(str(x) for x in v) or "none"
            elif v is None or v == {}:
                text = "none"
            else:
                text = v if isinstance(v, str) else json.dumps(v)
            if pinned is not None and k in DIMENSIONS and k not in pinned:
                text = f"drawn per run (see the runs table; the default is {text})"
            rows.append((f"config.{k}", text))
    return rows


def plot_campaign(rows: list[RunRow], kinds: list[tuple[str, int]], path: Path) -> Path | None:
    """Runs per anomaly kind (left) and per verdict (right), one PNG."""
    if not rows:
        return None
    import matplotlib

    from reports.plots import STYLE, _figure, _save

    verdicts: dict[str, int] = {}
    for r in rows:
        verdicts[r.verdict[0]] = verdicts.get(r.verdict[0], 0) + 1
    colours = {"INVALID": "#d62728", "valid": "#2ca02c", "unknown": "#b8860b", "error": "#7a7a7a"}
    shown = kinds[:20]
    h = max(2.4, 0.6 + 0.26 * max(len(shown), len(verdicts)))
    with matplotlib.rc_context(STYLE):
        fig = _figure(11.5, h)
        fig.subplots_adjust(left=0.28, right=0.97, top=1 - 0.45 / h, bottom=0.5 / h, wspace=0.6)
        gs = fig.add_gridspec(1, 3)
        ax = fig.add_subplot(gs[0, :2])
        if shown:
            names = [k for k, _ in shown][::-1]
            counts = [n for _, n in shown][::-1]
            ax.barh(names, counts, height=0.6, color="#d62728", zorder=2)
            for y, n in enumerate(counts):
                ax.text(n, y, f" {n}", va="center", fontsize=8)
            ax.set_xlabel("runs showing it")
        else:
            ax.text(0.5, 0.5, "no anomalies", ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
        ax.set_title("Anomalies by kind" + (f" (top {len(shown)} of {len(kinds)})" if len(kinds) > len(shown) else ""),
                     loc="left")
        ax2 = fig.add_subplot(gs[0, 2])
        vs = sorted(verdicts.items(), key=lambda kv: ["INVALID", "unknown", "error", "valid"].index(kv[0])
                    if kv[0] in colours else 9)
        ax2.barh([k for k, _ in vs][::-1], [n for _, n in vs][::-1],
                 height=0.6, color=[colours.get(k, "#999") for k, _ in vs][::-1], zorder=2)
        for y, (_, n) in enumerate(vs[::-1]):
            ax2.text(n, y, f" {n}", va="center", fontsize=8)
        ax2.set_title("Runs by verdict", loc="left")
        from matplotlib.ticker import MaxNLocator

        for a in (ax, ax2):
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
        return _save(fig, path)


def _drew(config: dict[str, Any], base_settings: dict[str, Any]) -> str | None:
    """What a run of an explorative campaign drew beyond its fault families (which the
    faults column shows): ``5 nodes, every 1 s, sync reads, counter_bits=6``."""
    from harness.swarm import drawn

    try:
        d = drawn(config, base_settings)
    except (TypeError, ValueError, AttributeError):
        return None
    parts = []
    if isinstance(d["nodes"], int):
        parts.append(f"{d['nodes']} nodes")
    if isinstance(d["interval"], (int, float)):
        parts.append(f"every {d['interval']:g} s")
    if isinstance(d["reads"], str):
        parts.append(f"{d['reads']} reads")
    parts += [f"{k}={json.dumps(v)}" for k, v in d["settings"].items()]
    return ", ".join(parts) or None


def _explores(meta: dict) -> list[str] | None:
    """The options an explorative campaign pinned (None if it is not one: ``--nemesis``
    given, or ``--no-swarm``)."""
    ex = meta.get("explore")
    if not isinstance(ex, dict):
        return None
    pinned = ex.get("pinned")
    return [str(p) for p in pinned] if isinstance(pinned, list) else []


def _what(meta: dict) -> str:
    """``zab / register, bug zab-no-trunc, faults partition, kill, crash; 20 runs from seed 1
    (swarm)``: what the campaign ran, in a line. An explorative campaign (``--nemesis`` left
    out) says what each run draws instead of the base config's faults, which no run uses."""
    raw_cfg = meta.get("config")
    cfg: dict[str, Any] = raw_cfg if isinstance(raw_cfg, dict) else {}
    parts = [f"{cfg.get('system', '?')} / {cfg.get('workload', '?')}"]
    bugs = cfg.get("bugs")
    if isinstance(bugs, list) and bugs:
        parts.append(("bugs " if len(bugs) > 1 else "planted bug ") + ", ".join(map(str, bugs)))
    nem = cfg.get("nemesis")
    pinned = _explores(meta)
    if pinned is not None:
        parts.append(_DRAWS + (f" (pinned: {', '.join(pinned)})" if pinned else ""))
    elif isinstance(nem, list):
        parts.append("faults " + (", ".join(map(str, nem)) if nem else "none"))
    text = ", ".join(parts)
    runs, seed = meta.get("runs"), meta.get("seed")
    if runs is not None:
        how = ""
        if meta.get("guided") is True:
            how = " (guided: each run mutates a schedule that reached new behaviour, or draws afresh)"
        elif meta.get("swarm") and pinned is None:
            how = " (swarm: each run draws its own fault mix)"
        text += f"; {runs} runs from seed {seed}{how}"
    return text


#: what each run of an explorative campaign draws (`harness.swarm.explore_config`)
_DRAWS = ("each run draws its fault families (of those the system takes), cluster size, fault "
          "interval, read mode and testing aids")


def render_campaign_report(campaign_dir: Path | str, plot: bool = True) -> tuple[str, list[RunRow]]:
    from reports.run_report import environment

    d = Path(campaign_dir)
    meta = _read_json(d / "campaign.json", None)
    if not isinstance(meta, dict):
        raise ConfigError(f"{d} is not a campaign directory (no readable campaign.json)")
    raw = meta.get("config")
    base_settings = raw.get("settings") if isinstance(raw, dict) and isinstance(raw.get("settings"), dict) else {}
    rows, bad = load_rows(d, base_settings)
    rows.sort(key=lambda r: (r.rank, _num(r.run) if _num(r.run) is not None else float("inf"), str(r.seed)))
    counts: dict[str, int] = {}
    for r in rows:
        for a in set(r.anomalies):
            counts[a] = counts.get(a, 0) + 1
    kinds = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kind_id = {k: f"k{i}" for i, (k, _) in enumerate(kinds)}
    for r in rows:
        cls = [kind_id[a] for a in dict.fromkeys(r.anomalies) if a in kind_id]
        cls.append({0: "fail-row", 1: "unknown-row", 2: "ok-row"}[r.rank])
        if r.rank == 0:
            cls.append("failing")
        elif r.rank == 1:
            cls.append("undecided")
        r.classes = " ".join(cls)
    png = None
    if plot:
        p = plot_campaign(rows, kinds, d / "anomalies.png")
        png = p.name if p is not None else None
    elif (d / "anomalies.png").exists():
        png = "anomalies.png"
    from reports.campaign_coverage import campaign_families, coverage_summary, plot_coverage

    raw_cfg = meta.get("config")
    cfg: dict[str, Any] = raw_cfg if isinstance(raw_cfg, dict) else {}
    coverage = coverage_summary(d, cfg.get("system"), campaign_families(meta))
    if coverage is not None:
        cp = plot_coverage(coverage, d / "coverage.png") if plot else None
        coverage["png"] = cp.name if cp is not None else ("coverage.png" if (d / "coverage.png").exists() else None)
    n_fail = sum(1 for r in rows if r.rank == 0)
    n_unknown = sum(1 for r in rows if r.rank == 1)
    planned = meta.get("runs")
    valid = False if n_fail else ("unknown" if n_unknown else True)
    text, css = verdict_words(valid)
    walls = [r.wall_s for r in rows if r.wall_s is not None]
    # the failing run to start from: the one with the fewest operations (quickest to read)
    failing = [r for r in rows if r.rank == 0 and r.repro]
    first = min(failing, key=lambda r: (r.operations if r.operations is not None else 1 << 62)) if failing else None
    ctx = {
        "what": _what(meta),
        "first": first,
        "title": f"campaign {meta.get('name', d.name)}: {len(rows)} runs, {n_fail} invalid",
        "name": meta.get("name", d.name),
        "meta_rows": _config_rows(meta),
        "rows": rows,
        "show_drew": _explores(meta) is not None or meta.get("guided") is True,
        "kinds": [(k, n, kind_id[k]) for k, n in kinds],
        "n_fail": n_fail,
        "n_unknown": n_unknown,
        "n_valid": len(rows) - n_fail - n_unknown,
        "planned": planned if isinstance(planned, int) else None,
        "bad_lines": bad,
        "verdict_text": text,
        "verdict_class": css,
        "png": png,
        "wall_total": sum(walls) if walls else None,
        "fam_colours": FAMILY_COLOURS,
        "coverage": coverage,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    return environment().get_template("campaign.html").render(ctx), rows


def write_campaign_report(campaign_dir: Path | str, run_reports: str = "none", plots: bool = True,
                          max_run_reports: int | None = None) -> Path:
    """Write ``campaign_dir/index.html`` (and ``anomalies.png``).

    ``run_reports``: "none", "failing" (invalid, unknown or crashed runs) or "all" — also
    (re)build those runs' own report pages first, so the index links to them; at most
    ``max_run_reports`` of them, in the index's order (failures first).
    """
    d = Path(campaign_dir)
    if not (d / "campaign.json").exists():
        raise ConfigError(f"{d} is not a campaign directory (no campaign.json)")
    if run_reports not in ("none", "failing", "all"):
        raise ValueError(f"run_reports must be none, failing or all, not {run_reports!r}")
    if run_reports != "none":
        from reports.run_report import write_run_report

        rows, _ = load_rows(d)
        built = 0
        for r in rows:
            if r.run_dir is None or not (r.run_dir / "results.json").exists():
                continue
            if max_run_reports is not None and built >= max_run_reports:
                break
            if run_reports == "all" or r.rank < 2:
                write_run_report(r.run_dir, plots=plots)
                built += 1
    page, _ = render_campaign_report(d, plot=plots)
    out = d / "index.html"
    tmp = d / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out
