"""The leader's session tracker (ZooKeeper's SessionTrackerImpl), sans-IO.

Sessions are created and closed by txns (datatree.py), so every server knows the live
sessions; only the established leader decides when one expires. It remembers, per live
session, when it last heard of it: a request or ping from a client connected to the
leader itself, or a follower's PingAck listing the sessions its clients used since its
last answer (followers relay, ZooKeeper's LearnerSessionTracker). A session not heard of
for longer than its timeout expires: the leader proposes ``closeSession`` and marks it
closing, so it is proposed once and a reconnect to it is refused meanwhile.

Time is whatever clock value the caller passes: the server passes its monotonic ``now``
(ZooKeeper measures with ``System.nanoTime`` since ZOOKEEPER-1366); the planted bug
``zk-wallclock-session-expiry`` passes the wall clock, ``now + wall_offset``, so a forward
jump of the leader's wall clock expires every session. The monotonic time of the last
touch is kept as well, for the trace (``session_expired`` says when the leader last heard
of the session, on its monotonic clock, so a checker can tell an expiry of a session that
was heard of within its timeout).

A new leader starts tracking every live session afresh (``track_all``), as if it had just
heard of each: sessions survive a leader change, and the new leader gives each one a full
timeout (ZooKeeper does the same).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TrackedSession:
    timeout: int
    touched: int  # on the tracker's clock (what expiry is measured on)
    touched_mono: int  # on the monotonic clock (for the trace)


class SessionTracker:
    def __init__(self) -> None:
        self.sessions: dict[int, TrackedSession] = {}
        self.closing: set[int] = set()

    def track(self, session: int, timeout: int, clock: int, now: int) -> None:
        if session not in self.sessions:
            self.sessions[session] = TrackedSession(timeout, clock, now)

    def track_all(self, sessions: dict[int, int], clock: int, now: int) -> None:
        """Start afresh: every live session, just heard of."""
        self.sessions = {s: TrackedSession(t, clock, now) for s, t in sessions.items()}
        self.closing = set()

    def touch(self, session: int, clock: int, now: int) -> bool:
        """Heard of ``session``; False if it is unknown or being closed."""
        t = self.sessions.get(session)
        if t is None or session in self.closing:
            return False
        t.touched, t.touched_mono = clock, now
        return True

    def is_live(self, session: int) -> bool:
        return session in self.sessions and session not in self.closing

    def remove(self, session: int) -> None:
        self.sessions.pop(session, None)
        self.closing.discard(session)

    def expire(self, clock: int) -> list[tuple[int, TrackedSession]]:
        """Sessions whose timeout has passed on ``clock``, in id order; each is marked
        closing (the caller proposes its closeSession)."""
        out = []
        for s in sorted(self.sessions):
            t = self.sessions[s]
            if s not in self.closing and clock - t.touched > t.timeout:
                self.closing.add(s)
                out.append((s, t))
        return out
