"""A process's faked clock through libfaketime's timestamp file, kept continuous.

libfaketime (``FAKETIME_TIMESTAMP_FILE`` holding ``"+OFFSET xRATE"``) fakes a process's
clocks as ``start + (now - start) * RATE + OFFSET``, where ``start`` is when the process
started: a new rate rescales *all* the time since then, so switching a process that ran
100 s from x1 to x0.1 would throw its clocks (the monotonic clock too) back 90 s at once
(measured on Debian 12's libfaketime 0.9.10). The simulator's skew changes the rate from
now on. :class:`FakeClock` writes the offset that keeps the clock continuous across a
rate change, and moves it by the change of the bump (the fault's absolute offset); a
reset (offset 0, rate x1) goes back to true time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


class FakeClock:
    """The timestamp file of one process (kept across its restarts)."""

    def __init__(self, path: Path):
        self.path = path
        self.offset_s = 0.0  # what the file says now
        self.rate = 1.0
        self.bump_ns = 0
        if not path.exists():
            self._write()

    def set(self, offset_ns: int, ppm: int, started: tuple[float, float]) -> None:
        """Move the clock of a process to the absolute bump ``offset_ns`` and the rate
        ``1 + ppm / 1e6``. ``started``: monotonic times before its fork and after its
        exec; libfaketime's start lies between. A new rate applied to the wrong elapsed
        time moves the clock by the error times the rate change: the bound that makes
        that move forward is used (the earlier start when the clock slows down, the later
        one when it speeds up), so the clock never goes back."""
        rate = 1.0 + ppm / 1e6
        if offset_ns == 0 and ppm == 0:
            off = 0.0  # reset: back to true time
        else:
            elapsed = time.monotonic() - (started[0] if rate < self.rate else started[1])
            off = self.offset_s + elapsed * (self.rate - rate) + (offset_ns - self.bump_ns) / 1e9
        self.offset_s, self.rate, self.bump_ns = off, rate, offset_ns
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{self.offset_s:+.6f} x{self.rate:.6f}\n")
        os.replace(tmp, self.path)
