"""How a leader brings one follower's log in line with its own (phase 2): DIFF, TRUNC or SNAP.

A pure function of what the leader knows: the follower's last logged zxid (from ACKEPOCH),
the leader's history (zxids of its logged txns after its snapshot, ascending) and its
snapshot zxid. It follows ``LearnerHandler.syncFollower`` (docs/zab.md §5), with the
whole in-memory log as the committed-log window:

| condition                                                  | plan                     |
|------------------------------------------------------------|--------------------------|
| forced                                                     | SNAP                     |
| ``peer_last == leader_last``                               | empty DIFF               |
| ``peer_last`` is in the history (or is the snapshot zxid)  | DIFF, then later txns    |
| ``peer_last < snap_zxid`` (older than anything logged)     | SNAP                     |
| the follower logged txns the leader never had: ``prev`` =  | TRUNC to ``prev``, then  |
| the leader's last zxid below ``peer_last``, in the same    | the txns after ``prev``  |
| epoch as ``peer_last``                                     |                          |
| ... ``prev`` in another epoch                              | SNAP                     |

Why "same epoch" for TRUNC: ZooKeeper refuses a TRUNC that crosses an epoch boundary
(``queueCommittedProposals``). Within one epoch a follower's log is contiguous (one leader,
FIFO links), so it surely holds ``prev``; across epochs it may not, and truncating "to"
a zxid it never had would keep a phantom txn. ZooKeeper applies the check only when
``peer_last`` lies inside the window; we also apply it when ``peer_last`` is beyond the
leader's last zxid, where the same reasoning holds. A SNAP is always safe, only heavier.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from systems.zab.zxid import epoch_of

DIFF = "DIFF"
TRUNC = "TRUNC"
SNAP = "SNAP"


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """``mode``; for DIFF the follower's last zxid, for TRUNC the zxid to truncate to
    (``zxid``); ``start``: index in the history of the first txn to send (SNAP: the leader
    decides the snapshot point and so the start itself)."""

    mode: str
    zxid: int = 0
    start: int = 0


def choose_sync(
    peer_last: int,
    history: list[int],
    snap_zxid: int,
    bits: int,
    force_snap: bool = False,
) -> SyncPlan:
    """Choose DIFF / TRUNC / SNAP for a follower whose last logged zxid is ``peer_last``."""
    if force_snap:
        return SyncPlan(SNAP)
    leader_last = history[-1] if history else snap_zxid
    if peer_last == leader_last:
        return SyncPlan(DIFF, peer_last, len(history))
    if peer_last == snap_zxid:
        return SyncPlan(DIFF, peer_last, 0)
    i = bisect.bisect_left(history, peer_last)
    if i < len(history) and history[i] == peer_last:
        return SyncPlan(DIFF, peer_last, i + 1)
    if peer_last < snap_zxid:
        return SyncPlan(SNAP)
    # the follower has txns we never had: truncate them, back to our last zxid below
    prev = history[i - 1] if i > 0 else snap_zxid
    if epoch_of(prev, bits) != epoch_of(peer_last, bits):
        return SyncPlan(SNAP)
    return SyncPlan(TRUNC, prev, i)
