"""How the UI shows the vault and the audit log: labels, local times, short ids, audit pages.

The views use the vault's own records (:class:`~appliance.vault.CaptureSummary`,
:class:`~appliance.vault.ReviewCapture`) and errors; this module only adds what people read:
times in the station's local time zone, short ids and pseudonym labels (template filters),
whether discarding needs a retraction, the discard reasons' labels and the audit page. The
vault itself audits every opening (``capture.viewed`` with the operator and the part),
amendment and discard, so the views pass the signed-in user as ``operator`` and do not log
those events a second time.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from sync.audit import iter_reverse

from ..vault import CaptureSummary

#: Discard reasons the vault knows (anything else is recorded as ``other``); labels for people.
DISCARD_REASONS = {
    "poor_quality": "poor quality (blurred, dark, cut off)",
    "wrong_patient": "wrong patient",
    "duplicate": "duplicate",
    "consent_withdrawn": "consent withdrawn",
    "other": "other (describe)",
}


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    detail: str


def local_time(value: float | str | None) -> str:
    """An epoch or an ISO 8601 stamp (``...Z`` or with an offset) in the station's time zone,
    with the zone named: ``2026-01-02 11:11:12 CET``. Unparseable text is shown as it is."""
    if value is None or value == "":
        return ""
    try:
        if isinstance(value, int | float):
            when = datetime.fromtimestamp(value).astimezone()
        else:
            parsed = datetime.fromisoformat(str(value))
            if parsed.tzinfo is None:
                return parsed.strftime("%Y-%m-%d %H:%M:%S")
            when = parsed.astimezone()
    except (ValueError, OverflowError, OSError):
        return str(value)
    return f"{when:%Y-%m-%d %H:%M:%S} {when.tzname() or ''}".rstrip()


def short_id(capture_id: str | None) -> str:
    """The last 8 hex digits of a capture id, as ``9f3a·c21b``.

    Capture ids are UUIDv7s: their first digits are the time, so photos taken a minute apart
    share them; the last digits are random and tell two photos apart at a glance.
    """
    if not capture_id:
        return ""
    tail = capture_id.replace("-", "")[-8:]
    return f"{tail[:4]}·{tail[4:]}"


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def audit_value(value: Any) -> Markup:
    """An audit field for the page: ids in full (to match the CLI's ``audit show``) with the
    digits of their :func:`short_id` in bold, as the review pages name them."""
    if isinstance(value, list | tuple):
        return Markup(", ").join(audit_value(v) for v in value)
    text = str(value)
    if _UUID.fullmatch(text):
        return Markup("{}<strong>{}</strong>").format(text[:-8], text[-8:])
    return escape(text)


def group_label(pseudonym: str | None) -> str:
    """A short, stable-for-this-start label; says nothing about the patient."""
    if not pseudonym:
        return ""
    return pseudonym[:8]  # "p-" and 6 hex digits


def maybe_sent(summary: CaptureSummary) -> bool:
    """The practice may hold it: discarding it sends a retraction."""
    return summary.state in ("sending", "delivered") or summary.attempts > 0


def find_summary(vault: Any, capture_id: str) -> CaptureSummary | None:
    """The capture still held with this id (of this start or an earlier one), if any."""
    for item in vault.list_captures(include_previous=True):
        if item.capture_id == capture_id:
            return item
    return None


def discard(vault: Any, capture_id: str, reason: str, operator: str) -> str:
    """Discard; returns 'shredded' (never sent) or 'retracted' (a retraction was queued)."""
    retraction = vault.discard(capture_id, reason, operator)
    return "retracted" if retraction else "shredded"


def verify_audit(audit: Any) -> Verification:
    """Walk the whole hash chain of the audit log."""
    result = audit.verify()
    if result.ok:
        return Verification(True, result.records, "")
    where = f"line {result.line}: " if result.line else ""
    return Verification(False, result.records, f"{where}{result.problem}")


@dataclass
class AuditPage:
    """One page of the audit log, newest first, and where it sits among the entries listed.

    ``total`` counts the entries that match the filter; without a filter it equals the
    number the chain verification walked, because entries written after the verification
    (its own ``web.audit_verified`` among them) wait for the next view.
    """

    entries: list[dict[str, Any]]
    total: int
    first: int  # 1-based position of the page's first entry among the matching ones
    older: int | None  # ``before`` of the next older page, if there are older entries
    newer: bool  # there are newer entries than this page
    newer_before: int | None  # ``before`` of the next newer page (None: the newest page)
    events: list[str] = field(default_factory=list)  # every event name listed, for the filter


def audit_page(audit: Any, verification: Verification, *, event: str | None,
               before: int | None, size: int) -> AuditPage:
    """The ``size`` newest entries older than ``before`` that match ``event`` (an event name,
    or a prefix ending in ``.`` such as ``capture.``). With a verified chain only the entries
    it walked are listed; a broken chain lists everything, so the tampered lines are seen."""
    limit = verification.entries if verification.ok else None
    entries: list[dict[str, Any]] = []
    names: set[str] = set()
    total = newer = 0
    older: int | None = None
    # The seqs just newer than this page: the newer page starts after the oldest of them.
    recent: deque[int] = deque(maxlen=size + 1)
    try:
        records = iter_reverse(audit.path)
        for record in records:
            seq = record.get("seq")
            if limit is not None and isinstance(seq, int) and seq > limit:
                continue
            name = str(record.get("event", ""))
            names.add(name)
            if event and not (name == event or (event.endswith(".") and
                                                name.startswith(event))):
                continue
            total += 1
            if before is not None and isinstance(seq, int) and seq >= before:
                newer += 1
                recent.append(seq)
            elif len(entries) < size:
                entries.append(_row(record))
            elif older is None:
                older = entries[-1]["seq"]
    except FileNotFoundError:
        pass
    newer_before = recent[0] if len(recent) == size + 1 else None
    return AuditPage(entries, total, newer + 1, older, newer > 0, newer_before, sorted(names))


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    return {"seq": entry.get("seq"), "time": local_time(entry.get("ts", "")),
            "event": entry.get("event", ""), "fields": entry.get("fields") or {}}
