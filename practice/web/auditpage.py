"""The audit page's query: filter the practice audit log and page it, newest first.

The log is read backwards from its end (:func:`sync.audit.iter_reverse`), so the newest page
of a long log costs only its last chunks; the cursor is the ``seq`` of the last line shown.
An event filter matches a whole event name or a prefix ending in a dot (``capture.``); a
user filter matches the acting user (``user``, or ``by`` for account changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.audit import iter_reverse


@dataclass(frozen=True)
class AuditPage:
    entries: list[dict[str, Any]]
    next_cursor: str | None


def _matches(entry: dict[str, Any], event: str | None, user: str | None) -> bool:
    name = entry.get("event", "")
    if event and not (name == event or (event.endswith(".") and name.startswith(event))):
        return False
    fields = entry.get("fields") or {}
    return not user or user in (fields.get("user"), fields.get("by"))


def query(path: Path, *, event: str | None = None, user: str | None = None,
          cursor: str | None = None, limit: int = 100) -> AuditPage:
    """Up to ``limit`` matching entries older than ``cursor``; ValueError for a bad cursor."""
    before = int(cursor) if cursor else None
    if before is not None and before < 1:
        raise ValueError("bad cursor")
    entries: list[dict[str, Any]] = []
    if not Path(path).exists():
        return AuditPage([], None)
    for entry in iter_reverse(path):
        if before is not None and entry.get("seq", 0) >= before:
            continue
        if _matches(entry, event, user):
            if len(entries) == limit:
                return AuditPage(entries, str(entries[-1]["seq"]))
            entries.append(entry)
    return AuditPage(entries, None)
