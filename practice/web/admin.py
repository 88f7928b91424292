"""Admins: the stations page (approve, revoke) and the practice audit log.

Approving and revoking here is the same change as ``capture-receiver stations approve|
revoke`` (the receiver's station table, read on every request, so a revoked station is
refused at its next delivery) and is audited. The audit page filters (event name or prefix,
acting user) and pages the practice audit log (:class:`practice.audit.PracticeAudit`) and
says whether its hash chain verifies.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from .context import ctx, current_user, requires
from .lookup import TOKEN_RE

bp = Blueprint("admin", __name__)

AUDIT_PAGE = 100
ACTIONS = {"approve": "approved", "revoke": "revoked"}
NOTICES = {"approved": "Station approved.", "revoked": "Station revoked: its next delivery "
           "is refused; its queue stays on the station until it is approved again."}


def station_rows() -> list[dict[str, Any]]:
    """One row per enrolled station: the station table's facts (status, room, and what the
    station last reported: last seen, queue depth, software version) and the index's count
    of filed items and last delivery."""
    c = ctx()
    activity = c.index.station_activity()
    rows = []
    for s in c.stations.stations():
        filed, last_delivery = activity.get(s.station_id, (0, None))
        rows.append({"station": s, "filed": filed,
                     "last_delivery": getattr(s, "last_delivery", None) or last_delivery,
                     "last_seen": getattr(s, "last_seen", None),
                     "queue_depth": getattr(s, "queue_depth", None),
                     "version": getattr(s, "version", None)})
    return rows


@bp.get("/admin/stations")
@requires("admin")
def stations():
    rows = station_rows()
    ctx().record("stations.viewed", user=current_user())
    return render_template("stations.html", rows=rows,
                           pending=[r for r in rows if r["station"].status == "pending"],
                           notice=NOTICES.get(request.args.get("notice", "")))


@bp.post("/admin/stations/<station_id>/<action>")
@requires("admin")
def station_action(station_id: str, action: str):
    c = ctx()
    if action not in ACTIONS or not TOKEN_RE.fullmatch(station_id):
        abort(404)
    if c.stations.station(station_id) is None:
        abort(404)
    status = ACTIONS[action]
    # Recorded first: an approval that cannot be audited does not happen.
    c.record(f"station.{status}", user=current_user(), station_id=station_id, via="web")
    c.stations.set_status(station_id, status)
    return redirect(url_for("admin.stations", notice=status), 303)


@bp.get("/admin/audit")
@requires("admin")
def audit():
    c = ctx()
    event = request.args.get("event", "")[:64].strip() or None
    user = request.args.get("user", "")[:64].strip() or None
    cursor = request.args.get("cursor") or None
    try:
        page = c.audit.page(limit=AUDIT_PAGE, cursor=cursor, event_prefix=event, by=user)
    except ValueError:
        abort(400, description="That page link is not valid.")
    verified = c.audit.verify()
    c.record("audit.viewed", user=current_user(), filter_event=event, filter_user=user)
    return render_template("audit.html", page=page, verified=verified, event=event or "",
                           user=user or "")
