"""One replica's log of one partition: records, leader-epoch cache, producer state, disk.

A record is a tuple ``(offset, leader_epoch, key, value, producer_id, sequence)``;
``producer_id`` is -1 for a producer without idempotence. Offsets start at 0 and are
contiguous (no retention), so record ``o`` sits at index ``o``.

The leader-epoch cache (KIP-101) maps each epoch to the first offset written in it. It is
derived from the records' epochs, plus the entry a new leader adds for its own epoch at its
log end before writing anything (``assign_epoch``), which only lives in memory: a restarted
broker never leads again in an epoch it had before (the controller gives it a new one).

Producer state (KIP-98): per producer id, the last sequence and the offsets of its last
five records, rebuilt from the log whenever the log is loaded or truncated, so every
replica -- and so every new leader -- has it.

Disk. The records live in the file ``log-p<P>``; appends and truncations are ``Persist``
effects in log order, so the file is always some prefix of the history of writes. With
``flush_interval`` 0 every append is written at once (Kafka's flush.interval.messages=1);
otherwise appends wait in ``unflushed`` (the page cache) until ``flush()``, and a crash
loses them. ``durable_end`` is the length of the prefix of the in-memory log that is known
to be on disk: after write k completes, the file holds write k's result, less anything a
later truncation (still pending) will cut.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import deque
from typing import Any

from harness.node import Persist

OFFSET, EPOCH, KEY, VALUE, PID, SEQ = range(6)

#: batches of metadata kept per producer id (Kafka keeps 5: max.in.flight <= 5)
PRODUCER_WINDOW = 5

NO_PRODUCER = -1


def log_file(partition: int) -> str:
    return f"log-p{partition}"


class ProducerEntry:
    __slots__ = ("last_seq", "recent")

    def __init__(self) -> None:
        self.last_seq = -1
        self.recent: deque = deque(maxlen=PRODUCER_WINDOW)  # (seq, offset)

    def offset_of(self, seq: int) -> int | None:
        for s, o in self.recent:
            if s == seq:
                return o
        return None


class ReplicaLog:
    def __init__(self, partition: int, flush_interval: int = 0) -> None:
        self.partition = partition
        self.file = log_file(partition)
        self.flush_interval = flush_interval
        self.records: list[tuple] = []
        # chain[o]: a hash of records[:o], so two replicas compare any prefix in O(1)
        self.chain: list[str] = [""]
        self.epoch_starts: list[tuple[int, int]] = []  # (epoch, start offset), both increasing
        self.producers: dict[int, ProducerEntry] = {}
        self.durable_end = 0
        self.issued_end = 0  # records handed to Persist (the rest are unflushed)
        self._pending: deque = deque()  # ("append", length after) | ("truncate", keep)

    # ----------------------------------------------------------------- views
    @property
    def end(self) -> int:
        """Log end offset (LEO)."""
        return len(self.records)

    @property
    def latest_epoch(self) -> int:
        return self.epoch_starts[-1][0] if self.epoch_starts else -1

    def counted_end(self) -> int:
        """The log end a replica may report as replicated: durable when every append is
        flushed before it counts, else the page-cache end, as in Kafka."""
        return self.durable_end if self.flush_interval == 0 else self.end

    def epoch_at(self, offset: int) -> int:
        """The leader epoch of the record before ``offset`` (-1 if none)."""
        return self.records[offset - 1][EPOCH] if offset > 0 else -1

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """Kafka's ``LeaderEpochFileCache.endOffsetFor``: ``(e, end)`` where ``e`` is the
        largest known epoch <= ``epoch`` and ``end`` the start offset of the next larger
        known epoch (or the log end when ``e`` is the latest). If ``epoch`` is below every
        known epoch: ``(epoch, start of the first epoch)``. No epochs at all: ``(-1, -1)``."""
        starts = self.epoch_starts
        if not starts or epoch < 0:
            return (-1, -1)
        i = bisect.bisect_right(starts, (epoch, float("inf")))
        if i == 0:
            return (epoch, starts[0][1])
        e = starts[i - 1][0]
        end = starts[i][1] if i < len(starts) else self.end
        return (e, end)

    # ---------------------------------------------------------------- writes
    def assign_epoch(self, epoch: int) -> None:
        """A new leader's entry for its epoch at its current log end."""
        if not self.epoch_starts or epoch > self.epoch_starts[-1][0]:
            self.epoch_starts.append((epoch, self.end))

    def append(self, records: list[tuple]) -> list[Persist]:
        """Append records (their offsets must follow the log end); returns the writes."""
        for r in records:
            assert r[OFFSET] == len(self.records), (r, len(self.records))
            self.records.append(r)
            self._note_chain(r)
            self._note_epoch(r)
            self._note_producer(r)
        if self.flush_interval == 0:
            return self.flush()
        return []

    def flush(self) -> list[Persist]:
        if self.issued_end >= self.end:
            return []
        recs = tuple(self.records[self.issued_end :])
        self.issued_end = self.end
        self._pending.append(("append", self.end))
        return [Persist(self.file, recs, ("log", self.partition))]

    def truncate(self, offset: int) -> list[Persist]:
        """Drop every record at ``offset`` and above."""
        if offset >= self.end:
            return []
        del self.records[offset:]
        del self.chain[offset + 1 :]
        while self.epoch_starts and self.epoch_starts[-1][1] >= offset:
            self.epoch_starts.pop()
        self._rebuild_producers()
        self.durable_end = min(self.durable_end, offset)
        if self.issued_end <= offset:
            return []  # only unflushed records were cut
        self.issued_end = offset
        self._pending.append(("truncate", offset))
        return [Persist(self.file, (), ("log", self.partition), mode="truncate", keep=offset)]

    def on_persisted(self) -> None:
        """One write of this log's file completed (they complete in issue order)."""
        _kind, length = self._pending.popleft()
        for k, keep in self._pending:
            if k == "truncate":
                length = min(length, keep)
        self.durable_end = min(length, self.end)

    def load(self, stored: tuple) -> None:
        """Recovery: the records the file kept (lists after a round trip through disk)."""
        self.records = []
        self.chain = [""]
        self.epoch_starts = []
        for r in stored:
            r = tuple(r)
            if r[OFFSET] != len(self.records):
                break  # cannot happen with in-order writes; stop at a gap rather than guess
            self.records.append(r)
            self._note_chain(r)
            self._note_epoch(r)
        self._rebuild_producers()
        self.durable_end = self.issued_end = self.end

    # ---------------------------------------------------------------- helpers
    def _note_chain(self, r: tuple) -> None:
        h = hashlib.blake2b((self.chain[-1] + value_digest(r)).encode(), digest_size=8).hexdigest()
        self.chain.append(h)

    def prefix_hash(self, offset: int) -> str:
        """A hash of the records below ``offset`` (epochs, keys and values)."""
        return self.chain[min(offset, self.end)]

    def _note_epoch(self, r: tuple) -> None:
        e = r[EPOCH]
        if not self.epoch_starts or e > self.epoch_starts[-1][0]:
            self.epoch_starts.append((e, r[OFFSET]))

    def _note_producer(self, r: tuple) -> None:
        pid = r[PID]
        if pid == NO_PRODUCER:
            return
        entry = self.producers.get(pid)
        if entry is None:
            entry = self.producers[pid] = ProducerEntry()
        entry.last_seq = r[SEQ]
        entry.recent.append((r[SEQ], r[OFFSET]))

    def _rebuild_producers(self) -> None:
        self.producers = {}
        for r in self.records:
            self._note_producer(r)

    def records_from(self, offset: int, limit: int, upto: int | None = None) -> tuple:
        hi = self.end if upto is None else min(upto, self.end)
        return tuple(self.records[offset : min(hi, offset + limit)])

    def digest_at(self, offset: int) -> Any:
        return value_digest(self.records[offset])


def value_digest(record: tuple) -> str:
    """What the trace records of a record: its epoch, key and value, readable."""
    return f"{record[EPOCH]}:{record[KEY]}:{record[VALUE]}"
