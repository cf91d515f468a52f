"""A userspace TCP proxy mesh: every directed server-to-server link, cut and healed at will.

Partitions without root or iptables: each server's configuration names its peers at
proxy ports, so every connection from server ``a`` to server ``b`` goes through the
proxy of link ``a -> b``, which forwards to ``b``'s real port. Cutting the pair
``(a, b)`` closes the live connections of both directed links and makes new ones fail.

A cut link must look like a lost network to the servers, not like a peer that answers
and hangs up: a proxy that accepts a connection and then closes it (its upstream not
listening yet) is taken by ZooKeeper as a protocol failure, and a follower then waits a
whole ``initLimit`` for an election to restart. So a proxy listens only while its link
is up and its upstream port is listening (asked of the kernel: no probing
connections), and connects upstream before it forwards; while it does not listen, a
connection to it is refused, as by a host that is down. If the upstream stops listening
between two polls, the accepted connection is reset (RST), not closed gracefully.

Everything runs in the harness process (one thread polls and accepts, two per
connection forward bytes), so the mesh dies with the harness; it binds 127.0.0.1 only.
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

#: how often listeners are reconciled with the cut and with the upstreams' listening state
POLL_S = 0.03
HOST = "127.0.0.1"


def listening_ports() -> set[int]:
    """Local ports in LISTEN state (IPv4 and IPv6), asked of the kernel through netlink
    sock_diag (filtered by state in the kernel: fast however many connections the host
    has); /proc/net/tcp* where netlink is not available."""
    try:
        return _listening_netlink()
    except OSError:
        return _listening_proc()


_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_NLMSG_DONE, _NLMSG_ERROR = 3, 2
_TCP_LISTEN = 10


def _listening_netlink() -> set[int]:
    out: set[int] = set()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(1.0)
        for family in (socket.AF_INET, socket.AF_INET6):
            # inet_diag_req_v2: family, protocol, ext, pad, states; then a zeroed sockid (48 bytes)
            req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << _TCP_LISTEN) + bytes(48)
            hdr = struct.pack("=IHHII", 16 + len(req), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0)
            nl.send(hdr + req)
            done = False
            while not done:
                data = nl.recv(65536)
                off = 0
                while off + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, off)
                    if length < 16:
                        done = True
                        break
                    if kind == _NLMSG_DONE:
                        done = True
                        break
                    if kind == _NLMSG_ERROR:
                        raise OSError("sock_diag error")
                    # inet_diag_msg: family, state, timer, retrans, then sockid: sport (be16) ...
                    state = data[off + 17]
                    if state == _TCP_LISTEN:
                        out.add(struct.unpack_from("!H", data, off + 20)[0])
                    off += (length + 3) & ~3
    return out


def _listening_proc() -> set[int]:
    out: set[int] = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) > 3 and parts[3] == "0A":
                        out.add(int(parts[1].rpartition(":")[2], 16))
        except OSError:
            continue
    return out


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0): the peer sees a reset, not an orderly end."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


@dataclass(eq=False)
class Link:
    """One directed link ``src -> dst`` of one kind (``quorum``, ``election``)."""

    src: str
    dst: str
    kind: str
    port: int
    upstream: int
    listener: socket.socket | None = None
    conns: set[tuple[socket.socket, socket.socket]] = field(default_factory=set)
    accepted: int = 0
    refused_upstream: int = 0
    #: cleared while the link is frozen: bytes wait in the proxy (a stopped process's
    #: connection: open, silent)
    flowing: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.flowing.set()


class ProxyMesh:
    """Proxies for a set of directed links; ``set_cut(pairs)`` cuts both directions."""

    def __init__(self) -> None:
        self.links: list[Link] = []
        self._cut: frozenset[frozenset[str]] = frozenset()
        self._lock = threading.RLock()
        self._sel = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)

    def add(self, src: str, dst: str, kind: str, port: int, upstream: int) -> Link:
        link = Link(src, dst, kind, port, upstream)
        with self._lock:
            self.links.append(link)
        self._wake()
        return link

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="proxy-mesh", daemon=True)
        self._thread.start()

    def is_cut(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self._cut

    def set_cut(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Exactly these pairs cut (both directions); live connections across them closed."""
        with self._lock:
            self._cut = frozenset(frozenset(p) for p in pairs if p[0] != p[1])
            for link in self.links:
                if self.is_cut(link.src, link.dst):
                    self._close_listener(link)
                    self._drop_conns(link)
        self._wake()

    def set_frozen(self, src: str, frozen: bool) -> None:
        """Hold (or release) every byte on the links from and to ``src``, connections kept."""
        for link in self.links:
            if src in (link.src, link.dst):
                (link.flowing.clear if frozen else link.flowing.set)()

    def close(self) -> None:
        self._stop.set()
        for link in self.links:
            link.flowing.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            for link in self.links:
                self._close_listener(link)
                self._drop_conns(link)
        self._sel.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def stats(self) -> dict[str, int]:
        return {"proxy_links": len(self.links),
                "proxy_connections": sum(link.accepted for link in self.links),
                "proxy_upstream_refused": sum(link.refused_upstream for link in self.links)}

    # ---------------------------------------------------------------- internals
    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _close_listener(self, link: Link) -> None:
        if link.listener is not None:
            try:
                self._sel.unregister(link.listener)
            except (KeyError, ValueError):
                pass
            link.listener.close()
            link.listener = None

    def _drop_conns(self, link: Link) -> None:
        for a, b in list(link.conns):
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                _reset(s)
        link.conns.clear()

    def _reconcile(self) -> None:
        up = listening_ports()
        with self._lock:
            for link in self.links:
                want = not self.is_cut(link.src, link.dst) and link.upstream in up
                if want and link.listener is None:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        s.bind((HOST, link.port))
                    except OSError:
                        s.close()
                        continue
                    s.listen(16)
                    s.setblocking(False)
                    link.listener = s
                    self._sel.register(s, selectors.EVENT_READ, link)
                elif not want and link.listener is not None:
                    self._close_listener(link)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._reconcile()
            for key, _ in self._sel.select(POLL_S):
                if key.data is None:
                    try:
                        os.read(self._wake_r, 4096)
                    except OSError:
                        pass
                    continue
                self._accept(key.data)

    def _accept(self, link: Link) -> None:
        with self._lock:
            if link.listener is None:
                return
            try:
                down, _ = link.listener.accept()
            except (BlockingIOError, OSError):
                return
            if self.is_cut(link.src, link.dst):
                _reset(down)
                return
        down.setblocking(True)
        try:
            up = socket.create_connection((HOST, link.upstream), timeout=1.0)
        except OSError:
            link.refused_upstream += 1
            _reset(down)
            return
        up.settimeout(None)
        for s in (down, up):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = (down, up)
        with self._lock:
            if self.is_cut(link.src, link.dst):
                _reset(down)
                _reset(up)
                return
            link.conns.add(pair)
            link.accepted += 1
        for a, b in ((down, up), (up, down)):
            threading.Thread(target=self._pump, args=(link, pair, a, b), daemon=True,
                             name=f"proxy-{link.src}-{link.dst}").start()

    def _pump(self, link: Link, pair: tuple[socket.socket, socket.socket], a: socket.socket,
              b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                link.flowing.wait()
                b.sendall(data)
        except OSError:
            pass
        with self._lock:
            if pair in link.conns:
                link.conns.discard(pair)
                for s in pair:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    s.close()
