"""The status page: what the station is doing now, and tagging the session in progress.

Tags set here go to the workflow as :class:`~appliance.workflow.SetTags`, exactly like a
command card, so the same rules apply (no session, no tags; the emergency override only when
enabled). Document mode is driven the same way (:class:`~appliance.workflow.DocumentAction`,
like a document card: start one of a type, retake the last page, end it); pages are taken with
the capture button. The workflow's answer decides what the nurse is told.
"""

from __future__ import annotations

import shutil
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


def consent_choices() -> list[str]:
    choices = list(CONSENT_LEVELS)
    if ctx().cfg.workflow.emergency_override:
        choices.append(EMERGENCY_OVERRIDE)
    return choices


def _status() -> dict[str, Any]:
    try:
        return dict(ctx().status() or {})
    except Exception:  # noqa: BLE001 - a broken probe must not take the page down
        return {"error": "station status unavailable"}


@bp.get("/")
@requires("nurse")
def index():
    c = ctx()
    notice = NOTICES.get(request.args.get("notice", ""))
    error = REFUSAL_TEXT.get(request.args.get("refused", ""))
    if request.args.get("refused") and error is None:
        error = "The station refused the change."
    return render_template(
        "status.html", status=_status(), notice=notice, error=error,
        consents=consent_choices(), body_sites=list(c.cfg.workflow.body_sites),
        lateralities=list(LATERALITIES), can_tag=c.workflow_events is not None,
        document_types=list(DOCUMENT_TYPES),
    )


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


def station_status(*, workflow: Any, vault: Any, cfg: Any,
                   receiver: dict[str, Any] | None = None,
                   clock_synced: bool | None = None) -> dict[str, Any]:
    """The status page's facts from the real parts (``create_app(status=lambda: ...)``).

    ``workflow`` is the :class:`~appliance.workflow.Workflow` (its pseudonymous snapshot),
    ``vault`` the :class:`~appliance.vault.Vault` (queue counts, last delivery); ``receiver``
    is what the sync worker knows: ``{"name", "state": connected|unreachable|unknown,
    "detail"}``.
    """
    try:
        free_mb: int | None = shutil.disk_usage(cfg.state_dir).free // (1024 * 1024)
    except OSError:
        free_mb = None
    captures = vault.list_captures(include_previous=True)
    delivered = [c.delivered_at for c in captures if c.delivered_at]
    return {
        "workflow": workflow.snapshot(),
        "disk": {"free_mb": free_mb, "reserve_mb": cfg.vault.reserve_mb,
                 "ok": free_mb is not None and free_mb >= cfg.vault.reserve_mb},
        "queue": vault.counts(),
        "receiver": receiver or {"name": cfg.sync.receiver_name, "state": "unknown"},
        "last_delivery": local_time(max(delivered)) if delivered else None,
        "clock_synced": clock_synced,
    }
