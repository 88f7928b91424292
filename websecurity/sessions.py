"""Server-side sessions: the cookie carries only a random id; everything else stays here.

Kept in memory on purpose: a restart signs everyone out. On the station that matches the
vault (the review key is regenerated at each start, so nothing a session could show survives a
restart anyway); at the practice it costs a sign-in. Server-side state is what lets a UI end
sessions for real (idle and absolute timeouts, sign-out, a removed user or a changed password)
instead of trusting a signed cookie that stays valid until it expires. The CSRF token is per
session, including the anonymous session that the sign-in form uses, so the sign-in POST is
protected too.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

#: Bound on anonymous sessions (sign-in forms opened but not used), oldest dropped first.
MAX_ANONYMOUS = 1000


@dataclass
class Session:
    created: float
    last_seen: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    user: str | None = None
    role: str | None = None
    must_change_password: bool = False
    #: The account's password stamp at sign-in; a different one later ends the session.
    password_stamp: str = ""


@dataclass(frozen=True)
class Lookup:
    session: Session | None
    expired: str | None = None
    ended: Session | None = None


class SessionStore:
    def __init__(self, clock: Callable[[], float], *, idle_seconds: float,
                 absolute_seconds: float) -> None:
        self._clock = clock
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> str:
        # Stored by hash: even a memory dump of the table does not hand out live cookies.
        return hashlib.sha256(token.encode()).hexdigest()

    def new(self, *, user: str | None = None, role: str | None = None,
            must_change_password: bool = False, password_stamp: str = "") -> tuple[str, Session]:
        now = self._clock()
        token = secrets.token_urlsafe(32)
        session = Session(created=now, last_seen=now, user=user, role=role,
                          must_change_password=must_change_password,
                          password_stamp=password_stamp)
        with self._lock:
            self._sessions[self._key(token)] = session
            self._trim()
        return token, session

    def lookup(self, token: str | None, *, touch: bool = True) -> Lookup:
        """The live session for ``token`` (touched, unless ``touch`` is false: a page that
        reloads itself is no sign of someone at the screen), or why there is none:
        ``expired`` is 'idle' or 'absolute' (and ``session`` the ended one, for the audit
        log), or None for a missing or unknown cookie."""
        if not token:
            return Lookup(None)
        now = self._clock()
        key = self._key(token)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return Lookup(None)
            if now - session.created >= self.absolute_seconds:
                del self._sessions[key]
                return Lookup(None, "absolute", session)
            if now - session.last_seen >= self.idle_seconds:
                del self._sessions[key]
                return Lookup(None, "idle", session)
            if touch:
                session.last_seen = now
                self._sessions.move_to_end(key)
        return Lookup(session)

    def drop(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(self._key(token), None)

    def drop_user(self, user: str, *, keep: str | None = None) -> int:
        """End every session of ``user`` (except the one with token ``keep``)."""
        keep_key = self._key(keep) if keep else None
        with self._lock:
            doomed = [k for k, s in self._sessions.items() if s.user == user and k != keep_key]
            for k in doomed:
                del self._sessions[k]
        return len(doomed)

    def _trim(self) -> None:
        now = self._clock()
        for k in [k for k, s in self._sessions.items()
                  if now - s.last_seen >= self.idle_seconds
                  or now - s.created >= self.absolute_seconds]:
            del self._sessions[k]
        anonymous = [k for k, s in self._sessions.items() if s.user is None]
        for k in anonymous[:max(0, len(anonymous) - MAX_ANONYMOUS)]:
            del self._sessions[k]

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
