"""Review: the queue of captures, one capture in full, tag amendments and discards.

A scanned document is reviewed the same way: its detail page shows a thumbnail of every page
(made from the sealed PDF, opened with the review key like a photo) and links the PDF itself;
it is discarded (or retracted after delivery) like a photo.

Images are decrypted by the vault in memory with this start's review key and streamed
straight from memory with ``no-store``; nothing is cached or written. Every view is in the
audit log, once per page: the review queue records one ``review.queue_viewed`` naming the
captures whose thumbnails it shows, a capture's page one ``capture.viewed`` (part ``page``)
that covers its full image; an image that no recorded page named is recorded on its own
(:class:`websecurity.grants.ThumbnailGrants`). URLs carry only capture ids (random UUIDv7s),
never a patient id.

Discarding: a photo never sent is shredded; one that may be at the practice is discarded with
a sealed retraction, which the practice applies (the vault's one way). A nurse may do that
for the photos of the session in progress (her blurry photo was delivered in a second); older
ones need a reviewer.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from documents import DocumentError, pdf_thumbnail
from websecurity.grants import session_key

from ..vault import NotReviewableError, ReviewCapture, UnknownCaptureError, VaultError
from ..workflow import LATERALITIES
from .context import ctx, current_user, has_role, requires
from .status import consent_choices, session_in_progress
from .vaultview import DISCARD_REASONS, discard, find_summary, maybe_sent

bp = Blueprint("review", __name__)

CAPTURE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NOTE_MAX = 500
REASON_MAX = 200
#: The audit log takes lists of at most 50 values: a longer queue is named in several events.
AUDIT_IDS = 50
NOTICES = {
    "amended": "The change was sealed and queued for the practice.",
    "shredded": "The photo (or document) was discarded and shredded; the practice never "
                "received it.",
    "retracted": "The photo (or document) was discarded here; a sealed retraction was queued, "
                 "and the practice removes it from the patient file when it arrives.",
}


class Sealed(Exception):
    """The capture is held, but was sealed before this start: only the practice opens it."""


class Gone(Exception):
    """The capture is not on the station (discarded, shredded, or no such id)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _capture_id(value: str) -> str:
    if not CAPTURE_ID.fullmatch(value or ""):
        raise Gone("unknown")
    return value


def _open(capture_id: str, part: str, *, record: bool = True,
          label: str | None = None) -> ReviewCapture:
    """Decrypt in memory; 'preview' skips the full image. A capture that cannot be opened
    here (sealed before this start, or its view could not be audited) shows nothing."""
    try:
        return ctx().vault.open_for_review(_capture_id(capture_id), operator=current_user(),
                                           preview_only=part == "preview", part=label,
                                           record=record)
    except UnknownCaptureError:
        raise Gone("unknown") from None
    except NotReviewableError as exc:
        summary = find_summary(ctx().vault, capture_id)
        if summary is not None and not summary.reviewable:
            raise Sealed() from None
        raise Gone(str(exc)) from None
    except VaultError as exc:
        abort(409, description=f"{exc}.")


@bp.errorhandler(Sealed)
def _sealed(_exc: Sealed):
    """Held but unopenable after a restart (by design): say so, and where to look instead."""
    return render_template("sealed.html",
                           patient_file_url=ctx().cfg.practice.patient_file_url), 409


@bp.errorhandler(Gone)
def _gone(exc: Gone):
    """A friendly page instead of a bare 404: what may have happened, where to look."""
    return render_template("gone.html", why=exc.why,
                           patient_file_url=ctx().cfg.practice.patient_file_url), 404


@bp.get("/review")
@requires("nurse")
def queue():
    c = ctx()
    captures = c.vault.list_captures(include_previous=True)
    current = [x for x in captures if x.reviewable]
    ids = [x.capture_id for x in current]
    for start in range(0, len(ids), AUDIT_IDS):
        # Recorded first: thumbnails nobody could record as shown are not shown.
        c.record("review.queue_viewed", user=current_user(),
                 captures=ids[start:start + AUDIT_IDS])
    c.grants.grant(session_key(), (f"preview:{i}" for i in ids))
    return render_template("queue.html", current=current,
                           sealed=[x for x in captures if not x.reviewable],
                           notice=NOTICES.get(request.args.get("notice", "")),
                           patient_file_url=c.cfg.practice.patient_file_url)


def _in_session(opened: ReviewCapture) -> bool:
    """Taken in the session still in progress (the nurse may withdraw it, sent or not)."""
    session = session_in_progress()
    return session is not None and opened.metadata.get("session_id") == session


def may_discard(summary: Any, opened: ReviewCapture) -> bool:
    return not maybe_sent(summary) or has_role("reviewer") or _in_session(opened)


@bp.get("/captures/<capture_id>")
@requires("nurse")
def detail(capture_id: str):
    c = ctx()
    summary = find_summary(c.vault, _capture_id(capture_id))
    if summary is not None and not summary.reviewable:
        raise Sealed()
    # One recorded view for the page; its own full image (or PDF and page thumbnails) and
    # thumbnail are covered by it.
    opened = _open(capture_id, "preview", label="page")
    if summary is None:  # discarded between the list and the opening
        raise Gone("this capture was discarded")
    if opened.kind == "document":
        c.grants.grant(session_key(), (f"pdf:{capture_id}", f"preview:{capture_id}"))
        return render_template(
            "document.html", capture=opened, capture_id=capture_id,
            pages=int(opened.metadata.get("pages") or 1), maybe_sent=maybe_sent(summary),
            in_session=_in_session(opened), can_discard=may_discard(summary, opened),
            notice=NOTICES.get(request.args.get("notice", "")), reasons=DISCARD_REASONS)
    c.grants.grant(session_key(), (f"image:{capture_id}", f"preview:{capture_id}"))
    return render_template(
        "capture.html", capture=opened, capture_id=capture_id,
        maybe_sent=maybe_sent(summary), in_session=_in_session(opened),
        can_discard=may_discard(summary, opened),
        notice=NOTICES.get(request.args.get("notice", "")),
        consents=consent_choices(), body_sites=list(c.cfg.workflow.body_sites),
        lateralities=list(LATERALITIES), reasons=DISCARD_REASONS,
    )


def _image(capture_id: str, part: str) -> Response:
    granted = ctx().grants.granted(session_key(), f"{part}:{_capture_id(capture_id)}")
    if part == "image" and not granted:
        summary = find_summary(ctx().vault, capture_id)
        if summary is not None and summary.kind == "document":  # its pages are its PDF's
            raise Gone("this capture has no such image")
    opened = _open(capture_id, part, record=not granted)
    data = opened.image if part == "image" else opened.preview
    if not data:
        raise Gone("this capture has no such image")
    response = Response(data, mimetype="image/jpeg")
    response.headers["Content-Disposition"] = f'inline; filename="{opened.capture_id}.jpg"'
    return response


@bp.get("/captures/<capture_id>/image")
@requires("nurse")
def image(capture_id: str):
    return _image(capture_id, "image")


@bp.get("/captures/<capture_id>/preview")
@requires("nurse")
def preview(capture_id: str):
    return _image(capture_id, "preview")


def _open_pdf(capture_id: str) -> ReviewCapture:
    """A document's sealed PDF, recorded as viewed unless the document's page already was."""
    granted = ctx().grants.granted(session_key(), f"pdf:{_capture_id(capture_id)}")
    opened = _open(capture_id, "pdf", record=not granted)
    if opened.kind != "document" or not opened.pdf:
        raise Gone("this capture is not a document")
    return opened


@bp.get("/captures/<capture_id>/pages/<int:page>")
@requires("nurse")
def page_thumbnail(capture_id: str, page: int):
    """A thumbnail of one page of a document, from its sealed PDF (opened in memory)."""
    if page < 1:
        raise Gone("this document has no such page")
    opened = _open_pdf(capture_id)
    try:
        data = pdf_thumbnail(opened.pdf, page - 1)
    except IndexError:
        raise Gone("this document has no such page") from None
    except DocumentError:
        abort(409, description="This document's PDF cannot be shown here.")
    return Response(data, mimetype="image/jpeg")


@bp.get("/captures/<capture_id>/pdf")
@requires("nurse")
def document_pdf(capture_id: str):
    opened = _open_pdf(capture_id)
    response = Response(opened.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{opened.capture_id}.pdf"'
    return response


@bp.post("/captures/<capture_id>/amend")
@requires("nurse")
def amend_post(capture_id: str):
    c = ctx()
    opened = _open(capture_id, "preview", record=False)  # read to compare; nothing shown
    changes: dict[str, Any] = {}
    for key, allowed in (("consent", consent_choices()),
                         ("body_site", list(c.cfg.workflow.body_sites)),
                         ("laterality", list(LATERALITIES))):
        value = request.form.get(key, "")
        if value and value not in allowed:
            abort(400, description=f"{key.replace('_', ' ')} {value!r} is not offered here.")
        if value and value != opened.metadata.get(key):
            changes[key] = value
    note = request.form.get("note", "").strip()
    if len(note) > NOTE_MAX:
        abort(400, description=f"A note has at most {NOTE_MAX} characters.")
    if note:
        changes["note"] = note
    if not changes:
        return redirect(url_for("review.detail", capture_id=opened.capture_id))
    try:
        c.vault.amend(opened.capture_id, changes, current_user())
    except UnknownCaptureError:
        raise Gone("unknown") from None
    except VaultError as exc:
        abort(409, description=f"{exc}.")
    return redirect(url_for("review.detail", capture_id=opened.capture_id, notice="amended"))


@bp.post("/captures/<capture_id>/discard")
@requires("nurse")
def discard_post(capture_id: str):
    c = ctx()
    capture_id = _capture_id(capture_id)
    reason = request.form.get("reason", "")
    detail_text = request.form.get("reason_detail", "").strip()
    if reason not in DISCARD_REASONS:
        abort(400, description="Choose a reason for discarding.")
    if reason == "other" and not detail_text:
        abort(400, description="Describe the reason for discarding.")
    if len(detail_text) > REASON_MAX:
        abort(400, description=f"A reason has at most {REASON_MAX} characters.")
    if request.form.get("confirm") != "yes":
        abort(400, description="Tick the box to confirm the discard.")
    summary = find_summary(c.vault, capture_id)
    if summary is None:
        raise Gone("unknown")
    if maybe_sent(summary) and not has_role("reviewer"):
        # Read to check the session; nothing of it is shown.
        if not _in_session(_open(capture_id, "preview", record=False)):
            abort(403, description="This photo (or document) is from an earlier session and "
                                   "may already be at the practice; withdrawing it needs a "
                                   "reviewer.")
    # The vault keeps only the reason code outside the sealed retraction; free text (for
    # "other") travels sealed to the practice and nowhere else.
    try:
        outcome = discard(c.vault, capture_id, detail_text if reason == "other" else reason,
                          current_user())
    except UnknownCaptureError:
        raise Gone("unknown") from None
    except VaultError as exc:
        abort(409, description=f"{exc}.")
    return redirect(url_for("review.queue", notice=outcome))

