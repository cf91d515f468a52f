"""The live client pool ends within its bound even when clients cannot close quickly."""

from __future__ import annotations

import threading
import time

from harness.config import RunConfig
from harness.live import run
from harness.live.run import Completion, LiveClientPool


class _StuckClient:
    """A client whose server is gone: closing waits as kazoo's does (a session timeout)."""

    def __init__(self, release: threading.Event):
        self.release = release

    def invoke(self, f, key, value, timeout):
        return Completion("fail")

    def close(self) -> None:
        self.release.wait(60)


class _Driver:
    def __init__(self, release: threading.Event):
        self.release = release

    def open(self, index: int, server: str) -> _StuckClient:
        return _StuckClient(self.release)


def test_clients_that_cannot_close_do_not_hold_the_run(monkeypatch) -> None:
    monkeypatch.setattr(run, "CLOSE_TIMEOUT", 0.5, raising=False)
    release = threading.Event()
    timer = threading.Timer(5.0, release.set)  # bounds a pool that closes them one by one
    timer.start()
    cfg = RunConfig(system="zookeeper", workload="register", clients=6, nodes=3)
    pool = LiveClientPool(cfg, workload=None, driver=_Driver(release), servers=["n1", "n2", "n3"], start=0.0)
    t0 = time.monotonic()
    try:
        pool.close()
        took = time.monotonic() - t0
    finally:
        release.set()
        timer.cancel()
    # one after the other they would take 6 x 60 s (here 5 s); side by side, the bound
    assert took < 3.0, f"closing the clients took {took:.1f} s"


class _Runtime:
    """A cluster whose clients cannot close while it runs (a paused server): they are
    refused once it stops, as kazoo's are."""

    def __init__(self, stopped: threading.Event):
        self.servers = ["n1", "n2"]
        self.stopped = stopped
        self.procs = None
        self.t0 = None

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.stopped.set()

    def digests(self):
        raise RuntimeError("interrupted after the main phase")

    def leader(self):
        return None

    def set_cut(self, cut) -> None:
        pass


class _Workload:
    def next_op(self, process):
        return "read", "x", None

    def final_ops(self):
        return []


def test_an_interrupted_run_stops_the_servers_before_closing_the_clients() -> None:
    stopped = threading.Event()
    cfg = RunConfig(system="zookeeper", workload="register", clients=2, nodes=3, time_limit=0.3,
                    recovery_time=0.4, rate=10)
    t0 = time.monotonic()
    try:
        run.run_live_loop(cfg, _Runtime(stopped), lambda rt: _Driver(stopped), _Workload(), [])
    except RuntimeError:
        pass
    took = time.monotonic() - t0
    # clients closed first would have waited out CLOSE_TIMEOUT (5 s) for the servers
    assert stopped.is_set() and took < 3.5, f"the interrupted run took {took:.1f} s to end"
