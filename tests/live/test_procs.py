"""The live runtime's process controller: processes die with the harness however it ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from harness.live.procs import ProcessController

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux only")

HARNESS_LIKE = textwrap.dedent(
    """
    import sys, threading, time
    from harness.live.procs import ProcessController, install_signal_handlers
    install_signal_handlers()
    c = ProcessController()
    a = c.start("a", ["sleep", "600"])
    box = {}
    t = threading.Thread(target=lambda: box.update(b=c.start("b", ["sleep", "600"])))
    t.start(); t.join()  # the thread that asked for b is gone; b must live on
    time.sleep(0.3)
    print(a.pid, box["b"].pid, int(box["b"].alive()), flush=True)
    try:
        time.sleep(600)
    finally:
        c.close()
    """
)


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state == "Z":  # a zombie waiting for init to reap it is dead
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def _state_becomes(pid: int, want: str, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == want:
                return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_children_die_with_the_harness(sig: int) -> None:
    p = subprocess.Popen([sys.executable, "-c", HARNESS_LIKE], stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline() if p.stdout else ""
        a, b, b_alive = (int(x) for x in line.split())
        assert b_alive == 1, "a process started from a thread that ended was killed with it"
        assert not _gone(a, 0.1) and not _gone(b, 0.1)
        p.send_signal(sig)
        p.wait(10)
        assert _gone(a) and _gone(b), f"children outlived the harness after signal {sig}"
    finally:
        if p.poll() is None:
            p.kill()


def test_kill_pause_resume_by_pid() -> None:
    with ProcessController() as c:
        p = c.start("n1", ["sleep", "600"])
        assert c.pause(p) and not c.pause(p)
        assert _state_becomes(p.pid, "T"), "SIGSTOP did not stop the process"
        assert c.resume(p) and not c.resume(p)
        assert c.kill(p) and not p.alive()
        assert not c.kill(p)
        q = c.start("n2", ["sleep", "600"])
        c.pause(q)
    assert not q.alive(), "close() ends a paused process too"


def _grandchild(c: ProcessController, name: str, script: str, pids: list[int]) -> tuple[object, int]:
    """A wrapper shell that starts ``sleep`` and waits (no ``exec``): the sleep's pid."""
    p = c.start(name, ["sh", "-c", script], stdout=subprocess.PIPE)
    assert p.stdout is not None
    pid = int(p.stdout.readline())
    pids.append(pid)
    return p, pid


def test_a_wrapper_is_paused_killed_and_ended_with_what_it_started() -> None:
    pids: list[int] = []
    try:
        with ProcessController() as c:
            p, child = _grandchild(c, "n1", "sleep 600 & echo $!; wait", pids)
            assert c.pause(p)
            assert _state_becomes(child, "T"), "the wrapper's child was not paused with it"
            assert c.resume(p)
            assert _state_becomes(child, "S")
            assert c.kill(p)
            assert _gone(child), "the wrapper's child outlived a kill of the node"
            # one that ignores SIGTERM, and one whose wrapper has exited: ended at close
            _, stubborn = _grandchild(c, "n2", "trap '' TERM; sleep 600 & echo $!; trap - TERM; wait", pids)
            _, orphan = _grandchild(c, "n3", "sleep 600 & echo $!", pids)
            assert not _gone(stubborn, 0.1) and not _gone(orphan, 0.3)
            c.close(grace=0.5)
        assert _gone(stubborn), "a child ignoring SIGTERM outlived the controller"
        assert _gone(orphan), "the child of a wrapper that had exited outlived the controller"
    finally:
        for pid in pids:  # what a failure left behind, by the pids this test got
            if not _gone(pid, 0.05):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


WRAPPER_HARNESS = textwrap.dedent(
    """
    import time
    from harness.live.procs import ProcessController, install_signal_handlers
    install_signal_handlers()
    c = ProcessController()
    w = c.start("n1", ["sh", "-c", "sleep 600 & echo $!; wait"], stdout=-1)
    print(w.pid, int(w.stdout.readline()), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_what_a_wrapper_started_dies_with_the_harness(sig: int) -> None:
    p = subprocess.Popen([sys.executable, "-c", WRAPPER_HARNESS], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        line = p.stdout.readline() if p.stdout else ""
        wrapper, child = (int(x) for x in line.split())
        assert not _gone(child, 0.1)
        p.send_signal(sig)
        p.wait(10)
        assert _gone(wrapper), "the wrapper outlived the harness"
        assert _gone(child), f"what the wrapper started outlived the harness after signal {sig}"
    finally:
        if p.poll() is None:
            p.kill()
        if child and not _gone(child, 0.05):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
