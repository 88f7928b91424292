"""Admin pages: the audit log with its chain verification, and station facts.

The users page is the shared :mod:`websecurity.users` (the practice's UI has the same).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from .context import ctx, current_user, requires
from .vaultview import audit_entries, verify_audit

bp = Blueprint("admin", __name__)

AUDIT_PAGE = 100


@bp.get("/admin/audit")
@requires("admin")
def audit():
    c = ctx()
    verification = verify_audit(c.audit)
    c.record("web.audit_verified", user=current_user(), ok=verification.ok)
    entries = audit_entries(c.audit, limit=AUDIT_PAGE)
    return render_template("audit.html", verification=verification, entries=entries,
                           limit=AUDIT_PAGE)


@bp.get("/admin/station")
@requires("admin")
def station():
    c = ctx()
    info = c.station_info() if c.station_info else {}
    return render_template("station.html", info=info)
