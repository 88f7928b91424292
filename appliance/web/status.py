"""The status page: what the station is doing now, for whom, and tagging the session.

The page reloads itself every :data:`REFRESH_SECONDS` with a meta refresh (the CSP allows no
script), so a tablet left on it never shows a stale state; the reload does not keep the
session alive (``?auto=1``, see :func:`websecurity.hooks.is_auto_refresh`). Tagging is on
its own page, which does not reload under the nurse's fingers; so is starting a document
(a choice of type the reload would wipe).

Tags set here go to the workflow as :class:`~appliance.workflow.SetTags`, exactly like a
command card, so the same rules apply (no session, no tags; the emergency override only when
enabled). Document mode is driven the same way (:class:`~appliance.workflow.DocumentAction`,
like a document card: start one of a type, retake the last page, end it); pages are taken with
the capture button. The workflow's answer decides what the nurse is told.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from barcode.commands import DOCUMENT_TYPES, END_DOCUMENT, RETAKE_PAGE

from ..workflow import (
    CONSENT_LEVELS,
    EMERGENCY_OVERRIDE,
    LATERALITIES,
    DocumentAction,
    Refusal,
    SetTags,
    Signal,
)
from .context import ctx, current_user, requires
from .vaultview import local_time

bp = Blueprint("status", __name__)

REFRESH_SECONDS = 5
REFUSAL_TEXT = {
    Refusal.NO_PATIENT.value: "No session in progress: scan a wristband first.",
    Refusal.OVERRIDE_DISABLED.value: "The emergency override is not enabled on this station.",
    Refusal.INVALID_READ.value: "That value is not allowed here.",
    Refusal.BUSY.value: "The station is busy with a page or a document: try again in a moment.",
}
NOTICES = {
    "tags_set": "Session tags updated.",
    "pressed": "Capture button pressed.",
    "password_changed": "Your password was changed.",
    "document": "Document updated: press the capture button for each page.",
}
#: Outbox kinds counted as what the nurse took; everything else travels "with them".
PHOTO_KINDS = ("capture",)
DOCUMENT_KINDS = ("document",)


def consent_choices() -> list[str]:
    choices = list(CONSENT_LEVELS)
    if ctx().cfg.workflow.emergency_override:
        choices.append(EMERGENCY_OVERRIDE)
    return choices


def current_status() -> dict[str, Any]:
    """The status facts, or an error entry: a broken probe must not take a page down."""
    try:
        return dict(ctx().status() or {})
    except Exception:  # noqa: BLE001 - a broken probe must not take the page down
        return {"error": "station status unavailable"}


def session_in_progress(status: dict[str, Any] | None = None) -> str | None:
    """The id of the workflow's session in progress, if any."""
    facts = current_status() if status is None else status
    session = (facts.get("workflow") or {}).get("session") or {}
    return session.get("session_id")


@bp.get("/")
@requires("nurse")
def index():
    c = ctx()
    notice = NOTICES.get(request.args.get("notice", ""))
    error = REFUSAL_TEXT.get(request.args.get("refused", ""))
    if request.args.get("refused") and error is None:
        error = "The station refused the change."
    return render_template(
        "status.html", status=current_status(), notice=notice, error=error,
        can_tag=c.workflow_events is not None, operator=c.operator,
        refresh_seconds=REFRESH_SECONDS, now=local_time(time.time()),
        patient_file_url=c.cfg.practice.patient_file_url,
    )


@bp.get("/session/tags")
@requires("nurse")
def tags():
    c = ctx()
    if c.workflow_events is None:
        abort(404)
    status = current_status()
    return render_template(
        "tags.html", status=status, consents=consent_choices(),
        body_sites=list(c.cfg.workflow.body_sites), lateralities=list(LATERALITIES),
        document_types=list(DOCUMENT_TYPES))


@bp.post("/session/tags")
@requires("nurse")
def set_tags():
    c = ctx()
    if c.workflow_events is None:
        abort(404)
    changes = {}
    for key, allowed in (("consent", consent_choices()),
                         ("body_site", list(c.cfg.workflow.body_sites)),
                         ("laterality", list(LATERALITIES))):
        value = request.form.get(key, "")
        if value:
            if value not in allowed:
                abort(400, description=f"{key.replace('_', ' ')} {value!r} is not offered")
            changes[key] = value
    if not changes:
        return redirect(url_for("status.index"))
    c.record("web.session_tags", user=current_user(), **changes)
    effects = c.workflow_events(SetTags(**changes)) or []
    refused = _refusal(effects)
    if refused:
        return redirect(url_for("status.index", refused=refused))
    return redirect(url_for("status.index", notice="tags_set"))


@bp.post("/session/document")
@requires("nurse")
def document():
    """Start a document of a type, retake its last page, or end it (as the cards do)."""
    c = ctx()
    if c.workflow_events is None:
        abort(404)
    action = request.form.get("action", "")
    if action == "start":
        action = request.form.get("document_type", "")
        if action not in DOCUMENT_TYPES:
            abort(400, description="Choose a document type.")
    elif action not in (END_DOCUMENT, RETAKE_PAGE):
        abort(400, description="Start, retake or end a document.")
    c.record("web.document", user=current_user(), action=action)
    refused = _refusal(c.workflow_events(DocumentAction(action, source="web")) or [])
    if refused:
        return redirect(url_for("status.index", refused=refused))
    return redirect(url_for("status.index", notice="document"))


@bp.post("/demo/press")
@requires("nurse")
def demo_press():
    c = ctx()
    if c.demo_press is None:
        abort(404)
    c.record("web.demo_button", user=current_user())
    c.demo_press()
    return redirect(url_for("status.index", notice="pressed"))


def _refusal(effects: Any) -> str | None:
    refusals = {r.value for r in Refusal}
    for effect in effects if isinstance(effects, list | tuple) else ():
        if isinstance(effect, Signal) and effect.name in refusals:
            return effect.name
    return None


def delivery_counts(by_kind: dict[str, dict[str, int]]) -> dict[str, int]:
    """What the Delivery card shows: photos and documents apart from what travels with them
    (corrections, retractions, audit batches)."""

    def count(kinds: tuple[str, ...], *states: str) -> int:
        return sum(by_kind.get(k, {}).get(s, 0) for k in kinds for s in states)

    others = tuple(k for k in by_kind if k not in PHOTO_KINDS + DOCUMENT_KINDS)
    return {
        "photos_delivered": count(PHOTO_KINDS, "delivered"),
        "documents_delivered": count(DOCUMENT_KINDS, "delivered"),
        "waiting": count(PHOTO_KINDS + DOCUMENT_KINDS, "queued", "sending"),
        "rejected": count(PHOTO_KINDS + DOCUMENT_KINDS, "rejected"),
        "others_delivered": count(others, "delivered"),
        "others_waiting": count(others, "queued", "sending"),
    }


def station_status(*, workflow: Any, vault: Any, cfg: Any,
                   receiver: dict[str, Any] | None = None,
                   clock_synced: bool | None = None) -> dict[str, Any]:
    """The status page's facts from the real parts (``create_app(status=lambda: ...)``).

    ``workflow`` is the :class:`~appliance.workflow.Workflow` (its snapshot, and the patient
    of the session in progress: the page shows who the photos are for), ``vault`` the
    :class:`~appliance.vault.Vault` (counts per kind, last delivery); ``receiver`` is what
    the sync worker knows: ``{"name", "state": connected|unreachable|unknown, "detail"}``.
    """
    try:
        free_mb: int | None = shutil.disk_usage(cfg.state_dir).free // (1024 * 1024)
    except OSError:
        free_mb = None
    captures = vault.list_captures(include_previous=True)
    delivered = [c.delivered_at for c in captures if c.delivered_at]
    session = workflow.session
    snapshot = workflow.snapshot()
    shown = snapshot.get("session") or {}
    # The session may end between the two reads: a patient is named only with its session.
    same = session is not None and shown.get("session_id") == session.session_id
    return {
        "workflow": snapshot,
        "patient": {"id": session.patient.id, "issuer": session.patient.issuer}
        if same else None,
        "disk": {"free_mb": free_mb, "reserve_mb": cfg.vault.reserve_mb,
                 "ok": free_mb is not None and free_mb >= cfg.vault.reserve_mb},
        "delivery": delivery_counts(vault.counts_by_kind()),
        "receiver": receiver or {"name": cfg.sync.receiver_name, "state": "unknown"},
        "last_delivery": local_time(max(delivered)) if delivered else None,
        "clock_synced": clock_synced,
    }
