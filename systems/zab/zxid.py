"""Zxids: ZooKeeper transaction ids, ``epoch << counter_bits | counter``.

Real ZooKeeper uses a 64-bit zxid with the epoch in the high 32 bits and a per-epoch
counter in the low 32 (``ZxidUtils``). The counter width is a parameter here so that a
test can reach counter rollover (ZOOKEEPER-1277) in a few hundred writes; it defaults to
32. A new leader of epoch ``e`` starts at ``make_zxid(e, 0)`` (the zxid NEWLEADER carries)
and its first proposal is ``make_zxid(e, 1)``. Zxid ``0`` means "nothing".
"""

from __future__ import annotations

DEFAULT_COUNTER_BITS = 32


def make_zxid(epoch: int, counter: int, bits: int = DEFAULT_COUNTER_BITS) -> int:
    """``(epoch, counter)`` as one integer; the counter must fit in ``bits``."""
    if not 0 <= counter < (1 << bits):
        raise ValueError(f"zxid counter {counter} does not fit in {bits} bits")
    return (epoch << bits) | counter


def epoch_of(zxid: int, bits: int = DEFAULT_COUNTER_BITS) -> int:
    return zxid >> bits


def counter_of(zxid: int, bits: int = DEFAULT_COUNTER_BITS) -> int:
    return zxid & ((1 << bits) - 1)


def max_counter(bits: int = DEFAULT_COUNTER_BITS) -> int:
    """The largest counter; a leader at it must not propose (it steps down instead)."""
    return (1 << bits) - 1


def zxid_str(zxid: int, bits: int = DEFAULT_COUNTER_BITS) -> str:
    """Readable form for logs and test failures: ``0x1.5`` for epoch 1, counter 5."""
    return f"0x{epoch_of(zxid, bits):x}.{counter_of(zxid, bits):x}"


def zxid_runs(zxids: list[int]) -> list[list[int]]:
    """Ascending ``zxids`` as ``[first, last]`` runs of consecutive integers (one run per
    epoch in a log without holes): a short exact form of a whole log for the trace."""
    runs: list[list[int]] = []
    for z in zxids:
        if runs and z == runs[-1][1] + 1:
            runs[-1][1] = z
        else:
            runs.append([z, z])
    return runs
