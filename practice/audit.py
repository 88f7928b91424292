"""The practice's own audit log: every search, view, download, consent change, approval and
login, hash-chained with the station's implementation (:mod:`sync.audit`).

The file is ``DIR/practice-audit.log`` (0600). Patients are named only by their pseudonym
(``patient_ref``, see :mod:`practice.patientfile.pseudonym`); :mod:`sync.audit` refuses
fields that would hold an identifier (``patient_id``, ``text``, ...), so a search records how
it was made and what it found, never what was typed.

API for the web UI (``by`` is the signed-in account, ``None`` for the console)::

    audit = PracticeAudit(data_dir)
    audit.record("patient.viewed", by="dr-a", patient_ref=summary.ref)
    audit.page(limit=50, event_prefix="patient.", by="dr-a")   # newest first, Page
    audit.page(cursor=page.next_cursor)                          # the next (older) page
    audit.verify()                                               # VerifyResult

Event names in use (the UI may add more under the same prefixes): ``login.ok``,
``login.failed``, ``logout``, ``patient.searched``, ``patient.viewed``, ``capture.viewed``,
``capture.downloaded``, ``capture.compared``, ``retracted.viewed``, ``consent.withdrawn``,
``station.approved``, ``station.revoked``, ``user.added``, ``user.removed``,
``user.password_reset``, ``user.role_changed``, ``audit.viewed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.audit import AuditLog, VerifyResult, iter_reverse, verify

from .patientfile.model import Page

LOG_NAME = "practice-audit.log"
_MAX_PAGE = 500

#: The events this module names (documentation, and a check in the tests).
EVENTS = (
    "login.ok", "login.failed", "logout", "patient.searched", "patient.viewed",
    "capture.viewed", "capture.downloaded", "capture.compared", "retracted.viewed",
    "consent.withdrawn", "station.approved", "station.revoked", "user.added", "user.removed",
    "user.password_reset", "user.role_changed", "audit.viewed",
)


def audit_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOG_NAME


@dataclass(frozen=True)
class AuditEntry:
    """One audit record as the UI shows it (``by``: the account, or ``console``)."""

    seq: int
    ts: str
    event: str
    by: str | None
    fields: dict[str, Any]
    hash: str


class PracticeAudit:
    """Append to and read the practice audit log. Safe across threads and processes."""

    def __init__(self, data_dir: Path, *, fsync: bool = True) -> None:
        self.path = audit_path(data_dir)
        self._log = AuditLog(self.path, fsync=fsync)

    def close(self) -> None:
        self._log.close()

    def __enter__(self) -> PracticeAudit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, event: str, *, by: str | None, **fields: Any) -> AuditEntry:
        """Append one event done by account ``by`` (``None``: the console, recorded as
        ``by=console``); fields must not hold patient identifiers (use ``patient_ref``)."""
        entry = self._log.record(event, by=by if by is not None else "console", **fields)
        return _entry(entry)

    def page(self, *, limit: int = 50, cursor: str | None = None,
             event_prefix: str | None = None, by: str | None = None,
             patient_ref: str | None = None) -> Page:
        """Records newest first, filtered; ``next_cursor`` continues with older ones."""
        limit = max(1, min(int(limit), _MAX_PAGE))
        before = int(cursor) if cursor and cursor.isdigit() else None
        items: list[AuditEntry] = []
        if not self.path.exists():
            return Page([], None)
        for raw in iter_reverse(self.path):
            if before is not None and raw["seq"] >= before:
                continue
            entry = _entry(raw)
            if event_prefix and not entry.event.startswith(event_prefix):
                continue
            if by is not None and entry.by != by:
                continue
            if patient_ref is not None and entry.fields.get("patient_ref") != patient_ref \
                    and patient_ref not in (entry.fields.get("patient_refs") or []):
                continue
            if len(items) == limit:
                return Page(items, str(items[-1].seq))
            items.append(entry)
        return Page(items, None)

    def verify(self) -> VerifyResult:
        return verify(self.path)


def _entry(raw: dict[str, Any]) -> AuditEntry:
    fields = dict(raw.get("fields") or {})
    by = fields.pop("by", None)
    return AuditEntry(int(raw["seq"]), str(raw["ts"]), str(raw["event"]),
                      by if isinstance(by, str) else None, fields, str(raw["hash"]))
