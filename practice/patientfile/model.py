"""The patient file's typed records: what the index answers with (frozen, plain data).

Every record that carries a patient identifier hides it in ``repr``/``str`` (records end up
in log lines and exception messages by accident; the design forbids identifiers there). Paths
are relative to the receiver's data directory (``inbox/...`` or ``retracted/...``); resolve
them with :meth:`practice.patientfile.PatientIndex.resolve`, never by joining by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["current", "retracted"]
Kind = Literal["capture", "document"]


@dataclass(frozen=True, repr=False)
class PatientKey:
    """Who a capture belongs to: the identifier and who issued it (``GS1``, an MRN space)."""

    issuer: str
    patient_id: str

    def __repr__(self) -> str:
        return f"PatientKey(issuer={self.issuer!r}, patient_id=<{len(self.patient_id)} chars>)"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class PatientSummary:
    """One row of a patient search: the key, its audit pseudonym and what the file holds."""

    key: PatientKey
    #: The pseudonym the audit log uses for this patient (HMAC of the key; stable).
    ref: str
    captures: int
    documents: int
    retracted: int
    first_captured_at: str | None
    last_captured_at: str | None

    def __repr__(self) -> str:
        return f"PatientSummary(ref={self.ref!r}, captures={self.captures})"

    __str__ = __repr__


@dataclass(frozen=True)
class Retraction:
    """Why and when a capture was withdrawn, and by whom (from the retraction amendment)."""

    amendment_id: str
    at: str | None
    operator: str | None
    reason: str | None
    station_id: str
    received_at: str


@dataclass(frozen=True)
class Amendment:
    """One entry of a capture's history: who changed which tags, when, from which station."""

    amendment_id: str
    at: str | None
    operator: str | None
    station_id: str
    station_name: str | None
    received_at: str
    retract: bool
    reason: str | None
    #: The tag values this amendment set (``{}`` for a retraction).
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, repr=False)
class Capture:
    """One photo or document as the file shows it now: current tags after amendments.

    ``consent`` is what was recorded at capture (after amendments); ``effective_consent`` is
    what may be done with it today, once consent withdrawals recorded since are applied.
    """

    item_id: str
    kind: Kind
    key: PatientKey
    encounter: str | None
    session_id: str | None
    sequence: int | None
    captured_at: str | None
    day: str
    body_site: str | None
    laterality: str | None
    consent: str | None
    effective_consent: str | None
    emergency_override: bool
    operator: str | None
    note: str | None
    provenance: str | None
    station_id: str
    station_name: str | None
    clock_synced: bool | None
    received_at: str
    state: State
    retraction: Retraction | None
    #: The JPEG (capture) or PDF (document), relative to the data directory.
    file_path: str
    #: The small preview JPEG, or None when the station sent none.
    thumb_path: str | None
    sidecar_path: str
    history_path: str | None
    sha256: str
    pages: int | None
    amendments: int
    amended_at: str | None
    #: A document's type as the station recorded it (consent-form, referral, sketch, other).
    document_type: str | None = None
    #: A capture's signed consent form: the id of the document scanned in its session.
    consent_form: str | None = None
    #: A document's page thumbnails in page order (None: that page has none).
    page_thumb_paths: tuple[str | None, ...] = ()

    def __repr__(self) -> str:
        return f"Capture(item_id={self.item_id!r}, kind={self.kind!r}, state={self.state!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class CaptureDetail:
    """One capture with its whole history, oldest amendment first, and its original tags."""

    capture: Capture
    history: list[Amendment]
    original: dict[str, Any]


@dataclass(frozen=True)
class SiteGroup:
    """The captures of one body site and laterality within a visit, newest first."""

    body_site: str | None
    laterality: str | None
    captures: list[Capture]


@dataclass(frozen=True, repr=False)
class Visit:
    """One visit: an encounter when the wristband named one, else a session on one day.

    ``visit_key`` is stable and opaque (use it in URLs); ``day`` is the newest capture's day.
    """

    visit_key: str
    encounter: str | None
    session_id: str | None
    day: str
    first_captured_at: str | None
    last_captured_at: str | None
    sites: list[SiteGroup]

    def __repr__(self) -> str:
        return f"Visit(day={self.day!r}, sites={len(self.sites)})"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class ConsentWithdrawal:
    """A records officer recorded that the patient withdrew consent for these uses.

    It applies from ``recorded_at`` on, to every capture of the patient (earlier uses, such as
    a teaching set already shown, are history and stay in the audit log).
    """

    withdrawal_id: int
    key: PatientKey
    withdraws: tuple[str, ...]
    recorded_by: str
    recorded_at: str
    reason: str | None

    def __repr__(self) -> str:
        return f"ConsentWithdrawal(id={self.withdrawal_id}, withdraws={self.withdraws!r})"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class PatientFile:
    """The patient page: visits newest first, each grouped by body site."""

    summary: PatientSummary
    visits: list[Visit]
    withdrawals: list[ConsentWithdrawal]

    def captures(self) -> list[Capture]:
        """Every capture on the page, newest first (flattened)."""
        out = [c for v in self.visits for s in v.sites for c in s.captures]
        return sorted(out, key=lambda c: (c.captured_at or "", c.item_id), reverse=True)

    def __repr__(self) -> str:
        return f"PatientFile(ref={self.summary.ref!r}, visits={len(self.visits)})"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class WristbandLookup:
    """What the text a desk scanner typed means, and the patients it matches.

    ``outcome`` is ``patient`` (a GS1 GSRN or a configured local format), ``plain`` (no
    format matched: the whole text was searched as an identifier), or ``caregiver``,
    ``command``, ``invalid`` (nothing searched; ``error`` says why without the data).
    """

    outcome: str
    key: PatientKey | None
    encounter: str | None
    patients: list[PatientSummary]
    error: str | None = None

    def __repr__(self) -> str:
        return f"WristbandLookup(outcome={self.outcome!r}, patients={len(self.patients)})"

    __str__ = __repr__


@dataclass(frozen=True)
class Page:
    """A page of results and the cursor for the next (None: this was the last)."""

    items: list[Any]
    next_cursor: str | None
