"""Images a session may load because a recorded page view already named them (both UIs).

A page that shows many thumbnails (the station's review queue, a patient page at the practice)
is one audit event naming its items, not one event per thumbnail; a thumbnail or full image
that no recorded page named is recorded on its own before it is served. The grants live in
memory, per session, and are bounded in sessions and in items per session (oldest forgotten
first: a forgotten grant only means one more audit event).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from .guard import current_session


class ThumbnailGrants:
    """``grant(session, ids)`` after a recorded page view; ``granted(session, id)`` before
    serving an image without recording it again."""

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


def session_key() -> str:
    """A per-session key for server-side state (the session's CSRF secret: unique, never in
    a URL; the cookie token itself is not kept in the clear)."""
    s = current_session()
    return s.csrf if s is not None else ""
