"""Records officers: retracted items with their reasons, consent withdrawals, exports.

A retracted item (the station discarded it after delivery) is kept in quarantine for the
record but never shown to clinicians; here records officers see it with who retracted it,
when and why. A consent withdrawal applies to every capture of the patient from the moment it
is recorded (the index derives each capture's effective consent from it), and is audited.
An export bundles the patient's current captures that the chosen purpose allows, with a
manifest naming what was left out and why.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for

from .consent import PURPOSES, permits
from .context import ctx, current_user, requires, session_key
from .lookup import patient_or_404, ref_of, station_rooms

bp = Blueprint("records", __name__)

RECORDS = "records"
#: An export is built in memory; a larger one is refused (ask IT for a file-level copy).
MAX_EXPORT_BYTES = 512 * 1024 * 1024


@bp.get("/records/retracted")
@requires(RECORDS)
def retracted():
    c = ctx()
    try:
        page = c.index.retracted(50, cursor=request.args.get("cursor") or None)
    except ValueError:
        abort(400, description="That page link is not valid.")
    rows = [(x, ref_of(x)) for x in page.items]
    c.record("retracted.listed", user=current_user(),
             capture_ids=[x.item_id for x in page.items])
    c.grants.grant(session_key(), [x.item_id for x in page.items])
    return render_template("retracted.html", rows=rows, page=page, rooms=station_rooms())


@bp.get("/patients/<ref>/retracted")
@requires(RECORDS)
def patient_retracted(ref: str):
    c = ctx()
    summary = patient_or_404(ref)
    pfile = c.index.patient_file(summary.key, state="retracted")
    if pfile is None:
        abort(404)
    shown = [x.item_id for x in pfile.captures()]
    c.record("patient.retracted_viewed", user=current_user(), patient_ref=summary.ref,
             items=len(shown))
    c.grants.grant(session_key(), shown)
    return render_template("patient.html", pfile=pfile, summary=summary, retracted_view=True,
                           rooms=station_rooms())


@bp.post("/patients/<ref>/consent")
@requires(RECORDS)
def withdraw_consent(ref: str):
    """Record a consent withdrawal. The withdrawal is written first (the safe direction: a
    stricter consent), then the audit event; if that fails the request fails loudly."""
    c = ctx()
    summary = patient_or_404(ref)
    uses = request.form.getlist("withdraws")
    reason = request.form.get("reason", "")[:500].strip() or None
    if request.form.get("confirm") != "yes":
        abort(400, description="Tick the box to confirm the patient withdrew consent.")
    try:
        withdrawal = c.index.record_withdrawal(
            summary.key, uses, recorded_by=current_user(),
            recorded_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), reason=reason)
    except ValueError as exc:
        abort(400, description=str(exc))
    c.record("consent.withdrawn", user=current_user(), patient_ref=summary.ref,
             withdraws=list(withdrawal.withdraws), withdrawal_id=withdrawal.withdrawal_id)
    return redirect(url_for("patients.patient", ref=summary.ref, _anchor="consent"), 303)


@bp.get("/patients/<ref>/export")
@requires(RECORDS)
def export(ref: str):
    c = ctx()
    summary = patient_or_404(ref)
    purpose = request.args.get("purpose", "")
    if purpose not in PURPOSES:
        abort(400, description="Choose what the export is for.")
    pfile = c.index.patient_file(summary.key)
    if pfile is None:
        abort(404)
    included, excluded, total = [], [], 0
    for cap in pfile.captures():
        if not permits(cap.effective_consent, purpose):
            excluded.append({"capture_id": cap.item_id, "reason": "consent",
                             "consent": cap.effective_consent})
            continue
        path = c.index.resolve(cap.file_path)
        total += path.stat().st_size
        included.append((cap, path))
    if total > MAX_EXPORT_BYTES:
        abort(413, description="This export is too large for the browser; ask IT.")
    c.record("patient.exported", user=current_user(), patient_ref=summary.ref, purpose=purpose,
             capture_ids=[cap.item_id for cap, _ in included], excluded=len(excluded))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        manifest = {"patient_ref": summary.ref, "purpose": purpose, "excluded": excluded,
                    "included": []}
        for cap, path in included:
            archive.write(path, Path(path).name)
            manifest["included"].append({
                "capture_id": cap.item_id, "file": Path(path).name, "sha256": cap.sha256,
                "captured_at": cap.captured_at, "body_site": cap.body_site,
                "laterality": cap.laterality, "consent": cap.effective_consent})
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
    buffer.seek(0)
    return send_file(buffer, mimetype="application/zip", as_attachment=True,
                     download_name=f"export-{summary.ref[:12]}-{purpose}.zip", max_age=0)
