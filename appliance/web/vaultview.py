"""How the UI shows the vault and the audit log: labels, local times, the audit page's rows.

The views use the vault's own records (:class:`~appliance.vault.CaptureSummary`,
:class:`~appliance.vault.ReviewCapture`) and errors; this module only adds what people read:
local times and pseudonym labels (template filters), whether discarding needs a retraction,
the discard reasons' labels and the audit page. The vault itself audits every opening
(``capture.viewed`` with the operator and the part), amendment and discard, so the views pass
the signed-in user as ``operator`` and do not log those events a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def local_time(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def group_label(pseudonym: str | None) -> str:
    """A short, stable-for-this-start label; says nothing about the patient."""
    if not pseudonym:
        return ""
    return pseudonym[:8]  # "p-" and 6 hex digits


def maybe_sent(summary: CaptureSummary) -> bool:
    """The practice may hold it: discarding it needs a retraction (and a reviewer)."""
    return summary.state in ("sending", "delivered") or summary.attempts > 0


def _utc(stamp: str) -> str:
    """``2026-01-02T10:11:12.345Z`` -> ``2026-01-02 10:11:12 UTC`` (shorter in a table)."""
    if len(stamp) >= 19 and stamp[10] == "T":
        return f"{stamp[:10]} {stamp[11:19]} UTC"
    return stamp


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


def audit_entries(audit: Any, *, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` records, newest first, shaped for the template."""
    try:
        newest = audit.tail(limit)
    except FileNotFoundError:
        return []
    return [{"seq": e.get("seq"), "time": _utc(e.get("ts", "")), "event": e.get("event", ""),
             "fields": e.get("fields") or {}} for e in reversed(newest)]
