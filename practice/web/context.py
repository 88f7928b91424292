"""What every practice view shares: the index, the stations, the audit log, the time zone.

``create_app`` puts one :class:`PracticeContext` in ``current_app.extensions['practice_web']``;
views reach it through :func:`ctx`. Who is signed in and the role checks are the shared
:mod:`websecurity.guard` (re-exported here). :meth:`PracticeContext.record` is the only way a
view writes the audit log, and it raises when the log cannot take the event, so nothing is
shown whose showing was not recorded (fail closed).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from websecurity.guard import current_session, current_user, has_role, requires

log = logging.getLogger("capture_receiver.web")

EXTENSION = "practice_web"

__all__ = ["EXTENSION", "PracticeContext", "ThumbnailGrants", "ctx", "current_session",
           "current_user", "has_role", "requires"]


class ThumbnailGrants:
    """The thumbnails a session may load because a recorded page view already named them.

    A patient page with 500 captures is one audit event naming its items, not 500 events
    for its thumbnails; a thumbnail not granted this way is recorded on its own before it is
    served. Bounded in sessions and in items per session (oldest forgotten first: a forgotten
    grant only means one more audit event).
    """

    MAX_SESSIONS = 500
    MAX_ITEMS = 5000

    def __init__(self) -> None:
        self._grants: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()
        self._lock = threading.Lock()

    def grant(self, session_key: str, item_ids: Iterable[str]) -> None:
        with self._lock:
            items = self._grants.pop(session_key, None) or OrderedDict()
            for item_id in item_ids:
                items.pop(item_id, None)
                items[item_id] = None
            while len(items) > self.MAX_ITEMS:
                items.popitem(last=False)
            self._grants[session_key] = items
            while len(self._grants) > self.MAX_SESSIONS:
                self._grants.popitem(last=False)

    def granted(self, session_key: str, item_id: str) -> bool:
        with self._lock:
            items = self._grants.get(session_key)
            return items is not None and item_id in items


@dataclass
class PracticeContext:
    """What the views need (``current_app.extensions['practice_web']``).

    ``index`` is a :class:`practice.patientfile.PatientIndex`; ``stations`` the receiver's
    :class:`practice.store.ReceiverStore`; ``audit`` a :class:`practice.audit.PracticeAudit`
    (``record(event, by=..., **fields)``, ``page(...)``, ``verify()``).
    """

    index: Any
    stations: Any
    audit: Any
    tz: dt.tzinfo
    local_formats: tuple[Any, ...] = ()
    practice_name: str = "practice"
    grants: ThumbnailGrants = field(default_factory=ThumbnailGrants)

    def record(self, event: str, **fields: Any) -> None:
        """Write an audit event; if the log cannot take it, the action fails (fail closed).

        The acting account is ``by`` when given (account changes name their target
        ``user``), else ``user`` (every view and sign-in names its actor so); a failed
        sign-in of an unknown name is ``anonymous``."""
        by = fields.pop("by", None) or fields.pop("user", None) or "anonymous"
        try:
            self.audit.record(event, by=by, **fields)
        except Exception:
            log.exception("audit record failed for event %s", event)
            raise


def ctx() -> PracticeContext:
    return current_app.extensions[EXTENSION]


def session_key() -> str:
    """A per-session key for server-side state (the session's CSRF secret: unique, never in
    a URL; the cookie token itself is not kept in the clear)."""
    s = current_session()
    return s.csrf if s is not None else ""
