"""Staff review of this start's captures: list, open (audited), amend, discard.

Only captures sealed since this start open: they are also sealed to the in-memory review key.
Amendments and retractions are sealed items of their own that travel to the practice after
their capture; this start keeps the amendments in memory to show them on review.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sync.envelope import AMENDABLE, EnvelopeError, open_envelope

from .catalog import discard_item, discard_queued_amendments, mark_capture_discarded
from .context import VaultContext
from .errors import NotReviewableError, UnknownCaptureError, VaultError
from .ids import uuid7
from .queueing import queue_sealed
from .records import CaptureSummary, ReviewCapture
from .shredding import shred

log = logging.getLogger("capture_station.vault")

DISCARD_REASONS = ("wrong_patient", "poor_quality", "duplicate", "consent_withdrawn", "other")


class Review:
    """The review UI's view of the vault; holds this start's amendments."""

    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx
        self._amendments: dict[str, list[dict[str, Any]]] = {}

    def list_captures(self, *, include_previous: bool = False) -> list[CaptureSummary]:
        """Captures still held (not shredded or discarded), newest first.

        By default only this start's captures (the ones the review key can open).
        """
        result = []
        for row in self.ctx.catalog.held_captures():
            reviewable = row["review_kid"] == self.ctx.keys.review_kid
            if reviewable or include_previous:
                result.append(CaptureSummary(
                    row["capture_id"], row["created_at"], row["state"], row["pseudonym"],
                    reviewable, row["delivered_at"], row["attempts"], row["kind"]))
        return result

    def _reviewable_row(self, capture_id: str) -> dict[str, Any]:
        row = self.ctx.catalog.capture(capture_id)
        if row is None:
            raise UnknownCaptureError(capture_id)
        if row["discarded_at"] is not None:
            raise NotReviewableError("this capture was discarded")
        if row["file"] is None:
            raise NotReviewableError("this capture was delivered and shredded after the "
                                     "review window; the practice holds it")
        if row["review_kid"] != self.ctx.keys.review_kid:
            raise NotReviewableError("this capture was sealed before the station last started; "
                                     "only the practice can open it")
        return row

    def open_for_review(self, capture_id: str, *, operator: str | None = None,
                        preview_only: bool = False, part: str | None = None,
                        record: bool = True) -> ReviewCapture:
        """Decrypt a capture (or document) of this start with the in-memory review key
        (audited). ``preview_only`` skips the photo (or the PDF).

        ``part`` names what is shown in the ``capture.viewed`` event (default ``preview``,
        or ``image`` for a photo and ``pdf`` for a document; the review UI says ``page`` for
        a capture's page). ``record=False`` only for a caller that already recorded a view
        naming this capture (a page whose images it serves) or that shows nothing of it (a
        permission check).
        """
        parts: dict[str, bytearray] = {"image": bytearray(), "pdf": bytearray(),
                                       "preview": bytearray()}

        def keep(name: str, data: memoryview) -> None:
            if not (preview_only and name in ("image", "pdf")):
                parts[name] += data

        ctx = self.ctx
        row = self._reviewable_row(capture_id)
        try:
            opened = open_envelope(ctx.path(row["file"]), ctx.keys.review_private,
                                   ctx.identity.private_key.public_key(), write=keep)
        except EnvelopeError as exc:
            ctx.audit_quietly("error.review_open", capture_id=capture_id, reason=str(exc)[:200])
            raise NotReviewableError(f"the sealed file cannot be opened: {exc}") from None
        metadata = dict(opened.metadata)
        for changes in self._amendments.get(capture_id, []):
            metadata.update(changes)
        try:
            # Fail closed: an image nobody could record as viewed is not shown.
            if record:
                ctx.audit.record("capture.viewed", capture_id=capture_id, operator=operator,
                                 part=part or ("preview" if preview_only else
                                               "pdf" if row["kind"] == "document" else "image"))
        except OSError as exc:
            log.error("capture view refused: audit log not writable (%s)", exc.strerror)
            raise VaultError("the view could not be recorded in the audit log (disk full?); "
                             "the image is not shown") from None
        return ReviewCapture(capture_id, row["state"], metadata, bytes(parts["image"]),
                             bytes(parts["preview"]), row["kind"], bytes(parts["pdf"]))

    # -- amendments and discards --------------------------------------------------------------

    def _queue_amendment(self, capture_id: str, body: dict[str, Any]) -> str:
        ctx = self.ctx
        practice = ctx.practice_key()
        amendment_id = uuid7()
        meta = {"amends": capture_id, "at": ctx.now_iso(), "station_id": ctx.station_id,
                **body}
        try:
            queue_sealed(ctx, kind="amendment", item_id=amendment_id, capture_id=capture_id,
                         metadata=meta, parts={},
                         recipients=[practice, ctx.keys.review_public], subject=capture_id)
        except EnvelopeError as exc:
            raise VaultError(f"amendment cannot be stored: {exc}") from None
        return amendment_id

    def amend(self, capture_id: str, changes: Mapping[str, Any], operator: str | None) -> str:
        """Change tags of a capture; a sealed amendment naming it is queued. Returns its id."""
        if not isinstance(changes, Mapping) or not changes:
            raise VaultError("an amendment needs at least one change")
        if any(not isinstance(k, str) for k in changes):
            raise VaultError("amendment keys are strings")
        fixed = sorted(set(changes) - set(AMENDABLE))
        if fixed:
            raise VaultError(f"{', '.join(fixed)[:200]} cannot be amended (only "
                             f"{', '.join(AMENDABLE)}); a capture of the wrong patient is "
                             "discarded and taken again")
        with self.ctx.mutex:
            row = self.ctx.catalog.capture(capture_id)
            if row is None:
                raise UnknownCaptureError(capture_id)
            if row["discarded_at"] is not None:
                raise VaultError("this capture was discarded")
            amendment_id = self._queue_amendment(
                capture_id, {"changes": dict(changes), "operator": operator, "retract": False})
            self._amendments.setdefault(capture_id, []).append(dict(changes))
        self.ctx.audit_quietly("capture.amended", capture_id=capture_id,
                               amendment_id=amendment_id, changed=sorted(changes),
                               operator=operator)
        return amendment_id

    def discard(self, capture_id: str, reason: str, operator: str | None) -> str | None:
        """Withdraw a capture. Never sent: shredded now. Possibly sent: a sealed retraction is
        queued (its id is returned) and the local copy shredded as soon as no upload holds it.

        ``reason`` travels only inside the sealed retraction; the catalog and the audit log get
        one of :data:`DISCARD_REASONS` (anything else is recorded as ``other``).
        """
        ctx = self.ctx
        code = reason if reason in DISCARD_REASONS else "other"
        with ctx.mutex:
            row = ctx.catalog.capture(capture_id)
            if row is None:
                raise UnknownCaptureError(capture_id)
            if row["discarded_at"] is not None:
                return None
            state = row["state"]
            maybe_sent = state in ("sending", "delivered") or row["attempts"] > 0
            retraction = None
            if maybe_sent:
                retraction = self._queue_amendment(capture_id, {
                    "changes": {}, "operator": operator, "retract": True, "reason": reason})
            now = ctx.clock()
            with ctx.catalog.transaction() as db:
                mark_capture_discarded(db, capture_id, now, code)
                if state in ("queued", "rejected", "lost"):
                    discard_item(db, capture_id)
                if not maybe_sent:  # its amendments must not travel alone
                    discard_queued_amendments(db, capture_id)
            if not maybe_sent:
                for item in ctx.catalog.discarded_amendment_files(capture_id):
                    shred(ctx, item["item_id"], item["file"], audit=False)
            if state != "sending" and row["file"] is not None:
                shred(ctx, capture_id, row["file"], audit=False)
            self._amendments.pop(capture_id, None)
        ctx.audit_quietly("capture.discarded", capture_id=capture_id, reason=code,
                          operator=operator, retraction_id=retraction, was=state)
        return retraction
