"""Images and downloads: served from the patient file only after the access is recorded.

Fail closed: the audit event is written first, and if it cannot be, the request fails and
nothing is sent. A full-resolution view, a download and a thumbnail not named by a recorded
page view are each one event. A download states its purpose, and the capture's effective
consent must allow it (:func:`~.consent.permits`): a teaching or publication download of a
record-only capture is refused, and the refusal is recorded too.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, redirect, request, send_file, url_for

from .consent import PURPOSES, permits
from .context import ctx, current_user, requires, session_key
from .lookup import item_or_404, ref_of

bp = Blueprint("media", __name__)

MIMETYPES = {"capture": "image/jpeg", "document": "application/pdf", "thumb": "image/jpeg"}
#: A quarantined file's name ends with this (no file browser shows it as a photo).
QUARANTINED = ".retracted"


def _send(relative: str | None, kind: str, *, download: bool = False) -> Response:
    """The file at ``relative`` (from the index, checked to stay in the patient file)."""
    if not relative:
        abort(404)
    try:
        path = Path(ctx().index.resolve(relative))
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=MIMETYPES[kind], as_attachment=download,
                     download_name=path.name.removesuffix(QUARANTINED), max_age=0,
                     conditional=False, etag=False)


def _view(item_id: str, kind: str, event: str) -> Response:
    """The item itself, shown in the browser, if it is of ``kind``; recorded first."""
    cap = item_or_404(item_id).capture
    if cap.kind != kind:
        abort(404)
    ctx().record(event, user=current_user(), capture_id=cap.item_id,
                 patient_ref=ref_of(cap), state=cap.state)
    return _send(cap.file_path, cap.kind)


@bp.get("/captures/<item_id>/image")
@requires("clinician")
def image(item_id: str):
    """The full-resolution photo (a document has its PDF instead)."""
    return _view(item_id, "capture", "capture.image_viewed")


@bp.get("/captures/<item_id>/pdf")
@requires("clinician")
def pdf(item_id: str):
    """A document's PDF, to read in the browser: recorded like viewing a photo."""
    return _view(item_id, "document", "document.opened")


@bp.get("/captures/<item_id>/pages/<int:number>")
@requires("clinician")
def page(item_id: str, number: int):
    """One page thumbnail of a document (rendered when it was filed)."""
    c = ctx()
    cap = item_or_404(item_id).capture
    if not 1 <= number <= len(cap.page_thumb_paths):
        abort(404)
    if not c.grants.granted(session_key(), cap.item_id):
        c.record("document.page_viewed", user=current_user(), capture_id=cap.item_id,
                 patient_ref=ref_of(cap), state=cap.state, page=number)
    return _send(cap.page_thumb_paths[number - 1], "thumb")


@bp.get("/captures/<item_id>/thumb")
@requires("clinician")
def thumb(item_id: str):
    c = ctx()
    cap = item_or_404(item_id).capture
    if not c.grants.granted(session_key(), cap.item_id):
        c.record("capture.thumbnail_viewed", user=current_user(), capture_id=cap.item_id,
                 patient_ref=ref_of(cap), state=cap.state)
    return _send(cap.thumb_path, "thumb")


@bp.get("/captures/<item_id>/download")
@requires("clinician")
def download(item_id: str):
    c = ctx()
    cap = item_or_404(item_id).capture
    purpose = request.args.get("purpose", "clinical")
    if purpose not in PURPOSES:
        abort(400, description="Choose what the download is for.")
    fields = {"user": current_user(), "capture_id": cap.item_id, "patient_ref": ref_of(cap),
              "purpose": purpose, "consent": cap.effective_consent}
    if cap.state == "retracted" or not permits(cap.effective_consent, purpose):
        c.record("capture.download_refused", **fields,
                 reason="retracted" if cap.state == "retracted" else "consent")
        return redirect(url_for("patients.capture", item_id=cap.item_id, refused=purpose), 303)
    c.record("capture.downloaded", **fields)
    return _send(cap.file_path, cap.kind, download=True)
