"""ZAB quorum safety, judged on what the servers did (trace.jsonl), not on what clients saw.

The properties are those of docs/zab.md §7 (the Zab paper's, as the TLA+ specs
state them, plus the implementation-level invariants of Ouyang et al.):

- **I1 integrity**: every delivered ``(zxid, digest)`` was proposed, with that digest.
- **I2/I3 total order and agreement**: the delivered histories of any two servers are
  prefixes of one another (the spec's PrefixConsistency, which implies both).
- **I4 local primary order**: within an epoch a server delivers exactly a prefix of that
  epoch's proposals, in zxid order.
- **I5 global primary order**: epochs never go down along a delivered history.
- **I6 primary integrity**: when the leader of epoch e first proposes, it has already
  delivered every earlier-epoch txn that any server ever delivers.
- **I7 one established leader per epoch**.
- **I8 zxid sanity**: a proposal's zxid carries its leader's epoch; zxids increase per
  proposer and epoch; one zxid never stands for two txns.
- **quorum commit**: every commit follows ACKs from a quorum, and each acker had the
  proposal *durably* logged before the leader committed (catches ack-before-fsync). A
  record is durably logged from its ``logged`` event, or from a restart that read it back
  from disk (``recovered``'s ``durable_log``): a write whose fsync completed while its
  server was paused is durable though the server, killed before it ran again, never
  traced ``logged`` for it; a NEWLEADER ACK after the restart rightly vouches for it.
- **committed-log durability**: no truncation removes a delivered (committed) txn.
- **I9 durability of acknowledged writes** (with the history): every write a client saw
  succeed is delivered, with its zxid, by every server at the end.

A server's delivered history ``H_i`` is rebuilt from its ``deliver`` events. After a
restart (``recovered``, with the zxid its snapshot brought back) the server delivers
again what it had delivered before: those re-deliveries must match, position by position
(else a committed txn was lost or changed). A SNAP sync
(``snapshot_received``) replaces ``H_i`` by the longest known history up to that zxid.
Each violation names the property, the servers, epochs and zxids involved, and says why
in a sentence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from checkers.result import CheckResult

EPOCH_SHIFT = 32


def _epoch(zxid: int, shift: int = EPOCH_SHIFT) -> int:
    return zxid >> shift


def _hex(z: int) -> str:
    return f"0x{z:x}"


class _Collector:
    def __init__(self, limit: int = 50):
        self.by_kind: dict[str, list[dict[str, Any] | None]] = defaultdict(list)  # None: counted, not kept
        self.limit = limit

    def add(self, prop: str, explanation: str, **facts: Any) -> None:
        lst = self.by_kind[prop]
        if len(lst) < self.limit:
            lst.append({"property": prop, "explanation": explanation, **facts})
        else:
            lst.append(None)  # counted, not kept

    def result(self, details: dict[str, Any]) -> CheckResult:
        counts = {k: len(v) for k, v in self.by_kind.items()}
        kept = {k: [x for x in v if x is not None] for k, v in self.by_kind.items()}
        valid = not counts
        if valid:
            expl = "all ZAB safety properties hold on the trace"
        else:
            expl = "; ".join(f"{k}: {n} violation(s)" for k, n in sorted(counts.items()))
        return CheckResult(valid, expl, anomalies=kept, anomaly_counts=counts, details=details)


def check_quorum(
    trace: Iterable[dict[str, Any]],
    servers: list[str],
    history: list[dict[str, Any]] | None = None,
    epoch_shift: int = EPOCH_SHIFT,
) -> CheckResult:
    """Check the ZAB safety properties over a run's trace (and its history, for I9): each
    violated property is an anomaly kind (``I3-agreement``...); ``details["stats"]``."""
    quorum = len(servers) // 2 + 1
    v = _Collector()
    H: dict[str, list[tuple[int, str]]] = {s: [] for s in servers}
    replay_pos: dict[str, int | None] = {s: None for s in servers}
    proposals: dict[int, tuple[str, str, int]] = {}  # zxid -> (digest, proposer, epoch)
    by_epoch: dict[int, list[int]] = defaultdict(list)  # epoch -> zxids proposed, in order
    last_proposed: dict[tuple[str, int], int] = {}
    leaders: dict[int, list[str]] = defaultdict(list)
    first_propose: dict[tuple[str, int], int] = {}  # (leader, epoch) -> len(H_leader) then
    first_propose_H: dict[tuple[str, int], set[int]] = {}
    logged: dict[str, set[int]] = defaultdict(set)
    quorums: dict[tuple[str, int], list[str]] = {}
    digest_of: dict[int, str] = {}
    newleader_acks: dict[str, list[str]] = {}

    def longest() -> list[tuple[int, str]]:
        return max(H.values(), key=len, default=[])

    for ev in trace:
        kind = ev.get("kind")
        node = ev.get("node")
        if node not in H:
            continue
        if kind == "propose":
            z, d, e = int(ev["zxid"]), str(ev.get("digest")), int(ev.get("epoch", _epoch(int(ev["zxid"]), epoch_shift)))
            if _epoch(z, epoch_shift) != e:
                v.add("I8-zxid-sanity", f"{node} proposed zxid {_hex(z)} whose epoch bits say "
                      f"{_epoch(z, epoch_shift)} while leading epoch {e}", node=node, epoch=e, zxid=z)
            prev = last_proposed.get((node, e))
            if prev is not None and z <= prev:
                v.add("I8-zxid-sanity", f"{node} proposed zxid {_hex(z)} after {_hex(prev)} in epoch {e}: "
                      "zxids must increase", node=node, epoch=e, zxid=z, previous=prev)
            last_proposed[(node, e)] = z
            old = proposals.get(z)
            if old is not None and old[0] != d:
                v.add("I8-zxid-sanity", f"zxid {_hex(z)} was proposed twice with different txns "
                      f"({old[1]}: {old[0]}, {node}: {d})", zxid=z, nodes=[old[1], node])
            if old is None:
                proposals[z] = (d, node, e)
                by_epoch[e].append(z)
            if (node, e) not in first_propose:
                first_propose[(node, e)] = len(H[node])
                first_propose_H[(node, e)] = {x for x, _ in H[node]}
        elif kind == "leader_established":
            e = int(ev["epoch"])
            newleader_acks[node] = [str(a) for a in ev.get("acks", [])]
            if node not in leaders[e]:
                leaders[e].append(node)
                if len(leaders[e]) == 2:
                    v.add("I7-one-leader-per-epoch", f"epoch {e} was established by two leaders: "
                          f"{leaders[e][0]} and {node}", epoch=e, nodes=list(leaders[e]))
        elif kind == "logged":
            logged[node].add(int(ev["zxid"]))
        elif kind == "acks_quorum":
            quorums[(node, int(ev["zxid"]))] = [str(a) for a in ev.get("acks", [])]
        elif kind == "commit":
            z = int(ev["zxid"])
            acks = quorums.get((node, z))
            if ev.get("initial"):
                # committed by establishing the epoch: a quorum ACKed NEWLEADER, i.e. had
                # the leader's log durably (docs/zab.md §5)
                acks = newleader_acks.get(node, [])
                if len(set(acks)) < quorum:
                    v.add("quorum-commit", f"{node} committed its initial history up to {_hex(z)} with NEWLEADER "
                          f"ACKs from {sorted(set(acks))}, fewer than a quorum of {quorum}",
                          node=node, zxid=z, acks=sorted(set(acks)))
            elif acks is None or len(set(acks)) < quorum:
                v.add("quorum-commit", f"{node} committed {_hex(z)} with ACKs from "
                      f"{sorted(set(acks or []))}, fewer than a quorum of {quorum}",
                      node=node, zxid=z, acks=sorted(set(acks or [])))
            else:
                not_durable = sorted(a for a in set(acks) if a in H and z not in logged[a])
                if len(set(acks)) - len(not_durable) < quorum:
                    v.add("quorum-commit", f"{node} committed {_hex(z)} counting ACKs from {not_durable}, "
                          "which had not durably logged it", node=node, zxid=z, not_durable=not_durable)
        elif kind == "recovered":
            # The tree comes back from the snapshot; logged txns are delivered again only
            # once a leader says they are committed. What it delivers next must repeat
            # what it had delivered before the crash, position by position.
            applied = int(ev.get("applied_zxid", 0))
            replay_pos[node] = sum(1 for z, _ in H[node] if z <= applied)
            # what it read back from its log is on disk, whether or not it lived to trace
            # ``logged`` for it (a restart reads only completed writes)
            for first, last in ev.get("durable_log", ()):
                logged[node].update(range(int(first), int(last) + 1))
        elif kind == "truncate":
            removed = [int(z) for z in ev.get("removed", [])]
            delivered_anywhere = [z for z in removed if z in digest_of]
            committed = [z for z in delivered_anywhere if any(z == x for h in H.values() for x, _ in h)]
            if committed:
                v.add("committed-log-durability", f"{node} truncated committed txn(s) "
                      f"{[_hex(z) for z in committed]}", node=node, zxids=committed)
            for z in removed:
                logged[node].discard(z)
            if ev.get("to_zxid") is not None:
                to = int(ev["to_zxid"])
                # a truncation also ends what this server may replay: cut H back (and flag above)
                rp = replay_pos[node]
                if H[node] and H[node][-1][0] > to and rp is not None and (rp == 0 or H[node][rp - 1][0] <= to):
                    # Recovered from a crash and not yet replayed past ``to``: what it had
                    # delivered beyond ``to`` before the crash (e.g. a SNAP it received and
                    # crashed before persisting) is not on its disk, so the truncation cannot
                    # remove it. It must come back, position by position: the replay check
                    # at ``deliver`` judges that.
                    pass
                elif H[node] and H[node][-1][0] > to:
                    cut = [z for z, _ in H[node] if z > to]
                    if not committed:
                        v.add("committed-log-durability", f"{node} truncated to {_hex(to)} below txns it had "
                              f"delivered: {[_hex(z) for z in cut][:10]}", node=node, zxids=cut)
                    H[node] = [(z, d) for z, d in H[node] if z <= to]
        elif kind == "snap_log_cut":
            # the log cut that comes with a SNAP: what it removes was never committed
            # (the snapshot holds what was), but it is no longer logged either
            for x in ev.get("removed", []):
                logged[node].discard(int(x))
        elif kind == "snapshot_received":
            # The server's tree becomes the leader's snapshot at z; the leader then sends
            # the txns after z, which the server delivers again. Like a recovery: what it
            # had delivered beyond z must come back, position by position, unchanged.
            z = int(ev["zxid"])
            base = [(x, d) for x, d in longest() if x <= z]
            beyond = [(x, d) for x, d in H[node] if x > z]
            H[node] = base + beyond
            replay_pos[node] = len(base) if beyond else None
        elif kind == "deliver":
            z, d = int(ev["zxid"]), str(ev.get("digest"))
            prop = proposals.get(z)
            if prop is None:
                v.add("I1-integrity", f"{node} delivered {_hex(z)} ({d}), which no leader proposed",
                      node=node, zxid=z)
            elif prop[0] != d:
                v.add("I1-integrity", f"{node} delivered {_hex(z)} as {d} but it was proposed as {prop[0]}",
                      node=node, zxid=z)
            other = digest_of.setdefault(z, d)
            if other != d:
                v.add("I3-agreement", f"zxid {_hex(z)} was delivered as two different txns ({other}, {d})",
                      node=node, zxid=z)
            h = H[node]
            rp = replay_pos[node]
            if rp is not None and rp < len(h):
                if h[rp][0] != z:
                    v.add("committed-log-durability", f"after a restart {node} delivered {_hex(z)} where before "
                          f"its crash it had delivered {_hex(h[rp][0])}: a committed txn was lost or changed",
                          node=node, zxid=z, expected=h[rp][0])
                    H[node] = h[:rp] + [(z, d)]
                    replay_pos[node] = None
                else:
                    replay_pos[node] = rp + 1
                continue
            replay_pos[node] = None
            if h and z <= h[-1][0]:
                v.add("I2-total-order", f"{node} delivered {_hex(z)} after {_hex(h[-1][0])}", node=node, zxid=z)
            if h and _epoch(z, epoch_shift) < _epoch(h[-1][0], epoch_shift):
                v.add("I5-global-primary-order", f"{node} delivered {_hex(z)} of epoch {_epoch(z, epoch_shift)} "
                      f"after {_hex(h[-1][0])} of a later epoch", node=node, zxid=z)
            h.append((z, d))

    # I3 agreement: every H_i is a prefix of the longest one
    ref_node = max(sorted(H), key=lambda s: len(H[s]), default=None)
    if ref_node is not None:
        ref = H[ref_node]
        for s in sorted(H):
            h = H[s]
            for i, (z, d) in enumerate(h):
                if ref[i] != (z, d):
                    v.add("I3-agreement", f"{s} and {ref_node} diverge at position {i}: {s} delivered "
                          f"{_hex(z)} where {ref_node} delivered {_hex(ref[i][0])}",
                          nodes=[s, ref_node], position=i, zxids=[z, ref[i][0]])
                    break

    # I4 local primary order: per epoch, a server delivers a prefix of the epoch's proposals
    for s in sorted(H):
        seen: dict[int, int] = defaultdict(int)
        for z, _ in H[s]:
            e = _epoch(z, epoch_shift)
            props = by_epoch.get(e, [])
            k = seen[e]
            if k < len(props) and props[k] != z and z in proposals:
                v.add("I4-local-primary-order", f"{s} delivered {_hex(z)} before {_hex(props[k])}, "
                      f"proposed earlier in epoch {e}", node=s, zxid=z, missing=props[k])
                break
            seen[e] = k + 1

    # I6 primary integrity
    delivered_all = {z for h in H.values() for z, _ in h}
    delivered_all |= set(digest_of)
    for (leader, e), had in sorted(first_propose_H.items()):
        missing = sorted(z for z in delivered_all if _epoch(z, epoch_shift) < e and z not in had)
        if missing:
            v.add("I6-primary-integrity", f"{leader} began proposing in epoch {e} without "
                  f"{len(missing)} earlier-epoch txn(s) delivered elsewhere, first {_hex(missing[0])}",
                  node=leader, epoch=e, zxids=missing[:10])

    # I9 acknowledged writes are in every final history
    if history is not None:
        final_sets = {s: {z for z, _ in h} for s, h in H.items()}
        for evh in history:
            if evh.get("type") == "ok" and evh.get("f") in ("write", "cas") and evh.get("zxid") is not None:
                z = int(evh["zxid"])
                lacking = sorted(s for s, zs in final_sets.items() if z not in zs)
                if lacking:
                    v.add("I9-acked-write-durability", f"the {evh['f']} acknowledged at index {evh['index']} "
                          f"(zxid {_hex(z)}) is missing from the final history of {lacking}",
                          index=evh["index"], zxid=z, nodes=lacking)

    stats = {
        "proposals": len(proposals),
        "epochs_established": len(leaders),
        "delivered": {s: len(h) for s, h in sorted(H.items())},
    }
    return v.result({"stats": stats})
