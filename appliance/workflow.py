"""The station's rules, as a pure state machine: who is in front of the camera, may we capture.

Nothing here touches hardware, disk or clocks: events go in (with the time they happened),
effects come out (signals for the LED and buzzer, a capture to perform, audit records). That
keeps every rule testable as a table, and keeps the runtime (:mod:`appliance.station`) a thin
loop that executes effects and feeds results back.

States: ``idle`` (no patient) -> ``session`` (a patient identified; tags accumulate) ->
``capturing`` (one still in flight) -> back to ``session``; a session ends by timeout, a long
press, the end-session card, or a different wristband (which starts the next session at once).
A capture long after the wristband was last read is refused until the band is shown again
(``Rules.rescan_after_seconds``).

Document mode (a document card, or the web UI): a document of one type is open in the session;
each click takes a page (:class:`TakePage`) instead of a photo, a retake drops the last page,
and the end card, the end of the session or a new wristband closes it (:class:`CloseDocument`:
the runtime gathers the pages into one PDF and seals it). The page images themselves live in
the runtime's memory (:mod:`appliance.document_desk`); the workflow only counts them. A closed
consent form is linked to the session's later photos (``consent_form``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from barcode.commands import DOCUMENT_TYPES, END_DOCUMENT, RETAKE_PAGE
from barcode.identity import Identity

CONSENT_LEVELS = ("record-only", "teaching", "publication")
EMERGENCY_OVERRIDE = "emergency-override"
LATERALITIES = ("left", "right", "bilateral", "midline")
CONSENT_FORM = "consent-form"


class State(StrEnum):
    IDLE = "idle"
    SESSION = "session"
    CAPTURING = "capturing"


class Refusal(StrEnum):
    """Why a capture (or a card) was refused; each has its own signal."""

    NO_PATIENT = "no_patient"
    NO_CONSENT = "no_consent"
    NO_OPERATOR = "no_operator"
    NOT_ENROLLED = "not_enrolled"
    DISK_FULL = "disk_full"
    CAMERA_FAULT = "camera_fault"
    STORAGE_FAULT = "storage_fault"
    OVERRIDE_DISABLED = "override_disabled"
    CONFLICT = "conflict"
    INVALID_READ = "invalid_read"
    BUSY = "busy"
    RESCAN_NEEDED = "rescan_needed"
    PAGE_REFUSED = "page_refused"


# ---- events -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientSeen:
    patient: Identity


@dataclass(frozen=True)
class BandInView:
    """The session's wristband is still being read (every frame it stays in view, after the
    :class:`PatientSeen` that announced it): keeps its read fresh, never starts or switches
    a session."""

    patient: Identity


@dataclass(frozen=True)
class CaregiverSeen:
    caregiver: Identity


@dataclass(frozen=True)
class CardSeen:
    """A command card: ``kind`` is consent, body_site, laterality or end_session."""

    kind: str
    value: str = ""


@dataclass(frozen=True)
class DocumentAction:
    """Start a document (``action`` is one of :data:`DOCUMENT_TYPES`), ``end`` it or
    ``retake`` its last page; from a document card (``source="card"``) or the web UI."""

    action: str
    source: str = "card"


@dataclass(frozen=True)
class ConflictSeen:
    """Two different patients in view at once."""


@dataclass(frozen=True)
class InvalidSeen:
    reason: str


@dataclass(frozen=True)
class Click:
    """A short press of the capture button."""


@dataclass(frozen=True)
class Hold:
    """A long press: end the session."""


@dataclass(frozen=True)
class Tick:
    """Time passes (drives the idle timeout)."""


@dataclass(frozen=True)
class OperatorLogin:
    """The web UI names the operator (or None to clear)."""

    operator: str | None


@dataclass(frozen=True)
class SetTags:
    """Tags set from the web UI for the current session."""

    consent: str | None = None
    body_site: str | None = None
    laterality: str | None = None


@dataclass(frozen=True)
class HealthChanged:
    """The runtime's view of what a capture needs: enrolment, disk space, a working camera."""

    enrolled: bool
    disk_ok: bool
    camera_ok: bool


@dataclass(frozen=True)
class CaptureFinished:
    """The runtime's answer to :class:`TakeCapture`: ``capture_id`` on success, else ``error``."""

    request_id: str
    capture_id: str | None = None
    error: Refusal | None = None


@dataclass(frozen=True)
class PageFinished:
    """The runtime's answer to :class:`TakePage`: kept (no ``error``) or refused; ``reason``
    says why for the audit log (``no_page``, ``too_many_pages``...)."""

    request_id: str
    error: Refusal | None = None
    reason: str = ""


@dataclass(frozen=True)
class DocumentFinished:
    """The runtime's answer to :class:`CloseDocument`: the sealed document's id, or ``error``."""

    request_id: str
    document_id: str | None = None
    error: Refusal | None = None


@dataclass(frozen=True)
class Stopping:
    """The station is stopping: an open document is sealed while that is still possible."""


Event = (
    PatientSeen | BandInView | CaregiverSeen | CardSeen | DocumentAction | ConflictSeen
    | InvalidSeen | Click | Hold | Tick | OperatorLogin | SetTags | HealthChanged
    | CaptureFinished | PageFinished | DocumentFinished | Stopping
)


# ---- effects ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Signal:
    """Show this on the LED (and buzzer); names are the rows of the signal table."""

    name: str


@dataclass(frozen=True)
class TakeCapture:
    """Take a still and seal it with ``metadata``; answer with :class:`CaptureFinished`."""

    request_id: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Audit:
    event: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class TakePage:
    """Take a still, find the page in it and keep it (in memory) as page ``page`` of document
    ``document``; answer with :class:`PageFinished`."""

    request_id: str
    document: str
    document_type: str
    page: int


@dataclass(frozen=True)
class DropPage:
    """Forget the last kept page of ``document`` (a retake)."""

    document: str


@dataclass(frozen=True)
class CloseDocument:
    """Gather the kept pages of ``document`` into one PDF, seal it with ``metadata`` and
    forget the pages; answer with :class:`DocumentFinished`."""

    request_id: str
    document: str
    metadata: dict[str, Any]


#: Effects the runtime carries out in order on its capture thread.
Job = TakeCapture | TakePage | DropPage | CloseDocument
Effect = Signal | TakeCapture | TakePage | DropPage | CloseDocument | Audit


@dataclass(frozen=True)
class Rules:
    consent_required: bool = True
    emergency_override: bool = False
    idle_timeout_seconds: float = 120.0
    require_operator: bool = False
    body_sites: tuple[str, ...] = ()
    #: A capture this long after the session's wristband was last read needs the band shown
    #: again (``rescan_needed``); 0 turns the check off. See docs/workflow.md for the default.
    rescan_after_seconds: float = 300.0
    #: Pages one document may hold (they wait in memory until it closes).
    max_pages: int = 20


@dataclass
class Document:
    """The document open in a session: its type and how many pages are kept so far."""

    document_id: str
    document_type: str
    started_at: float
    pages: int = 0
    operator: str | None = None  # who took its first page


@dataclass
class Session:
    session_id: str
    patient: Identity
    started_at: float
    band_read_at: float = 0.0  # when the wristband was last read
    band_doubtful: bool = False  # another patient's band was seen since: read it again
    consent: str | None = None
    body_site: str | None = None
    laterality: str | None = None
    captures: int = 0
    document: Document | None = None
    documents: int = 0  # documents sealed in this session
    #: The sealed consent form of this session, linked from its later photos.
    consent_form: str | None = None
    #: A document of this session is being sealed (photos wait for a consent form's link).
    closing: str | None = None


class Workflow:
    """The state machine. Call :meth:`handle` with an event and the current time (seconds on
    any monotonic clock); it returns the effects to carry out, in order."""

    def __init__(self, rules: Rules, *, now: float = 0.0) -> None:
        self.rules = rules
        self.state = State.IDLE
        self.session: Session | None = None
        self.operator: str | None = None
        self.enrolled = True
        self.disk_ok = True
        self.camera_ok = True
        self.last_activity = now
        self._pending: str | None = None
        #: Documents being sealed: request id -> (session id, document).
        self._closing: dict[str, tuple[str, Document]] = {}

    # -- queries --------------------------------------------------------------------------------
    def steady_signal(self) -> Signal:
        """The signal that shows the current state when no transient signal is playing."""
        if not (self.enrolled and self.disk_ok and self.camera_ok):
            return Signal(self._health_refusal().value)
        if self.state is State.CAPTURING:
            return Signal("capturing")
        if self.session is None:
            return Signal("idle")
        if self._missing_consent() and self.session.document is None:
            return Signal("needs_consent")
        return Signal("ready")

    def snapshot(self) -> dict[str, Any]:
        """State for the web UI's status page (no identifiers: a pseudonymous view)."""
        s = self.session
        return {
            "state": self.state.value,
            "signal": self.steady_signal().name,
            "session": None if s is None else {
                "session_id": s.session_id,
                "issuer": s.patient.issuer,
                "consent": s.consent,
                "body_site": s.body_site,
                "laterality": s.laterality,
                "captures": s.captures,
                "document": None if s.document is None else {
                    "type": s.document.document_type, "pages": s.document.pages,
                    "max_pages": self.rules.max_pages},
                "documents": s.documents,
                "consent_form_on_file": s.consent_form is not None,
            },
            "operator": self.operator is not None,
            "enrolled": self.enrolled,
            "disk_ok": self.disk_ok,
            "camera_ok": self.camera_ok,
        }

    # -- transitions ----------------------------------------------------------------------------
    def handle(self, event: Event, now: float) -> list[Effect]:
        """Apply one event; dispatch is by event class, so a new event needs a case here
        (anything else is a programming error: :class:`TypeError`)."""
        match event:
            case Tick():
                return self._on_tick(now)
            case PatientSeen():
                return self._on_patient(event, now)
            case BandInView():
                return self._on_band_in_view(event, now)
            case CaregiverSeen():
                return self._on_caregiver(event, now)
            case OperatorLogin():
                return self._on_operator_login(event, now)
            case CardSeen():
                return self._on_card(event, now)
            case DocumentAction():
                return self._on_document(event, now)
            case SetTags():
                return self._on_set_tags(event, now)
            case ConflictSeen():
                return self._on_conflict(now)
            case InvalidSeen():
                return self._on_invalid(event)
            case HealthChanged():
                return self._on_health(event)
            case Hold():
                return self._on_hold(now)
            case Click():
                return self._on_click(now)
            case CaptureFinished():
                return self._on_capture_finished(event, now)
            case PageFinished():
                return self._on_page_finished(event, now)
            case DocumentFinished():
                return self._on_document_finished(event)
            case Stopping():
                return self._on_stopping(now)
        raise TypeError(f"not a workflow event: {type(event).__name__}")

    def _on_tick(self, now: float) -> list[Effect]:
        idle = now - self.last_activity >= self.rules.idle_timeout_seconds
        if idle and self.session is not None and self.state is State.SESSION:
            effects = self._end_session("timeout", now)
            self.operator = None
            return effects
        if idle and self.session is None and self.operator is not None:
            self.operator = None
        return []

    def _on_patient(self, event: PatientSeen, now: float) -> list[Effect]:
        self.last_activity = now
        patient = event.patient
        if self.session is not None and patient.key == self.session.patient.key:
            self.session.band_read_at = now
            self.session.band_doubtful = False
            return []
        effects: list[Effect] = []
        if self.state is State.CAPTURING:
            # Never switch patients under a capture in flight: it finishes for the old one.
            return [Signal(Refusal.BUSY.value)]
        switched = self.session is not None
        if switched:
            effects += self._end_session("new_patient", now, signal=False)
        self.session = Session(uuid.uuid4().hex, patient, now, band_read_at=now)
        self.state = State.SESSION
        effects.append(Audit("session_started", {"session": self.session.session_id,
                                                 "issuer": patient.issuer,
                                                 "provenance": patient.provenance}))
        effects.append(Signal("session_switched" if switched else "patient_identified"))
        return effects

    def _on_band_in_view(self, event: BandInView, now: float) -> list[Effect]:
        session = self.session
        if session is not None and event.patient.key == session.patient.key:
            session.band_read_at = now
            self.last_activity = now
        return []

    def _on_caregiver(self, event: CaregiverSeen, now: float) -> list[Effect]:
        self.last_activity = now
        operator = f"{event.caregiver.issuer}:{event.caregiver.id}"
        if operator == self.operator:
            return []
        self.operator = operator
        return [Audit("operator_badge", {"issuer": event.caregiver.issuer}),
                Signal("operator_identified")]

    def _on_operator_login(self, event: OperatorLogin, now: float) -> list[Effect]:
        self.last_activity = now
        self.operator = event.operator
        return []

    def _on_card(self, event: CardSeen, now: float) -> list[Effect]:
        self.last_activity = now
        if event.kind == "end_session":
            if self.session is None or self.state is State.CAPTURING:
                return []
            return self._end_session("end_card", now)
        if self.session is None:
            return self._refuse(Refusal.NO_PATIENT, f"{event.kind}_card")
        return self._apply_tag(event.kind, event.value, source="card")

    def _on_set_tags(self, event: SetTags, now: float) -> list[Effect]:
        self.last_activity = now
        if self.session is None:
            return self._refuse(Refusal.NO_PATIENT, "web_tags")
        effects: list[Effect] = []
        for kind, value in (("consent", event.consent), ("body_site", event.body_site),
                            ("laterality", event.laterality)):
            if value is not None:
                effects += self._apply_tag(kind, value, source="web")
        return effects

    def _apply_tag(self, kind: str, value: str, *, source: str) -> list[Effect]:
        session = self.session
        assert session is not None
        if kind == "consent":
            if value == EMERGENCY_OVERRIDE and not self.rules.emergency_override:
                return self._refuse(Refusal.OVERRIDE_DISABLED, "consent")
            if value not in (*CONSENT_LEVELS, EMERGENCY_OVERRIDE):
                return self._refuse(Refusal.INVALID_READ, "consent")
            session.consent = value
            audit = Audit("emergency_override" if value == EMERGENCY_OVERRIDE else "consent_set",
                          {"session": session.session_id, "consent": value, "source": source})
            return [audit, Signal("tag_set")]
        if kind == "body_site":
            if self.rules.body_sites and value not in self.rules.body_sites:
                return self._refuse(Refusal.INVALID_READ, "body_site")
            session.body_site = value
        elif kind == "laterality":
            if value not in LATERALITIES:
                return self._refuse(Refusal.INVALID_READ, "laterality")
            session.laterality = value
        else:
            return self._refuse(Refusal.INVALID_READ, kind)
        return [Audit("tag_set", {"session": session.session_id, kind: value, "source": source}),
                Signal("tag_set")]

    def _on_conflict(self, now: float) -> list[Effect]:
        self.last_activity = now
        if self.session is not None:
            # Someone else's band was in view: which patient is in front of the camera is in
            # doubt until the session's band is read alone again.
            self.session.band_doubtful = True
        return self._refuse(Refusal.CONFLICT, "scan")

    def _on_invalid(self, event: InvalidSeen) -> list[Effect]:
        return [Audit("invalid_read", {"reason": event.reason}),
                Signal(Refusal.INVALID_READ.value)]

    def _on_health(self, event: HealthChanged) -> list[Effect]:
        before = (self.enrolled, self.disk_ok, self.camera_ok)
        self.enrolled, self.disk_ok, self.camera_ok = event.enrolled, event.disk_ok, \
            event.camera_ok
        if before == (self.enrolled, self.disk_ok, self.camera_ok):
            return []
        return [Audit("health", {"enrolled": event.enrolled, "disk_ok": event.disk_ok,
                                 "camera_ok": event.camera_ok}), self.steady_signal()]

    def _on_hold(self, now: float) -> list[Effect]:
        self.last_activity = now
        if self.session is None or self.state is State.CAPTURING:
            return []
        return self._end_session("long_press", now)

    def _on_click(self, now: float) -> list[Effect]:
        self.last_activity = now
        if self.state is State.CAPTURING:
            # One capture at a time: a double press is not queued into a second photo.
            return [Audit("capture_refused", {"reason": Refusal.BUSY.value})]
        if not self.enrolled or not self.disk_ok or not self.camera_ok:
            return self._refuse(self._health_refusal(), "capture")
        session = self.session
        if session is None:
            return self._refuse(Refusal.NO_PATIENT, "capture")
        if self._band_stale(now):
            # The patient in front of the camera may no longer be the one whose band was read:
            # the band is shown again (a second), never the photo filed on an old read.
            return self._refuse(Refusal.RESCAN_NEEDED, "capture")
        if session.closing is not None:
            # A document of this session is being sealed: a consent form's link must be
            # known before the next photo's metadata is (a fraction of a second).
            return [Audit("capture_refused", {"reason": Refusal.BUSY.value}),
                    Signal(Refusal.BUSY.value)]
        if session.document is not None:
            return self._take_page(session)  # a document page needs no photo consent
        if self._missing_consent():
            return self._refuse(Refusal.NO_CONSENT, "capture")
        if self.rules.require_operator and self.operator is None:
            return self._refuse(Refusal.NO_OPERATOR, "capture")
        self.state = State.CAPTURING
        self._pending = uuid.uuid4().hex
        metadata = self._session_metadata(session)
        metadata.update(body_site=session.body_site, laterality=session.laterality,
                        sequence=session.captures + 1)
        if session.consent_form is not None:
            metadata["consent_form"] = session.consent_form
        return [Signal("capturing"), TakeCapture(self._pending, metadata)]

    def _session_metadata(self, session: Session) -> dict[str, Any]:
        """What every item of the session carries: who, which visit, by whom, with what
        consent, and how the patient was identified."""
        patient = session.patient
        return {
            "patient_id": patient.id,
            "issuer": patient.issuer,
            "encounter": patient.encounter,
            "operator": self.operator,
            "consent": session.consent,
            "emergency_override": session.consent == EMERGENCY_OVERRIDE,
            "provenance": patient.provenance,
            "session_id": session.session_id,
        }

    def _on_capture_finished(self, event: CaptureFinished, now: float) -> list[Effect]:
        if self.state is not State.CAPTURING or event.request_id != self._pending:
            return []
        self.last_activity = now
        self._pending = None
        self.state = State.SESSION if self.session is not None else State.IDLE
        if event.error is not None:
            self._note_health(event.error)
            return self._refuse(event.error, "capture")
        assert self.session is not None
        self.session.captures += 1
        fields = {"capture": event.capture_id, "session": self.session.session_id}
        if self.session.consent == EMERGENCY_OVERRIDE:
            fields["emergency_override"] = True
        return [Audit("captured", fields), Signal("captured")]

    # -- document mode --------------------------------------------------------------------------
    def _on_document(self, event: DocumentAction, now: float) -> list[Effect]:
        self.last_activity = now
        session = self.session
        if session is None:
            return self._refuse(Refusal.NO_PATIENT, "document")
        if self.state is State.CAPTURING:
            return [Audit("document_refused", {"reason": Refusal.BUSY.value}),
                    Signal(Refusal.BUSY.value)]
        action = event.action
        if action == END_DOCUMENT:
            return self._close_document(session, "end") if session.document else []
        if action == RETAKE_PAGE:
            return self._retake(session)
        if action not in DOCUMENT_TYPES:
            return self._refuse(Refusal.INVALID_READ, "document")
        current = session.document
        if current is not None and current.document_type == action and current.pages == 0:
            return [Signal("tag_set")]  # the same card seen again: that document is open
        effects = self._close_document(session, "next_document") if current else []
        session.document = Document(uuid.uuid4().hex, action, now)
        effects += [Audit("document_started", {"session": session.session_id,
                                               "document_type": action,
                                               "source": event.source}),
                    Signal("tag_set")]
        return effects

    def _retake(self, session: Session) -> list[Effect]:
        document = session.document
        if document is None or document.pages == 0:
            return self._refuse(Refusal.INVALID_READ, "retake")
        document.pages -= 1
        return [DropPage(document.document_id),
                Audit("page_dropped", {"session": session.session_id,
                                       "pages": document.pages}),
                Signal("tag_set")]

    def _take_page(self, session: Session) -> list[Effect]:
        document = session.document
        assert document is not None
        if self.rules.require_operator and self.operator is None:
            return self._refuse(Refusal.NO_OPERATOR, "page")
        if document.pages >= self.rules.max_pages:
            # The pages wait in memory: a bound, and a clear refusal (end the document).
            return [Audit("page_refused", {"reason": "too_many_pages",
                                           "pages": document.pages}),
                    Signal(Refusal.PAGE_REFUSED.value)]
        self.state = State.CAPTURING
        self._pending = uuid.uuid4().hex
        return [Signal("capturing"), TakePage(self._pending, document.document_id,
                                              document.document_type, document.pages + 1)]

    def _on_page_finished(self, event: PageFinished, now: float) -> list[Effect]:
        if self.state is not State.CAPTURING or event.request_id != self._pending:
            return []
        self.last_activity = now
        self._pending = None
        self.state = State.SESSION if self.session is not None else State.IDLE
        session = self.session
        document = session.document if session is not None else None
        if event.error is Refusal.PAGE_REFUSED:
            return [Audit("page_refused", {"reason": event.reason or "no_page"}),
                    Signal(Refusal.PAGE_REFUSED.value)]
        if event.error is not None:
            self._note_health(event.error)
            return self._refuse(event.error, "page")
        assert session is not None and document is not None
        document.pages += 1
        if document.operator is None:
            document.operator = self.operator
        return [Audit("page_added", {"session": session.session_id, "pages": document.pages}),
                Signal("page_added")]

    def _close_document(self, session: Session, reason: str) -> list[Effect]:
        """Close the session's open document: nothing to do for an empty one, else the
        runtime seals its pages (:class:`CloseDocument`)."""
        document = session.document
        assert document is not None
        session.document = None
        fields = {"session": session.session_id, "document_type": document.document_type,
                  "pages": document.pages, "reason": reason}
        if document.pages == 0:
            return [Audit("document_ended", fields)]  # an empty document closes silently
        request_id = uuid.uuid4().hex
        session.closing = request_id
        self._closing[request_id] = (session.session_id, document)
        metadata = self._session_metadata(session)
        metadata.update(operator=document.operator or self.operator,
                        document_type=document.document_type, pages=document.pages)
        return [Audit("document_closing", fields),
                CloseDocument(request_id, document.document_id, metadata)]

    def _on_document_finished(self, event: DocumentFinished) -> list[Effect]:
        closing = self._closing.pop(event.request_id, None)
        if closing is None:
            return []
        session_id, document = closing
        session = self.session if self.session and self.session.session_id == session_id \
            else None
        if session is not None and session.closing == event.request_id:
            session.closing = None
        if event.error is not None or event.document_id is None:
            error = event.error or Refusal.STORAGE_FAULT
            self._note_health(error)
            return self._refuse(error, "document")
        if session is not None:
            session.documents += 1
            if document.document_type == CONSENT_FORM:
                session.consent_form = event.document_id
        return [Audit("document_stored", {"document": event.document_id,
                                          "session": session_id,
                                          "document_type": document.document_type,
                                          "pages": document.pages}),
                Signal("document_closed")]

    def _on_stopping(self, now: float) -> list[Effect]:
        session = self.session
        if session is None or session.document is None or self.state is State.CAPTURING:
            return []
        return self._close_document(session, "station_stopping")

    # -- helpers --------------------------------------------------------------------------------
    def _note_health(self, error: Refusal) -> None:
        """A failed capture, page or document tells the workflow what broke."""
        if error is Refusal.NOT_ENROLLED:
            self.enrolled = False
        elif error is Refusal.DISK_FULL:
            self.disk_ok = False
        elif error is Refusal.CAMERA_FAULT:
            self.camera_ok = False

    def _missing_consent(self) -> bool:
        return bool(self.rules.consent_required and self.session is not None
                    and self.session.consent is None)

    def _band_stale(self, now: float) -> bool:
        session = self.session
        if session is None:
            return False
        limit = self.rules.rescan_after_seconds
        return session.band_doubtful or (limit > 0 and now - session.band_read_at > limit)

    def _health_refusal(self) -> Refusal:
        if not self.enrolled:
            return Refusal.NOT_ENROLLED
        if not self.disk_ok:
            return Refusal.DISK_FULL
        return Refusal.CAMERA_FAULT

    def _refuse(self, why: Refusal, what: str) -> list[Effect]:
        return [Audit(f"{what}_refused" if what != "capture" else "capture_refused",
                      {"reason": why.value}), Signal(why.value)]

    def _end_session(self, reason: str, now: float, *, signal: bool = True) -> list[Effect]:
        session = self.session
        assert session is not None
        effects: list[Effect] = []
        if session.document is not None:
            effects += self._close_document(session, reason)
        self.session = None
        self.state = State.IDLE
        effects.append(Audit("session_ended", {"session": session.session_id,
                                               "reason": reason,
                                               "captures": session.captures}))
        if signal:
            effects.append(Signal("session_ended"))
        return effects

