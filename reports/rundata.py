"""Reading a run directory for the reports: files, paired operations, fault windows.

The reports read what the store wrote (``harness.store``) and nothing else, so a report
can be rebuilt from a directory copied off a CI machine. Reading is tolerant: a missing
trace or fault log gives an empty list, a malformed line is skipped and counted, and
unknown fields are carried along — the report should still come out when a newer
checker or system writes something this module has not heard of.

Times are simulated nanoseconds since the run started, in every file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from checkers.result import CheckResult, checker_results
from harness.config import ConfigError
from harness.faults import FAMILIES as FAULT_FAMILIES, family_names, fault_family, window_end

NS = 1_000_000_000

_CLIENT = re.compile(r"^c\d+$")  # the simulator's client nodes: c0, c1...
_NUMBERED = re.compile(r"^n\d+$")

class _Lanes(Sequence):
    """The report's fault lanes, in the fault-family registry's order, then ``other`` (fault
    kinds no family opens: a newer nemesis). Read at use, so a family registered after this
    module was imported (a plug-in's, a test's) gets its lane."""

    def _names(self) -> tuple[str, ...]:
        return (*family_names(), "other")

    def __getitem__(self, i):
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())


class _Colours(Mapping):
    """Shading colour of each family (its record's), shared by the HTML timelines and the
    PNG plots; chosen away from the outcome colours (green / red / orange) so a shaded
    window never reads as an outcome. Read at use, like the lanes."""

    def _colours(self) -> dict[str, str]:
        return {**{name: fam.colour for name, fam in FAULT_FAMILIES.items()}, "other": "#bdbdbd"}

    def __getitem__(self, fam: str) -> str:
        return self._colours()[fam]

    def __iter__(self):
        return iter(self._colours())

    def __len__(self) -> int:
        return len(self._colours())


#: lane order
FAMILIES: Sequence[str] = _Lanes()
FAMILY_COLOURS: Mapping[str, str] = _Colours()


def family_description(fam: str) -> str:
    """What a fault family does, in its record's words (a lane's tooltip)."""
    spec = FAULT_FAMILIES.get(fam)
    return spec.description if spec is not None else "fault kinds no fault family of this harness opens"


OUTCOME_COLOURS = {"ok": "#2ca02c", "fail": "#d62728", "info": "#ff7f0e", None: "#7f7f7f"}


@dataclass(slots=True)
class Operation:
    """One client operation: an invoke and its completion (if any), from history.jsonl."""

    process: Any
    f: str
    key: Any
    value: Any  # the invoke's argument
    start: int  # ns
    invoke_index: int | None
    end: int | None = None  # ns; None: never completed
    type: str | None = None  # "ok" | "fail" | "info" | None (never completed)
    result: Any = None  # the completion's value
    complete_index: int | None = None
    node: Any = None
    error: Any = None

    @property
    def latency(self) -> int | None:
        return None if self.end is None else self.end - self.start


@dataclass
class FaultWindow:
    """A fault episode from its start to its end (or to the final heal-all)."""

    number: int  # F1, F2... in start order, shared by the page and the plots
    episode: Any
    kind: str
    family: str
    start: int
    end: int
    label: str
    detail: str
    start_record: dict
    end_record: dict | None = None
    changed: bool = True  # False: the fault found nothing to do (node already down...)
    cut: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"F{self.number}"


def _json_or(data: bytes | None, default: Any) -> Any:
    """``data`` parsed as JSON, or ``default`` (absent or unreadable), as `_read_json`."""
    if data is None:
        return default
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is one
        return default


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (OSError, ValueError):
        return default


def _read_jsonl(path: Path) -> tuple[list[dict], int]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return [], 0
    return _parse_jsonl(text)


def _parse_jsonl(text: str) -> tuple[list[dict], int]:
    """The objects of a JSON-lines text and the number of lines that were not one."""
    rows: list[dict] = []
    bad = 0
    lines = [ln for ln in text.splitlines() if ln.strip()]
    try:  # one parse of the whole file: a third of the time of a parse per line
        whole = json.loads("[" + ",".join(lines) + "]")
    except ValueError:
        whole = None  # a malformed line somewhere: find it line by line below
    if whole is not None and len(whole) == len(lines):
        rows = [r for r in whole if isinstance(r, dict)]
        return rows, len(whole) - len(rows)
    loads = json.loads
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad += 1
    return rows, bad


class ResultsPending(Exception):
    """Raised by `RunData.results` of a run read before its results exist
    (`RunData.before_results`): what needs them waits for `RunData.attach_results`."""


#: the files `RunData.before_results` is given: all a run directory holds before results.json
DATA_FILES = ("config.json", "schedule.json", "history.jsonl", "trace.jsonl", "faults.jsonl")


class RunData:
    """Everything in one run directory, loaded lazily."""

    def __init__(self, run_dir: Path | str):
        self.dir = Path(run_dir)
        self._results: dict | None = self._load_results(self.dir)
        config = _read_json(self.dir / "config.json", {})
        self.config: dict = config if isinstance(config, dict) else {}
        schedule = _read_json(self.dir / "schedule.json", [])
        self.schedule: list = schedule if isinstance(schedule, list) else []
        self.skipped_lines: dict[str, int] = {}
        self._texts: dict[str, bytes] = {}

    @classmethod
    def before_results(cls, run_dir: Path | str, files: dict[str, bytes]) -> RunData:
        """A run whose directory is still being written (``harness.store.begin_run``):
        ``files`` holds the bytes of its `DATA_FILES` (a missing one reads as an absent
        file). Everything but `results` (and what uses it) reads as from the finished
        directory; `attach_results` adds them once the directory is in place."""
        run = cls.__new__(cls)
        run.dir = Path(run_dir)
        run._results = None
        config = _json_or(files.get("config.json"), {})
        run.config = config if isinstance(config, dict) else {}
        schedule = _json_or(files.get("schedule.json"), [])
        run.schedule = schedule if isinstance(schedule, list) else []
        run.skipped_lines = {}
        run._texts = {name: data for name, data in files.items() if name.endswith(".jsonl")}
        return run

    def attach_results(self, run_dir: Path | str) -> None:
        """The run directory is in place at ``run_dir``: read its results from there
        (ConfigError as `RunData` raises when they are missing or unreadable)."""
        self._results = self._load_results(Path(run_dir))
        self.dir = Path(run_dir)

    @staticmethod
    def _load_results(run_dir: Path) -> dict:
        if not run_dir.is_dir():
            raise ConfigError(f"no run directory at {run_dir}")
        if not (run_dir / "results.json").exists():
            raise ConfigError(f"{run_dir} is not a run directory (no results.json)")
        results = _read_json(run_dir / "results.json", None)
        if not isinstance(results, dict):
            raise ConfigError(f"{run_dir / 'results.json'}: unreadable")
        return results

    @property
    def results(self) -> dict:
        """results.json (`ResultsPending` before `attach_results` of a run read early)."""
        if self._results is None:
            raise ResultsPending(f"{self.dir}: results not written yet")
        return self._results

    def _jsonl(self, name: str) -> list[dict]:
        data = self._texts.pop(name, None)
        if data is None:
            rows, bad = _read_jsonl(self.dir / name)
        else:
            try:
                rows, bad = _parse_jsonl(data.decode("utf-8"))
            except UnicodeDecodeError:
                rows, bad = [], 0
        kept = [r for r in rows if _sane(r)]
        bad += len(rows) - len(kept)
        if bad:
            self.skipped_lines[name] = bad
        return kept

    @cached_property
    def history(self) -> list[dict]:
        return self._jsonl("history.jsonl")

    @cached_property
    def trace(self) -> list[dict]:
        return self._jsonl("trace.jsonl")

    @cached_property
    def faults(self) -> list[dict]:
        return self._jsonl("faults.jsonl")

    @cached_property
    def checkers(self) -> dict[str, CheckResult]:
        """Each checker's result (results.json written before CheckResult read as well)."""
        return checker_results(self.results)

    @cached_property
    def events_by_index(self) -> dict[int, dict]:
        return {e["index"]: e for e in self.history if isinstance(e.get("index"), int)}

    @cached_property
    def operations(self) -> list[Operation]:
        return pair(self.history)

    @cached_property
    def op_by_index(self) -> dict[int, Operation]:
        """Each operation under its invoke index and its completion index."""
        out: dict[int, Operation] = {}
        for op in self.operations:
            if op.invoke_index is not None:
                out[op.invoke_index] = op
            if op.complete_index is not None:
                out[op.complete_index] = op
        return out

    @cached_property
    def clients(self) -> int | None:
        c = self.config.get("clients")
        return c if isinstance(c, int) and not isinstance(c, bool) and c > 0 else None

    @cached_property
    def servers(self) -> list[str]:
        """Server names, from what the run shows: trace nodes, fault targets and cuts,
        the nodes that answered clients. A system may name its own servers (Kafka's
        brokers beside its ZooKeeper), so n1..nN from the config only fills in servers
        that never appear (when the names seen are of that form). Natural order."""
        seen: set[str] = set()

        def add(x: Any) -> None:
            if isinstance(x, str) and x and not _CLIENT.match(x):
                seen.add(x)

        for rec in self.trace:
            add(rec.get("node"))
        for rec in self.faults:
            add(rec.get("node"))
            for a, b in _pairs(rec.get("cut")):
                add(a)
                add(b)
        for e in self.history:
            if e.get("type") == "ok":
                add(e.get("node"))
        n = self.config.get("nodes")
        if all(_NUMBERED.match(x) for x in seen) and isinstance(n, int) and not isinstance(n, bool) and 0 < n < 100:
            seen.update(f"n{i + 1}" for i in range(n))
        return sorted(seen, key=natural_key)

    @cached_property
    def main_end(self) -> int | None:
        """When the main phase ended (the nemesis's heal-all), if logged."""
        for rec in self.faults:
            if rec.get("kind") == "heal-all" and isinstance(rec.get("time"), int):
                return rec["time"]
        tl = self.config.get("time_limit")
        if isinstance(tl, (int, float)) and not isinstance(tl, bool):
            return int(tl * NS)
        return None

    @cached_property
    def end_time(self) -> int:
        """The last operation or fault (at least 1 ns, so scales never divide by 0).

        Not the simulator's stop time: a run may idle long after its last final read
        (waiting out the recovery period), and drawing that would squeeze the run into
        a corner of every timeline.
        """
        t = 0
        for rows in (self.history, self.faults):
            for r in rows:
                v = r.get("time")
                if isinstance(v, int) and v > t:
                    t = v
        if t == 0:
            stats = self.results.get("stats")
            if isinstance(stats, dict) and isinstance(stats.get("simulated_ns"), int):
                t = stats["simulated_ns"]
        return max(t, 1)

    @cached_property
    def windows(self) -> list[FaultWindow]:
        return fault_windows(self.faults, self.end_time, self.servers)


def natural_key(name: str) -> tuple:
    """Sort key putting n2 before n10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


#: latest event time drawn (ns): past any run the harness makes (time limit and recovery
#: each at most an hour); a damaged line's 2**70 would size a plot's bins by it
MAX_TIME_NS = 10**13


def _sane(row: dict) -> bool:
    """Whether a line of history.jsonl, trace.jsonl or faults.jsonl has the types the
    page reads it by (index, time and episode integers, kind, type and f names, node and
    process names or numbers, args a list); a damaged line is skipped and counted, never a
    crash."""
    if "args" in row and not isinstance(row["args"], list):
        return False
    for k in ("index", "time", "episode"):
        v = row.get(k)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or (k == "time" and not 0 <= v <= MAX_TIME_NS):
            return False
    for k in ("kind", "type", "f", "node"):
        v = row.get(k)
        if v is not None and not isinstance(v, str):
            return False
    v = row.get("process")
    return v is None or (isinstance(v, (int, str)) and not isinstance(v, bool))


def _index(e: dict) -> int | None:
    """An event's index, or None where a damaged line has something else there."""
    i = e.get("index")
    return i if isinstance(i, int) and not isinstance(i, bool) else None


def pair(history: list[dict]) -> list[Operation]:
    """Pair invokes with their completions, per process, in history order.

    A lenient pairing for drawing, not for checking: events of non-client processes are
    skipped, a completion without an invoke is ignored, an invoke left open is an
    operation that never completed.
    """
    events = history
    if events and all(isinstance(e.get("index"), int) for e in events):
        events = sorted(events, key=lambda e: e["index"])
    open_ops: dict[Any, Operation] = {}
    ops: list[Operation] = []
    for e in events:
        proc = e.get("process")
        if isinstance(proc, bool) or not isinstance(proc, (int, str)):
            continue
        t = e.get("time")
        if not isinstance(t, int):
            continue
        typ = e.get("type")
        if typ == "invoke":
            op = Operation(process=proc, f=str(e.get("f")), key=e.get("key"), value=e.get("value"),
                           start=t, invoke_index=_index(e))
            open_ops[proc] = op
            ops.append(op)
        elif typ in ("ok", "fail", "info"):
            done = open_ops.pop(proc, None)
            if done is None:
                continue
            done.end = t
            done.type = typ
            done.result = e.get("value")
            done.complete_index = _index(e)
            done.node = e.get("node")
            done.error = e.get("error")
    return ops


def _fmt_s(ns: Any) -> str:
    return f"{ns / NS:.3f} s" if isinstance(ns, (int, float)) else "?"


def describe_fault(rec: dict, servers: list[str] | None = None) -> tuple[str, str]:
    """(short label, one-sentence detail) of a fault-log record."""
    kind = str(rec.get("kind"))
    node = rec.get("node")
    args = rec.get("args") or []
    if node is None and args and isinstance(args[0], str):
        node = args[0]
    if kind == "partition":
        mode = rec.get("mode") or (args[0] if args else "?")
        cut = rec.get("cut") or []
        groups = reach_groups(cut, servers)
        disjoint = sum(len(g) for g in groups) == len(set().union(*groups)) if groups else True
        if len(groups) > 1 and disjoint:
            detail = f"partition ({mode}): servers split into " + " | ".join(" ".join(sorted(g)) for g in groups)
        elif 1 < len(groups) <= 3:
            detail = (f"partition ({mode}): groups that reach each other " +
                      ", ".join("{" + " ".join(sorted(g)) + "}" for g in groups))
        elif len(groups) > 3:  # a ring: many small overlapping groups; say who each server reaches
            reach = {a: sorted(b for g in groups if a in g for b in g if b != a) for g in groups for a in g}
            detail = (f"partition ({mode}): each server reaches " +
                      "; ".join(f"{a} → {' '.join(sorted(set(bs)))}" for a, bs in sorted(reach.items())))
        else:
            detail = f"partition ({mode})"
        if cut:
            detail += "; cut links: " + ", ".join(f"{a}–{b}" for a, b in _pairs(cut))
        return f"partition {mode}", detail
    if kind == "kill":
        return f"kill {node}", f"crash server {node}, losing its unsynced writes"
    if kind == "crash-at":
        point = rec.get("point") or (args[1] if len(args) > 1 else "?")
        return f"crash {node} at {point}", f"arm server {node} to crash right after it traces {point!s}"
    if kind == "pause":
        return f"pause {node}", f"pause server {node} (SIGSTOP-like)"
    if kind == "clock-bump":
        d = rec.get("delta_ns", args[1] if len(args) > 1 else None)
        sign = "+" if isinstance(d, (int, float)) and d >= 0 else ""
        return f"clock {node} {sign}{_fmt_s(d)}", f"bump the wall clock of {node} by {sign}{_fmt_s(d)}"
    if kind == "clock-skew":
        ppm = rec.get("ppm", args[1] if len(args) > 1 else None)
        if fault_family(rec) == "slow" and isinstance(ppm, (int, float)):
            pct = 100 + ppm / 10_000
            return (f"slow {node} {pct:.0f}% speed",
                    f"slow server {node} down: its clock, so its timers, runs at {pct:.0f}% of true speed "
                    f"({ppm} ppm), as a starved process's would")
        return f"skew {node} {ppm} ppm", f"make the clock of {node} run at {ppm} ppm off true rate"
    if kind == "power-off":
        nodes = rec.get("nodes")
        if isinstance(nodes, list):  # cut at once
            names = " ".join(sorted(map(str, nodes), key=natural_key))
            if not nodes:
                return "power off (nobody)", "power cut that found no server to crash"
            return (f"power off {names}",
                    f"power cut: servers {names} crash at the same instant, each losing its unsynced writes")
        point = rec.get("point") or "?"
        return (f"power cut armed at {node} {point}",
                f"power cut armed: when server {node} reaches {point} it and the other victims crash "
                f"at the same instant (it never fired)")
    if kind == "clock-strobe":
        d = rec.get("delta_ns", args[1] if len(args) > 1 else None)
        p = rec.get("period_ns", args[2] if len(args) > 2 else None)
        return f"strobe {node}", f"strobe the wall clock of {node} by {_fmt_s(d)} every {_fmt_s(p)}"
    return kind, kind + (" " + json.dumps(args) if args else "")


def _pairs(cut: Any) -> list[tuple[str, str]]:
    out = []
    if isinstance(cut, list):
        for p in cut:
            if isinstance(p, (list, tuple)) and len(p) == 2:
                out.append((str(p[0]), str(p[1])))
    return out


def reach_groups(cut: Any, servers: list[str] | None = None) -> list[set[str]]:
    """Groups of servers that can all reach each other, for a cut (list of [a, b] pairs).

    With a clean split (halves, isolate-one) these are the sides; with a ring or a bridge
    some servers belong to more than one group (maximal cliques of the reach graph).
    """
    pairs = _pairs(cut)
    nodes = set(servers or [])
    for a, b in pairs:
        nodes.update((a, b))
    if not nodes:
        return []
    blocked = {frozenset(p) for p in pairs}
    ordered = sorted(nodes)
    # Tiny graphs (at most 7 servers): enumerate maximal cliques by brute force rather
    # than import networkx for a page that may have no plots at all.
    from itertools import combinations

    cliques: list[set[str]] = []
    for size in range(len(ordered), 0, -1):
        for combo in combinations(ordered, size):
            s = set(combo)
            if any(s <= c for c in cliques):
                continue
            if all(frozenset((a, b)) not in blocked for a, b in combinations(combo, 2)):
                cliques.append(s)
    return cliques


def fault_windows(faults: list[dict], end_time: int, servers: list[str] | None = None) -> list[FaultWindow]:
    """Pair each opening fault with its closing one (same episode) into windows, numbered
    F1, F2... in start order.

    A power cut armed at a crash point opens its window when it fires (``power-cut``), not
    when it was armed; one that never fires is a window without effect. A power cut's
    window closes when the last of its servers is back up (the restarts after
    ``power-on``). A fault kind this module does not know opens an ``other`` window that
    the next record of its episode closes, so a newer nemesis is still drawn.
    """
    ends = window_end()  # the registry's: opening kind -> ending kind
    open_w: dict[Any, FaultWindow] = {}
    windows: list[FaultWindow] = []
    waiting: dict[Any, set] = {}  # power episode -> servers not yet back up
    for rec in faults:
        kind = rec.get("kind")
        t = rec.get("time")
        if not isinstance(t, int):
            continue
        key = rec.get("episode")
        fam = fault_family(rec)
        prev = open_w.get(key) if key is not None else None
        if fam == "other" and prev is not None and prev.family == "other":
            fam = None  # the second record of an unknown episode ends it (below)
        if fam is not None:
            label, detail = describe_fault(rec, servers)
            nw = FaultWindow(
                number=0, episode=key, kind=str(kind), family=fam,
                start=t, end=end_time if kind in ends else t, label=label, detail=detail,
                start_record=rec, changed=rec.get("changed", True) is not False,
                cut=[list(p) for p in _pairs(rec.get("cut"))],
            )
            if kind == "power-off":
                nodes = rec.get("nodes")
                nw.changed = bool(nodes) if isinstance(nodes, list) else False
            windows.append(nw)
            if key is None:
                key = ("anon", len(windows))
            prev = open_w.pop(key, None)
            if prev is not None:  # a new fault of the same episode: the old one ends here
                prev.end = t
            open_w[key] = nw
            continue
        w = open_w.get(key) if key is not None else None
        if kind == "heal-all":
            for w in open_w.values():
                if w.kind in ends:  # an unknown kind stays as long as it was
                    w.end = max(t, w.start)
                    w.end_record = rec
            open_w.clear()
            waiting.clear()
        elif w is None:
            continue
        elif w.kind not in ends:  # an unknown fault kind: the next record of its episode ends it
            w.end = max(t, w.start)
            w.end_record = rec
            del open_w[key]
        elif w.kind == "power-off":
            _power_record(w, rec, t, waiting, open_w, key)
        elif ends[w.kind] == kind:
            w.end = max(t, w.start)
            w.end_record = rec
            del open_w[key]
    windows.sort(key=lambda w: w.start)  # stable: same-instant faults keep log order
    for i, w in enumerate(windows, 1):
        w.number = i
    return windows


def _power_record(w: FaultWindow, rec: dict, t: int, waiting: dict, open_w: dict, key: Any) -> None:
    """A power-cut, power-on or restart record of an open power window."""
    kind = rec.get("kind")
    nodes = [str(n) for n in rec.get("nodes") or []] if isinstance(rec.get("nodes"), list) else []
    names = " ".join(sorted(nodes, key=natural_key))
    if kind == "power-cut":  # an armed cut fired: the outage starts now
        trig, point = rec.get("node"), rec.get("point")
        w.start, w.changed = t, bool(nodes)
        w.label = f"power off {names} ({trig} at {point})"
        w.detail = (f"power cut: when server {trig} reached {point}, servers {names} crashed at the same "
                    f"instant, each losing its unsynced writes (armed at {_fmt_s(w.start_record.get('time'))})")
    elif kind == "power-on":
        w.end_record = rec
        if not nodes or rec.get("changed") is False:
            w.end = max(t, w.start)
            del open_w[key]
            return
        w.end = max(t, w.start)
        waiting[key] = set(nodes)
        w.detail += f"; power back on {_fmt_s(t)}, servers up one at a time: {' '.join(nodes)}"
    elif kind == "restart" and key in waiting:
        waiting[key].discard(str(rec.get("node")))
        w.end = max(t, w.start)
        if not waiting[key]:
            del waiting[key]
            del open_w[key]


#: ``json.dumps(v, separators=(",", ":"), default=str)`` without building an encoder per
#: value (a run's page formats thousands of them)
_COMPACT = json.JSONEncoder(separators=(",", ":"), default=str)


def fmt_value(v: Any, limit: int = 120) -> str:
    """A short JSON rendering of a value for tables and tooltips."""
    if v is None:
        return "null"
    if type(v) is int:  # JSON writes an int as repr does
        s = repr(v)
    else:
        try:
            s = _COMPACT.encode(v)
        except (TypeError, ValueError):
            s = repr(v)
    return s if len(s) <= limit else s[: limit - 1] + "…"
