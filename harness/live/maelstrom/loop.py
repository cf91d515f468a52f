"""A single-threaded event loop for a live Maelstrom run: pipes, timers, posted calls.

Everything that touches the network's state runs on the loop's thread: reading the
nodes' stdout, writing their stdin, timers of the clients and services. Other threads
(the live nemesis) hand work over with :meth:`Loop.call_threadsafe` and may wait for its
result. Times are ``time.monotonic_ns()``; ``rel()`` is ns since the loop was made,
matching the simulator's interface (``now``, ``rel()``, ``call_at``) so that the client
pool of the simulator drives live runs unchanged.
"""

from __future__ import annotations

import heapq
import os
import selectors
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class Loop:
    def __init__(self) -> None:
        self.start = time.monotonic_ns()
        self._sel = selectors.DefaultSelector()
        self._timers: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self._posted: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._writers: dict[int, Callable[[], None]] = {}
        self.thread = threading.get_ident()

    # ------------------------------------------------------------------ time
    @property
    def now(self) -> int:
        return time.monotonic_ns()

    def rel(self) -> int:
        return time.monotonic_ns() - self.start

    def call_at(self, t: int, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (t, self._seq, fn))
        self._seq += 1

    def call_later(self, seconds: float, fn: Callable[[], None]) -> None:
        self.call_at(time.monotonic_ns() + int(seconds * 1e9), fn)

    # ------------------------------------------------------------------ threads
    def call_threadsafe(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run ``fn`` on the loop's thread; the future holds its result."""
        fut: Future[Any] = Future()

        def job() -> None:
            try:
                fut.set_result(fn())
            except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
                fut.set_exception(e)

        if threading.get_ident() == self.thread:
            job()
            return fut
        with self._lock:
            self._posted.append(job)
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass
        return fut

    # ------------------------------------------------------------------ fds
    def add_reader(self, fd: int, cb: Callable[[], None]) -> None:
        self._sel.register(fd, selectors.EVENT_READ, cb)

    def remove_reader(self, fd: int) -> None:
        try:
            self._sel.unregister(fd)
        except (KeyError, ValueError):
            pass

    def want_write(self, fd: int, cb: Callable[[], None]) -> None:
        """Call ``cb`` when ``fd`` is writable (once); for pipes whose buffer is full."""
        if fd in self._writers:
            return
        self._writers[fd] = cb
        try:
            self._sel.register(fd, selectors.EVENT_WRITE, cb)
        except (KeyError, ValueError):
            self._writers.pop(fd, None)

    def drop_writer(self, fd: int) -> None:
        if self._writers.pop(fd, None) is not None:
            try:
                self._sel.unregister(fd)
            except (KeyError, ValueError):
                pass

    # ------------------------------------------------------------------ running
    def run_until(self, t: int, stop: Callable[[], bool] | None = None) -> None:
        """Process events until the monotonic clock reaches ``t`` (or ``stop()``)."""
        while True:
            now = time.monotonic_ns()
            while self._timers and self._timers[0][0] <= now:
                _, _, fn = heapq.heappop(self._timers)
                fn()
            if self._posted:
                with self._lock:
                    jobs, self._posted = self._posted, []
                for job in jobs:
                    job()
            if stop is not None and stop():
                return
            now = time.monotonic_ns()
            if now >= t:
                return
            nxt = min(t, self._timers[0][0]) if self._timers else t
            timeout = min(1.0, max(0.0, (nxt - now) / 1e9))
            for key, mask in self._sel.select(timeout):
                if key.data is None:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                    continue
                if mask & selectors.EVENT_WRITE:
                    self.drop_writer(key.fd)
                key.data()

    def close(self) -> None:
        self._sel.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
