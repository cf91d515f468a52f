"""The proxy mesh forwards, refuses while its upstream is down or its link cut, and cuts live."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from harness.live.ports import reserve_block
from harness.live.proxy import ProxyMesh, listening_ports


class Echo:
    """A TCP echo server on a fixed port, which can stop listening and start again."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None

    def listen(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(8)
        self.sock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, s: socket.socket) -> None:
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c: socket.socket) -> None:
        with c:
            while True:
                try:
                    b = c.recv(4096)
                except OSError:
                    return
                if not b:
                    return
                c.sendall(b)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; the port stops listening
            except OSError:
                pass
            self.sock.close()
            self.sock = None


def _connect(port: int) -> socket.socket | None:
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=1.0)
    except OSError:
        return None


def _eventually(cond, timeout: float = 2.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


@pytest.fixture
def mesh_and_echo():
    block = reserve_block(4)
    up, p_ab, p_ba = block.take(), block.take(), block.take()
    echo = Echo(up)
    mesh = ProxyMesh()
    mesh.add("a", "b", "quorum", p_ab, up)
    mesh.add("b", "a", "quorum", p_ba, up)
    mesh.start()
    yield mesh, echo, p_ab, p_ba
    mesh.close()
    echo.close()
    block.release()


def test_refuses_until_upstream_listens_then_forwards(mesh_and_echo):
    _, echo, p_ab, _ = mesh_and_echo
    time.sleep(0.1)
    assert p_ab not in listening_ports()
    assert _connect(p_ab) is None  # refused, as a host that is down: not accepted and closed
    echo.listen()
    assert _eventually(lambda: p_ab in listening_ports())
    c = _connect(p_ab)
    assert c is not None
    c.sendall(b"hello")
    assert c.recv(5) == b"hello"
    c.close()


def test_cut_closes_live_connections_and_refuses_new_ones_until_healed(mesh_and_echo):
    mesh, echo, p_ab, p_ba = mesh_and_echo
    echo.listen()
    assert _eventually(lambda: {p_ab, p_ba} <= listening_ports())
    c = _connect(p_ab)
    c.sendall(b"x")
    assert c.recv(1) == b"x"
    mesh.set_cut([("b", "a")])  # a pair cuts both directed links
    c.settimeout(2.0)
    try:
        got = c.recv(1)
    except OSError:
        got = b""
    assert got == b""  # the live connection is gone
    assert _connect(p_ab) is None and _connect(p_ba) is None
    mesh.set_cut([])
    assert _eventually(lambda: _connect(p_ab) is not None)
    assert _eventually(lambda: mesh.stats()["proxy_connections"] >= 2)


def test_upstream_gone_stops_listening(mesh_and_echo):
    _, echo, p_ab, _ = mesh_and_echo
    echo.listen()
    assert _eventually(lambda: p_ab in listening_ports())
    echo.close()
    assert _eventually(lambda: p_ab not in listening_ports())
    assert _connect(p_ab) is None
