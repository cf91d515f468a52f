"""The coverage section of a campaign page: behaviours covered, never covered, and when.

Reads the campaign's coverage log (``coverage.jsonl`` and ``behaviours.jsonl``, written
by ``harness.campaign``, see ``harness.coverage.CoverageLog``) and gives the
page: how many distinct behaviours the campaign reached, per kind (``event``, ``step``,
``hb``, ``fault``, ``count``), the rarest ones (reached by one run only: where a search
should look next), what the system declares reachable but no run reached, and a plot of
behaviours seen so far and new ones per run, in run order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: rare behaviours listed on the page at most
MAX_RARE = 60


def load_coverage(campaign_dir: Path) -> dict[int, tuple[Any, list[str]]]:
    """Run index -> (seed, behaviours); torn or foreign lines are skipped."""
    from harness.coverage import CoverageLog

    out: dict[int, tuple[Any, list[str]]] = {}
    for seed, (run, found) in CoverageLog(campaign_dir).read().items():
        out.setdefault(run, (seed, found))
    return out


def reachable(declared: list[str], families: set[str] | None) -> list[str]:
    """The declared behaviours a campaign whose runs draw their faults from ``families``
    (None: any of the system's) can reach: not a fault family it never injects, nor a
    crash point (``event:...:crash=P``) without ``crash`` or ``power``, which are the only
    families that stop a node at one."""
    if families is None:
        return declared
    points = bool(families & {"crash", "power"})
    return [b for b in declared
            if not (b.startswith("fault-family:") and b.split(":", 1)[1] not in families)
            and (points or not (b.startswith("event:") and ":crash=" in b))]


def campaign_families(meta: dict[str, Any]) -> set[str] | None:
    """The fault families a campaign's runs draw from (campaign.json): the configured ones
    unless an exploring campaign left the nemesis unpinned (then any: None)."""
    cfg = meta.get("config")
    nemesis = cfg.get("nemesis") if isinstance(cfg, dict) else None
    if not isinstance(nemesis, list) or not all(isinstance(f, str) for f in nemesis):
        return None
    explore = meta.get("explore")
    if isinstance(explore, dict):
        pinned = explore.get("pinned")
        if not (isinstance(pinned, list) and "nemesis" in pinned):
            return None
    return set(nemesis)


def coverage_summary(campaign_dir: Path, system: str | None,
                     families: set[str] | None = None) -> dict[str, Any] | None:
    """What the page shows, or None for a campaign without coverage records. ``families``:
    the fault families the runs could draw (None: any), which bounds what is reachable."""
    from harness.coverage import universe, with_families

    runs = load_coverage(campaign_dir)
    if not runs:
        return None
    seen: set[str] = set()
    first: dict[str, int] = {}
    hits: dict[str, int] = {}
    curve: list[tuple[int, int, int]] = []  # run, new, total
    for run in sorted(runs):
        found = with_families(runs[run][1])
        new = found - seen
        for b in new:
            first[b] = run
        for b in found:
            hits[b] = hits.get(b, 0) + 1
        seen |= new
        curve.append((run, len(new), len(seen)))
    by_kind: dict[str, int] = {}
    for b in seen:
        k = b.split(":", 1)[0]
        by_kind[k] = by_kind.get(k, 0) + 1
    declared: list[str] = []
    if system:
        try:
            declared = reachable(universe(system), families)
        except KeyError:
            declared = []
    never = [b for b in declared if b not in seen]
    rare = sorted((b for b, n in hits.items() if n == 1 and not b.startswith("fault-family:")),
                  key=lambda b: (first[b], b))
    return {"runs": len(runs), "total": len(seen), "by_kind": sorted(by_kind.items()),
            "declared": len(declared), "declared_covered": len(declared) - len(never),
            "never": never, "rare": rare[:MAX_RARE], "n_rare": len(rare), "curve": curve,
            "per_1000": round(len(seen) * 1000 / max(1, len(runs)), 1) if len(runs) >= 1000 else None}


def plot_coverage(summary: dict[str, Any], path: Path) -> Path | None:
    """Behaviours seen so far (line) and new per run (bars), by run."""
    curve = summary.get("curve") or []
    if not curve:
        return None
    import matplotlib

    from reports.plots import STYLE, _figure, _save

    with matplotlib.rc_context(STYLE):
        fig = _figure(11.5, 2.6)
        ax = fig.add_subplot(1, 1, 1)
        xs = [r for r, _, _ in curve]
        ax.bar(xs, [n for _, n, _ in curve], width=1.0, color="#1f77b4", alpha=0.5, label="new in this run")
        ax.set_xlabel("run")
        ax.set_ylabel("new behaviours")
        ax2 = ax.twinx()
        ax2.plot(xs, [t for _, _, t in curve], color="#d62728", label="seen so far")
        ax2.set_ylabel("behaviours seen")
        ax.set_title("Coverage: behaviours seen so far, and new ones per run", loc="left")
        fig.tight_layout()
        return _save(fig, path)
