"""The UI's view of the vault and the audit log: plain records for templates, typed errors.

Keeping this translation in one module means the templates and views depend on a handful of
fields (id, time, state, whether this start can open it) rather than on the vault's internals.
The vault itself audits every opening (``capture.viewed`` with the operator and the part),
amendment and discard, so the views pass the signed-in user as ``operator`` and do not log
those events a second time.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..vault.errors import NotReviewableError, UnknownCaptureError, VaultError

#: Discard reasons the vault knows (anything else is recorded as ``other``); labels for people.
DISCARD_REASONS = {
    "poor_quality": "poor quality (blurred, dark, cut off)",
    "wrong_patient": "wrong patient",
    "duplicate": "duplicate",
    "consent_withdrawn": "consent withdrawn",
    "other": "other (describe)",
}


class UnknownCapture(LookupError):
    """No such capture on this station."""


class NotReviewable(RuntimeError):
    """Sealed before this start, shredded or discarded: not openable here."""


@dataclass(frozen=True)
class CaptureSummary:
    capture_id: str
    captured_at: str
    state: str  # queued, sending, delivered, rejected
    reviewable: bool
    group: str = ""  # a short pseudonym label to group captures of one patient
    maybe_sent: bool = False  # the practice may hold it: discarding needs a retraction


@dataclass(frozen=True)
class OpenedCapture:
    capture_id: str
    state: str
    metadata: dict[str, Any] = field(repr=False)
    image: bytes = field(repr=False, default=b"")
    preview: bytes = field(repr=False, default=b"")


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    detail: str


def local_time(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def group_label(pseudonym: str | None) -> str:
    """A short, stable-for-this-start label; says nothing about the patient."""
    if not pseudonym:
        return ""
    return pseudonym[:8]  # "p-" and 6 hex digits


def _utc(stamp: str) -> str:
    """``2026-01-02T10:11:12.345Z`` -> ``2026-01-02 10:11:12 UTC`` (shorter in a table)."""
    if len(stamp) >= 19 and stamp[10] == "T":
        return f"{stamp[:10]} {stamp[11:19]} UTC"
    return stamp


def _summary(item: Any) -> CaptureSummary:
    return CaptureSummary(
        capture_id=item.capture_id,
        captured_at=local_time(item.created_at),
        state=item.state,
        reviewable=bool(item.reviewable),
        group=group_label(item.pseudonym),
        maybe_sent=item.state in ("sending", "delivered") or item.attempts > 0,
    )


def list_summaries(vault: Any) -> list[CaptureSummary]:
    """Every capture still held, newest first (this start's and earlier, sealed ones)."""
    return [_summary(item) for item in vault.list_captures(include_previous=True)]


def find_summary(vault: Any, capture_id: str) -> CaptureSummary | None:
    for item in list_summaries(vault):
        if item.capture_id == capture_id:
            return item
    return None


def open_capture(vault: Any, capture_id: str, operator: str | None, *,
                 part: str = "image") -> OpenedCapture:
    """Decrypt in memory. ``part`` 'image' opens everything; 'preview' skips the full image."""
    try:
        opened = vault.open_for_review(capture_id, operator=operator,
                                       preview_only=part == "preview")
    except UnknownCaptureError:
        raise UnknownCapture(capture_id) from None
    except NotReviewableError as exc:
        raise NotReviewable(str(exc)) from None
    except VaultError as exc:  # e.g. the view could not be audited: nothing is shown
        raise NotReviewable(str(exc)) from None
    return OpenedCapture(opened.capture_id, opened.state, dict(opened.metadata),
                         opened.image or b"", opened.preview or b"")


def amend(vault: Any, capture_id: str, changes: dict[str, Any], operator: str) -> str:
    try:
        return vault.amend(capture_id, changes, operator)
    except UnknownCaptureError:
        raise UnknownCapture(capture_id) from None


def discard(vault: Any, capture_id: str, reason: str, operator: str) -> str:
    """Discard; returns 'shredded' (never sent) or 'retracted' (a retraction was queued)."""
    try:
        retraction = vault.discard(capture_id, reason, operator)
    except UnknownCaptureError:
        raise UnknownCapture(capture_id) from None
    return "retracted" if retraction else "shredded"


def verify_audit(audit: Any) -> Verification:
    """Walk the whole hash chain of the audit log."""
    from ..vault.audit import verify

    result = verify(audit.path)
    if result.ok:
        return Verification(True, result.records, "")
    where = f"line {result.line}: " if result.line else ""
    return Verification(False, result.records, f"{where}{result.problem}")


def audit_entries(audit: Any, *, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` records, newest first, shaped for the template."""
    from ..vault.audit import iter_lines

    newest: deque[dict[str, Any]] = deque(maxlen=limit)
    try:
        for _end, raw in iter_lines(audit.path):
            try:
                newest.append(json.loads(raw))
            except ValueError:
                newest.append({"seq": "?", "ts": "", "event": "(unreadable line)",
                               "fields": {}})
    except FileNotFoundError:
        return []
    return [{"seq": e.get("seq"), "time": _utc(e.get("ts", "")), "event": e.get("event", ""),
             "fields": e.get("fields") or {}} for e in reversed(newest)]

