"""Terminal summaries of runs: a table of the checkers' verdicts (tabulate's ``simple``
format, written by ``harness.table``), the run's numbers and where its files are."""

from __future__ import annotations

import shlex
from typing import Any

from checkers.result import checker_results
from harness.table import simple_table


def _verdict(v: Any) -> str:
    return {True: "valid", False: "INVALID"}.get(v, "unknown") if isinstance(v, bool) else str(v)


def describe_servers(config: Any) -> str:
    """"5 servers", or for a system with several kinds of server "8 servers (z1-z3, b1-b5)"."""
    from harness.runner import servers_for

    ids = servers_for(config)
    groups: dict[str, list[str]] = {}
    for nid in ids:
        groups.setdefault(nid.rstrip("0123456789"), []).append(nid)
    if len(groups) <= 1:
        return f"{len(ids)} servers"
    spans = ", ".join(g[0] if len(g) == 1 else f"{g[0]}-{g[-1]}" for g in groups.values())
    return f"{len(ids)} servers ({spans})"


def summary_rows(res: Any) -> list[list[str]]:
    """One row per checker: name, verdict, why (cut at 400 characters)."""
    rows = []
    for name, c in checker_results(res.results).items():
        why = c.explanation or c.note
        rows.append([name, _verdict(c.valid) + ("" if c.decides else " (not counted)"),
                     why if len(why) <= 400 else why[:400] + " ..."])
    return rows


def print_run_summary(res: Any) -> None:
    r = res.results
    cfg = res.config
    rows = summary_rows(res)
    print(f"{cfg.system} / {cfg.workload}  seed {cfg.seed}  nemesis {','.join(cfg.nemesis) or 'none'}  "
          f"{describe_servers(cfg)}, {cfg.clients} clients, {cfg.time_limit:g} s"
          + (f"  bugs {','.join(cfg.bugs)}" if cfg.bugs else ""))
    print(simple_table(rows, ["checker", "verdict", "why"], maxcolwidths=[None, None, 90]))
    s = r["stats"]
    if r.get("live"):
        sd = (s.get("stepdown") or {}).get("explanation")
        msgs = f", {s['messages_sent']} messages" if "messages_sent" in s else ""  # a Maelstrom network's
        print(f"live run: {s['operations']} operations{msgs}, start-up {s.get('startup_s', 0):.2f} s, "
              f"{res.wall_s:.2f} s wall (check {s['wall_check_s']:.2f} s)" + (f"; {sd}" if sd else ""))
        print(f"note: {r.get('replay')}")
    else:
        print(f"{s['operations']} operations, {s['events']} events, {res.wall_s:.2f} s wall "
              f"(simulate {s['wall_simulate_s']:.2f} s, check {s['wall_check_s']:.2f} s)")
    print(f"verdict: {_verdict(r['valid'])}")
    if res.directory is not None:
        print(f"results: {res.directory}")
        if (res.directory / "report.html").exists():
            print(f"report:  {res.directory / 'report.html'}")
        print(f"repro:   harness repro {shlex.quote(str(res.directory))}")
