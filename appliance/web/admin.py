"""Admin pages: the audit log with its chain verification, and station facts.

The audit page verifies the chain, then lists exactly the entries that verification walked
(newest first, :data:`AUDIT_PAGE` a page, filtered by event name or group), so "Chain
verified: N entries" and the number listed agree; what was written after the verification
(the page's own ``web.audit_verified`` among it) shows on the next view.

The users page is the shared :mod:`websecurity.users` (the practice's UI has the same).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from .context import ctx, current_user, requires
from .vaultview import audit_page, verify_audit

bp = Blueprint("admin", __name__)

AUDIT_PAGE = 50


def _filter() -> str | None:
    value = request.args.get("event", "")[:64].strip()
    return value or None


def _before() -> int | None:
    value = request.args.get("before", "")
    return int(value) if value.isdigit() else None


@bp.get("/admin/audit")
@requires("admin")
def audit():
    c = ctx()
    verification = verify_audit(c.audit)
    c.record("web.audit_verified", user=current_user(), ok=verification.ok)
    event = _filter()
    page = audit_page(c.audit, verification, event=event, before=_before(), size=AUDIT_PAGE)
    groups = sorted({name.split(".", 1)[0] + "." for name in page.events if "." in name})
    return render_template("audit.html", verification=verification, page=page, event=event,
                           groups=groups, size=AUDIT_PAGE)


@bp.get("/admin/station")
@requires("admin")
def station():
    c = ctx()
    info = c.station_info() if c.station_info else {}
    return render_template("station.html", info=info)
