"""The server's durable state and the committed tree (ZooKeeper's ZKDatabase over its
FileTxnSnapLog): the transaction log, the epoch files, snapshots, recovery, and applying
committed txns in zxid order.

What is persisted, and when (file: records):
- ``log``: one record ``(zxid, txn)`` per txn, appended when the txn is received (mode
  append); TRUNC and SNAP cut it (mode truncate). Records at the head that are not after
  the snapshot are ignored at recovery (left by a crash in the middle of a SNAP).
- ``acceptedEpoch``, ``currentEpoch``: one int each (mode replace).
- ``snapshot``: ``DataTree.to_record()`` of committed txns (mode replace), written when
  a SNAP is received, and every ``snap_count`` applied txns while serving; once a periodic
  snapshot is durable the log is rewritten without the txns it covers (mode replace), so
  a server far behind gets a SNAP. SNAP order: cut the log's txns after the snapshot
  point, then the snapshot, then the rest of the log; each step waits for the previous
  one's fsync, since a crash may lose, file by file, whatever is not durable.
Recovery (``_recover``): tree = snapshot; log = records after the snapshot; epochs from
their files; the logged txns are applied only once a leader says they are committed.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.node import Effect, Persist, Send, trace
from systems.zab import messages as m
from systems.zab.datatree import CLOSE_SESSION, DataTree, Txn, TxnResult
from systems.zab.messages import FOLLOWING, LEADING
from systems.zab.phases import BROADCAST

# file names (SystemSpec.files)
LOG = "log"
ACCEPTED_EPOCH = "acceptedEpoch"
CURRENT_EPOCH = "currentEpoch"
SNAPSHOT = "snapshot"
FILES = (LOG, ACCEPTED_EPOCH, CURRENT_EPOCH, SNAPSHOT)


@dataclass(slots=True)
class _LogWrite:
    zxid: int | None
    ack: str | None  # "follower" (send ACK when durable), "leader" (count own ACK)
    gen: int


class ZKDatabase:
    """Log, epochs, snapshots and the tree of a ZabServer (a mixin: state set up in ZabServer.__init__)."""

    if TYPE_CHECKING:
        # One part of ZabServer (systems/zab/server.py), which assembles the server from
        # these parts: what the other parts define is typed there, so here it is Any,
        # but for the state this part assigns too.
        _log_seq: int
        _persist_seq: int
        _snapshots_pending: int

        def __getattr__(self, name: str) -> Any: ...

    def _recover(self, stored: dict[str, tuple]) -> None:
        accepted = stored.get(ACCEPTED_EPOCH) or ()
        current = stored.get(CURRENT_EPOCH) or ()
        self.accepted_epoch = int(accepted[-1]) if accepted else 0
        self.current_epoch = int(current[-1]) if current else 0
        snap = stored.get(SNAPSHOT) or ()
        if snap:
            self.tree = DataTree.from_record(snap[-1])
            self.snap_zxid = self.tree.last_processed_zxid
        records = list(stored.get(LOG) or ())
        skip = 0
        while skip < len(records) and int(records[skip][0]) <= self.snap_zxid:
            skip += 1
        self._log_skip = skip
        for zxid, txn in records[skip:]:
            self._log_append_memory(int(zxid), Txn.from_record(txn))

    def _log_append_memory(self, zxid: int, txn: Txn) -> None:
        self.log.append((zxid, txn))
        self.log_zxids.append(zxid)

    def _log_append(self, zxid: int, txn: Txn, ack: str | None) -> list[Effect]:
        """Append to the log (memory now, disk after fsync)."""
        self._log_append_memory(zxid, txn)
        self._log_seq += 1
        self._log_writes[self._log_seq] = _LogWrite(zxid, ack, self._gen)
        return [Persist(LOG, ((zxid, txn.to_record()),), (LOG, self._log_seq))]

    def _log_truncate(self, keep_file_records: int) -> list[Effect]:
        self._log_seq += 1
        self._log_writes[self._log_seq] = _LogWrite(None, None, self._gen)
        return [Persist(LOG, (), (LOG, self._log_seq), mode="truncate", keep=keep_file_records)]

    def _log_durable(self, seq: int, now: int) -> list[Effect]:
        self._log_durable_seq = seq
        w = self._log_writes.pop(seq, None)
        effects: list[Effect] = []
        if w is None or w.zxid is None:
            return effects + self._maybe_establish(now)
        effects.append(trace("logged", zxid=w.zxid))
        if w.gen != self._gen:
            return effects
        if w.ack == "follower" and self.state == FOLLOWING:
            effects += [Send(self.leader_id, m.Ack(self.conn, w.zxid)), trace("ack_sent", zxid=w.zxid)]
        elif w.ack == "leader" and self.state == LEADING and w.zxid in self.outstanding:
            self.outstanding[w.zxid].add(self.node_id)
            effects += self._try_commit(now)
        return effects + self._maybe_establish(now)

    def _persist_epoch(self, file: str, epoch: int) -> tuple[list[Effect], tuple]:
        self._persist_seq += 1
        token = (file, self._persist_seq, epoch, self._gen)
        return [Persist(file, (epoch,), token, mode="replace")], token

    def _apply_up_to(self, zxid: int, now: int) -> list[Effect]:
        """Apply logged txns up to ``zxid`` in order; answer our clients' writes."""
        effects: list[Effect] = []
        i = bisect.bisect_right(self.log_zxids, self.tree.last_processed_zxid)
        while i < len(self.log) and self.log_zxids[i] <= zxid:
            z, txn = self.log[i]
            if (
                "zk-ephemeral-lingers" in self.bugs
                and txn.type == CLOSE_SESSION
                and self.state == FOLLOWING
                and self.zab_state != BROADCAST
            ):
                # bug: zk-ephemeral-lingers (ZOOKEEPER-2355): a closeSession a follower
                # applies at the end of its sync is skipped, yet counted applied (and
                # delivered): the session and its ephemerals linger here
                self.tree.last_processed_zxid = z
                result = TxnResult(True)
            else:
                result = self.tree.apply(z, txn)
            effects.append(trace("deliver", zxid=z, digest=txn.digest(), **self._delivered(txn, result)))
            effects += self._applied(z, txn, result, now)
            i += 1
            self._txns_since_snapshot += 1
        if self.sync_waits:
            effects += self._answer_sync_waits()
        if self.snap_count and self._txns_since_snapshot >= self.snap_count and self.serving:
            effects += self._take_snapshot()
        return effects

    def _take_snapshot(self) -> list[Effect]:
        """Snapshot the committed tree (ZooKeeper's SyncRequestProcessor after snapCount
        txns); once it is durable, the log before it goes (``_compact_log``)."""
        self._txns_since_snapshot = 0
        self._persist_seq += 1
        self._snapshots_pending += 1
        record = self.tree.to_record()
        return [Persist(SNAPSHOT, (record,), (SNAPSHOT, self._persist_seq, record[0], "periodic"), mode="replace")]

    def _compact_log(self, zxid: int) -> list[Effect]:
        """Drop the logged txns a durable snapshot at ``zxid`` covers: rewrite the log
        with the rest. Skipped when another snapshot write follows (it will replace this
        one) or our log no longer holds ``zxid`` (a sync rewrote it)."""
        if self._snapshots_pending or zxid <= self.snap_zxid:
            return []
        i = bisect.bisect_right(self.log_zxids, zxid)
        if i == 0 or self.log_zxids[i - 1] != zxid:
            return []
        self.snap_zxid = zxid
        del self.log[:i]
        del self.log_zxids[:i]
        self._log_skip = 0
        self._log_seq += 1
        self._log_writes[self._log_seq] = _LogWrite(None, None, self._gen)
        records = tuple((z, t.to_record()) for z, t in self.log)
        return [trace("log_compacted", snap_zxid=zxid, kept=len(records)),
                Persist(LOG, records, (LOG, self._log_seq), mode="replace")]
