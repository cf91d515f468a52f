"""Abstract behaviours of a run, from its trace and fault log: what a campaign covered.

A run's trace is concrete (times, zxids, offsets); its *behaviours* are the abstract facts
a search wants more of, each a short string. Two runs that did the same things in other
numbers have the same behaviours; a run that reached a crash point, a sync mode, an
election pattern or an ordering of protocol steps no run reached before has a new one.
What counts (every system; the trace kinds and fields come from the system's code):

- ``event:CLASS:KIND[=DETAIL]``: a node of class CLASS (its id's letter: ``n`` ZAB server,
  ``z`` Kafka's ZooKeeper, ``b`` broker, ``c`` client) emitted KIND, with the values of
  the kind's detail fields (``DETAIL_FIELDS``: the sync mode chosen, why a server went
  looking, the crash point a crash came from, why a Kafka leader was elected...), each
  without its node ids and numbers (`_abstract`);
- ``step:CLASS:ROLE:A>B``: one node's consecutive protocol steps (routine data-path kinds,
  ``ROUTINE``, left out), with the node's ZAB role when it has one (looking, leading,
  following): the per-node transitions of the issue's (role, phase, event) triple;
- ``hb:CLASS.A>CLASS.B``: Mallory-style happens-before summary: a protocol step on one
  node followed, within ``HB_WINDOW_NS``, by one on another node;
- ``fault:FAMILY:CLASS.KIND``: a protocol step while a fault of FAMILY was open;
- ``count:NAME=BUCKET``: per-run counts in powers of two (elections per epoch, crashes,
  leader changes, truncations), so that "three elections in one epoch" is a behaviour.

``behaviours(out)`` takes a ``harness.runner.SimOutput``; :func:`universe` lists what a
system could show that a campaign page reports as never covered (crash points, sync modes,
fault families).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from harness.faults import fault_family, not_opening, system_families

#: per trace kind, the fields whose values are part of the behaviour
DETAIL_FIELDS: dict[str, tuple[str, ...]] = {
    "sync_mode": ("mode",),
    "looking": ("reason",),
    "crash": ("reason",),
    "epoch_accepted": ("persisted",),
    # Kafka
    "elect": ("why", "unclean"),
    "truncate": ("why",),
    "controller-resign": ("why",),
    "append": ("role",),
    "ack": ("error",),
}
#: frequent data-path kinds: counted as events, left out of steps and orderings (each
#: write makes several, so their interleavings are noise, not behaviour)
ROUTINE = frozenset({"deliver", "logged", "ack_sent", "propose", "commit", "acks_quorum",
                     "append", "hw", "ack", "session_created"})
#: a step on another node this soon after one counts as following it
HB_WINDOW_NS = 50_000_000
#: ZAB role after each of these kinds
_ROLE_AFTER = {"looking": "looking", "leader_established": "leading", "following": "following",
               "crash": "down", "restart": "looking", "recovered": "looking"}


def _cls(node: Any) -> str:
    return str(node)[:1] or "?"


#: what `_abstract` takes out of a detail value: a list (of node ids), a node id (a letter
#: and digits: b4, n2), a number
_CONCRETE = re.compile(r"\[[^\]]*\]|\b([a-z])\d+\b|\d+")


def _abstract(value: str) -> str:
    """A detail value without its concrete parts: lists become ``[..]``, node ids their
    class letter, numbers ``N``. Kafka's reasons are prose with values in them ("replicas
    ['b4'] offline", "epoch 3: leader has epoch 2 ending at 78"): kept whole, each broker
    and offset made a behaviour of its own, and a campaign's count of behaviours grew with
    the numbers it happened to see."""
    return _CONCRETE.sub(lambda m: "[..]" if m.group(0)[0] == "[" else m.group(1) or "N", value)


def _detail(ev: dict[str, Any]) -> str:
    fields = DETAIL_FIELDS.get(ev.get("kind", ""), ())
    vals = []
    for f in fields:
        if f in ev:
            v = ev[f]
            if isinstance(v, str) and v.startswith("crash point "):
                v = v[len("crash point "):]
            vals.append(_abstract(str(v)))
    return ("=" + ",".join(vals)) if vals else ""


def _bucket(n: int) -> str:
    if n <= 1:
        return str(n)
    b = 1
    while b * 2 <= n:
        b *= 2
    return f"{b}+"


def _open_faults(faults: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """(start, end, family) of every fault in the log; end None -> run end."""
    open_: dict[int, tuple[int, str]] = {}
    spans: list[tuple[int, int, str]] = []
    for rec in faults:
        fam = fault_family(rec)
        t = int(rec.get("time", 0))
        kind = rec.get("kind")
        if fam is not None:
            open_[int(rec.get("episode", 0))] = (t, fam)
        elif kind == "heal-all":
            for s, f in open_.values():
                spans.append((s, t, f))
            open_.clear()
        elif kind in not_opening() and kind != "power-cut":
            ep = int(rec.get("episode", 0))
            if ep in open_:
                s, f = open_.pop(ep)
                spans.append((s, t, f))
    spans += [(s, 1 << 62, f) for s, f in open_.values()]
    return sorted(spans)


def behaviours(out: Any) -> list[str]:
    """The sorted abstract behaviours of one simulated run (``SimOutput``)."""
    return sorted(behaviours_of(out.trace, out.faults))


def behaviours_of(trace: Iterable[dict[str, Any]], faults: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    role: dict[str, str] = {}
    last: dict[str, str] = {}
    spans = _open_faults(faults)
    counts: Counter[str] = Counter()
    elections: Counter[Any] = Counter()  # by epoch
    leaders: set[Any] = set()
    prev: tuple[int, str, str] | None = None  # time, node, cls.kind of the last protocol step
    for ev in trace:
        kind = ev.get("kind")
        if not isinstance(kind, str):
            continue
        node = str(ev.get("node", "?"))
        c = _cls(node)
        label = kind + _detail(ev)
        found.add(f"event:{c}:{label}")
        if kind in ("crash", "truncate", "sync_mode", "elect", "become-leader", "controller"):
            counts[kind] += 1
        if kind == "vote_decided":
            elections[ev.get("epoch")] += 1
        if kind == "leader_established":
            leaders.add((node, ev.get("epoch")))
        if kind in ROUTINE:
            continue
        r = role.get(node, "")
        found.add(f"step:{c}:{r}:{last.get(node, 'start')}>{label}")
        last[node] = label
        if kind in _ROLE_AFTER and c in ("n", "z"):
            role[node] = _ROLE_AFTER[kind]
        t = int(ev.get("time", 0))
        if prev is not None and prev[1] != node and t - prev[0] <= HB_WINDOW_NS:
            found.add(f"hb:{prev[2]}>{c}.{label}")
        prev = (t, node, f"{c}.{label}")
        for s, e, fam in spans:
            if s > t:
                break
            if t <= e:
                found.add(f"fault:{fam}:{c}.{label}")
    for kind, n in counts.items():
        found.add(f"count:{kind}={_bucket(n)}")
    if elections:
        found.add(f"count:votes-per-epoch={_bucket(max(elections.values()))}")
        found.add(f"count:epochs-with-votes={_bucket(len(elections))}")
    if leaders:
        found.add(f"count:leaders={_bucket(len(leaders))}")
    return found


def universe(system: str) -> list[str]:
    """Behaviours reachable in a campaign, for its never-covered list: what the system
    declares (``SystemSpec.reachable_behaviours``: e.g. every crash point, ZAB's sync
    modes) and every fault family active during a protocol step."""
    from harness.system import get_system

    out = list(get_system(system).reachable_behaviours())
    out += [f"fault-family:{f}" for f in sorted(system_families(system))]
    return sorted(out)


def with_families(found: Iterable[str]) -> set[str]:
    """``found`` plus ``fault-family:F`` for each family seen during a protocol step."""
    s = set(found)
    s |= {"fault-family:" + b.split(":")[1] for b in s if b.startswith("fault:")}
    return s


def _cut_torn_tail(path: Any) -> None:
    """Cut a last line the writer did not finish (no newline) off ``path``, if any."""
    try:
        with open(path, "r+b") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        pass


class CoverageLog:
    """A campaign's per-run behaviours, compactly: ``behaviours.jsonl`` numbers each
    behaviour string once (``{"id": N, "b": "..."}``, appended when first seen), and
    ``coverage.jsonl`` holds one line per run, ``{"run", "seed", "ids": [...]}`` (a line
    with ``behaviours``, the strings themselves, is read too). A number is written before
    any run line that uses it, so a crash between the two loses nothing that is referred to.
    """

    def __init__(self, directory: Any) -> None:
        from pathlib import Path

        self.directory = Path(directory)
        self.ids: dict[str, int] = {}
        self.names: list[str] = []
        #: torn last lines are cut before this log's first append (reading alone changes nothing)
        self._tails_cut = False
        p = self.directory / "behaviours.jsonl"
        if p.exists():
            for line in p.read_text(errors="replace").splitlines():
                try:
                    d = json.loads(line)
                    i, b = int(d["id"]), str(d["b"])
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line: that number was never used
                if i == len(self.names):
                    self.names.append(b)
                    self.ids[b] = i

    def append(self, run: int, seed: int, found: Iterable[str]) -> None:
        if not self._tails_cut:
            # a line torn by a crash would glue itself to the next one appended, and a
            # number lost that way would drop every later number and every run using them
            for name in ("behaviours.jsonl", "coverage.jsonl"):
                _cut_torn_tail(self.directory / name)
            self._tails_cut = True
        found = sorted(set(found))
        fresh = [b for b in found if b not in self.ids]
        if fresh:
            with open(self.directory / "behaviours.jsonl", "a") as f:
                for b in fresh:
                    self.ids[b] = len(self.names)
                    self.names.append(b)
                    f.write(json.dumps({"id": self.ids[b], "b": b}, separators=(",", ":")) + "\n")
        ids = sorted(self.ids[b] for b in found)
        with open(self.directory / "coverage.jsonl", "a") as f:
            f.write(json.dumps({"run": run, "seed": seed, "ids": ids}, separators=(",", ":")) + "\n")

    def read(self) -> dict[int, tuple[int, list[str]]]:
        """Seed -> (run, behaviours); the first line of a seed wins, torn lines are skipped."""
        out: dict[int, tuple[int, list[str]]] = {}
        p = self.directory / "coverage.jsonl"
        if not p.exists():
            return out
        for line in p.read_text(errors="replace").splitlines():
            try:
                d = json.loads(line)
                seed, run = int(d["seed"]), int(d["run"])
                found = ([self.names[i] for i in d["ids"]] if "ids" in d else [str(b) for b in d["behaviours"]])
            except (ValueError, KeyError, TypeError, IndexError):
                continue
            out.setdefault(seed, (run, sorted(found)))
        return out
