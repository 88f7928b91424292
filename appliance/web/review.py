"""Review: the queue of captures, one capture in full, tag amendments and discards.

A scanned document is reviewed the same way: its detail page shows a thumbnail of every page
(made from the sealed PDF, opened with the review key like a photo) and links the PDF itself;
it is discarded (or retracted after delivery) like a photo.

Images are decrypted by the vault in memory with this start's review key and streamed
straight from memory with ``no-store``; nothing is cached or written. The vault records every
opening in the audit log (``capture.viewed``, with the signed-in user as operator and the part
shown). URLs carry only capture ids (random UUIDv7s), never a patient id.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from documents import DocumentError, pdf_thumbnail

from ..vault import ReviewCapture, UnknownCaptureError, VaultError
from ..workflow import CONSENT_LEVELS, EMERGENCY_OVERRIDE, LATERALITIES
from .context import ctx, current_user, has_role, requires
from .vaultview import DISCARD_REASONS, discard, find_summary, maybe_sent

bp = Blueprint("review", __name__)

CAPTURE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NOTE_MAX = 500
REASON_MAX = 200
NOTICES = {
    "amended": "The change was sealed and queued for the practice.",
    "shredded": "The capture was discarded and shredded; the practice never received it.",
    "retracted": "The capture was discarded; a sealed retraction was queued for the practice.",
}


def _capture_id(value: str) -> str:
    if not CAPTURE_ID.fullmatch(value or ""):
        abort(404)
    return value


def _open(capture_id: str, part: str) -> ReviewCapture:
    """Decrypt in memory; 'preview' skips the full image. A capture that cannot be opened
    here (sealed before this start, or its view could not be audited) shows nothing."""
    try:
        return ctx().vault.open_for_review(_capture_id(capture_id), operator=current_user(),
                                           preview_only=part == "preview")
    except UnknownCaptureError:
        abort(404)
    except VaultError as exc:
        abort(409, description=f"{exc}.")


@bp.get("/review")
@requires("nurse")
def queue():
    captures = ctx().vault.list_captures(include_previous=True)
    return render_template("queue.html", current=[c for c in captures if c.reviewable],
                           sealed=[c for c in captures if not c.reviewable],
                           notice=NOTICES.get(request.args.get("notice", "")))


@bp.get("/captures/<capture_id>")
@requires("nurse")
def detail(capture_id: str):
    c = ctx()
    summary = find_summary(c.vault, _capture_id(capture_id))
    if summary is None:
        abort(404)
    if not summary.reviewable:
        return render_template("sealed.html", capture_id=capture_id), 409
    # The metadata comes with the preview part only; the page's <img> fetches the full image.
    opened = _open(capture_id, "preview")
    if opened.kind == "document":
        return render_template(
            "document.html", capture=opened, capture_id=capture_id,
            pages=int(opened.metadata.get("pages") or 1), maybe_sent=maybe_sent(summary),
            reasons=DISCARD_REASONS, can_retract=has_role("reviewer"))
    return render_template(
        "capture.html", capture=opened, capture_id=capture_id,
        maybe_sent=maybe_sent(summary),
        notice=NOTICES.get(request.args.get("notice", "")),
        consents=_consents(), body_sites=list(c.cfg.workflow.body_sites),
        lateralities=list(LATERALITIES), reasons=DISCARD_REASONS,
        can_retract=has_role("reviewer"),
    )


def _image(capture_id: str, part: str) -> Response:
    opened = _open(capture_id, part)
    data = opened.image if part == "image" else opened.preview
    if not data:
        abort(404)
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


@bp.get("/captures/<capture_id>/pages/<int:page>")
@requires("nurse")
def page_thumbnail(capture_id: str, page: int):
    """A thumbnail of one page of a document, from its sealed PDF (opened in memory)."""
    opened = _open(capture_id, "pdf")
    if opened.kind != "document" or page < 1:
        abort(404)
    try:
        data = pdf_thumbnail(opened.pdf, page - 1)
    except IndexError:
        abort(404)
    except DocumentError:
        abort(409, description="This document's PDF cannot be shown here.")
    return Response(data, mimetype="image/jpeg")


@bp.get("/captures/<capture_id>/pdf")
@requires("nurse")
def document_pdf(capture_id: str):
    opened = _open(capture_id, "pdf")
    if opened.kind != "document" or not opened.pdf:
        abort(404)
    response = Response(opened.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{opened.capture_id}.pdf"'
    return response


@bp.post("/captures/<capture_id>/amend")
@requires("nurse")
def amend_post(capture_id: str):
    c = ctx()
    opened = _open(capture_id, "preview")
    changes: dict[str, Any] = {}
    for key, allowed in (("consent", _consents()),
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
        abort(404)
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
        abort(404)
    if maybe_sent(summary) and not has_role("reviewer"):
        abort(403, description="This capture may already be at the practice; retracting it "
                               "needs a reviewer.")
    # The vault keeps only the reason code outside the sealed retraction; free text (for
    # "other") travels sealed to the practice and nowhere else.
    try:
        outcome = discard(c.vault, capture_id, detail_text if reason == "other" else reason,
                          current_user())
    except UnknownCaptureError:
        abort(404)
    except VaultError as exc:
        abort(409, description=f"{exc}.")
    return redirect(url_for("review.queue", notice=outcome))


def _consents() -> list[str]:
    choices = list(CONSENT_LEVELS)
    if ctx().cfg.workflow.emergency_override:
        choices.append(EMERGENCY_OVERRIDE)
    return choices
