"""Find a patient, read their file, compare two captures, look at one capture's history.

A search is a POST (the typed text is a patient identifier: it must not sit in a URL, the
browser history or a log) and answers with the patient's page when exactly one patient
matches. A desk USB scanner types the wristband's text into the same field: GS1 element
strings and the practice's local formats are parsed (see ``PatientIndex.lookup_wristband``).
Every search and every page that shows patient data is an audit event naming patients by
pseudonym; the page's event also lets its thumbnails load (see
:class:`~.context.ThumbnailGrants`).
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from PIL import Image

from .context import ctx, current_user, requires, session_key
from .lookup import TOKEN_RE, item_or_404, patient_or_404, ref_of, station_rooms, visible

bp = Blueprint("patients", __name__)

MAX_QUERY = 256
RECENT_PATIENTS = 12
NOTICES = {"password_changed": "Your password was changed."}


@bp.get("/")
@requires("clinician")
def index():
    c = ctx()
    recent = c.index.recent_patients(RECENT_PATIENTS)
    c.record("patients.listed", user=current_user(), patient_refs=[p.ref for p in recent])
    return render_template("search.html", recent=recent,
                           notice=NOTICES.get(request.args.get("notice", "")))


@bp.post("/search")
@requires("clinician")
def search():
    c = ctx()
    text = request.form.get("q", "")[:MAX_QUERY].strip()
    issuer = request.form.get("issuer", "")[:64].strip() or None
    error = None
    if not text:
        patients, outcome = [], "empty"
    elif issuer is not None:
        patients, outcome = c.index.find_patients(text, issuer), "id"
    else:
        lookup = c.index.lookup_wristband(text, c.local_formats)
        patients, outcome = lookup.patients, lookup.outcome
        if outcome in ("caregiver", "command", "invalid"):
            error = {"caregiver": "That is a staff badge, not a patient wristband.",
                     "command": "That is a command card, not a patient wristband.",
                     "invalid": "The scanned wristband could not be read: "
                                f"{lookup.error or 'invalid content'}."}[outcome]
    c.record("patient.searched", user=current_user(), outcome=outcome, results=len(patients),
             patient_refs=[p.ref for p in patients], **({"issuer": issuer} if issuer else {}))
    if len(patients) == 1 and (outcome == "patient" or patients[0].key.patient_id == text):
        return redirect(url_for("patients.patient", ref=patients[0].ref), 303)
    return render_template("results.html", patients=patients, searched=bool(text),
                           error=error, outcome=outcome)


@bp.get("/patients/<ref>")
@requires("clinician")
def patient(ref: str):
    c = ctx()
    summary = patient_or_404(ref)
    pfile = c.index.patient_file(summary.key)
    if pfile is None:
        abort(404)
    shown = [x.item_id for x in pfile.captures()]
    c.record("patient.viewed", user=current_user(), patient_ref=summary.ref, items=len(shown))
    c.grants.grant(session_key(), shown)
    return render_template("patient.html", pfile=pfile, summary=summary, retracted_view=False,
                           rooms=station_rooms())


@bp.get("/patients/<ref>/compare")
@requires("clinician")
def compare(ref: str):
    """Two captures side by side: ``a`` and ``b`` if given, ``a`` and the one before it of its
    body site, else the last two of the newest capture's body site and laterality."""
    c = ctx()
    summary = patient_or_404(ref)
    a, b = request.args.get("a", ""), request.args.get("b", "")
    if a and b:
        pair = [item_or_404(a).capture, item_or_404(b).capture]
    elif a:
        item_or_404(a)
        pair = [x for x in c.index.compare(a) if visible(x)]
    else:
        pfile = c.index.patient_file(summary.key)
        newest = pfile.captures()[0] if pfile and pfile.captures() else None
        pair = [] if newest is None else c.index.latest_pair(
            summary.key, newest.body_site, newest.laterality)
    if any(ref_of(x) != summary.ref for x in pair):
        abort(404)
    pair = sorted(pair, key=lambda x: (x.captured_at or "", x.item_id))  # older on the left
    c.record("captures.compared", user=current_user(), patient_ref=summary.ref,
             capture_ids=[x.item_id for x in pair])
    return render_template("compare.html", summary=summary, pair=pair,
                           widths=_same_scale_widths(pair), rooms=station_rooms())


@bp.get("/captures/<item_id>")
@requires("clinician")
def capture(item_id: str):
    c = ctx()
    detail = item_or_404(item_id)
    ref = ref_of(detail.capture)
    c.record("capture.viewed", user=current_user(), capture_id=detail.capture.item_id,
             patient_ref=ref, state=detail.capture.state)
    c.grants.grant(session_key(), [detail.capture.item_id])  # its thumbnails and pages
    summary = c.index.patient_by_ref(ref)
    return render_template("capture.html", detail=detail, cap=detail.capture, summary=summary,
                           refused=request.args.get("refused"), rooms=station_rooms())


@bp.get("/recent")
@bp.get("/stations/<station_id>/captures")
@requires("clinician")
def recent(station_id: str | None = None):
    """The newest deliveries, all stations' or one's, paged by cursor."""
    c = ctx()
    if station_id is not None and not TOKEN_RE.fullmatch(station_id):
        abort(404)
    cursor = request.args.get("cursor") or None
    try:
        page = c.index.recent(50, station_id=station_id, cursor=cursor)
    except ValueError:
        abort(400, description="That page link is not valid.")
    rows = [(x, ref_of(x)) for x in page.items]
    c.record("captures.listed", user=current_user(), station_id=station_id,
             capture_ids=[x.item_id for x in page.items])
    c.grants.grant(session_key(), [x.item_id for x in page.items])
    station = c.stations.station(station_id) if station_id else None
    return render_template("recent.html", rows=rows, page=page, station=station,
                           station_id=station_id, rooms=station_rooms())


def _same_scale_widths(pair: list) -> list[int]:
    """Each image's width as a share of its column, so both show at the same scale (pixels
    of the larger image fill the column; the other is as much narrower as it has fewer).
    In steps of 5 % (a CSS class each: the CSP allows no inline style)."""
    sizes = []
    for x in pair:
        try:
            with Image.open(ctx().index.resolve(x.file_path)) as image:
                sizes.append(image.size[0])
        except (OSError, ValueError):
            sizes.append(0)
    widest = max(sizes, default=0)
    return [max(5, 5 * round(20 * w / widest)) if widest and w else 100 for w in sizes]
