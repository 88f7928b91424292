"""Finding what a URL names, and refusing what the signed-in user may not see.

URLs name patients by their audit pseudonym (``ref``), never by identifier, so no patient id
lands in browser history or a proxy log. A retracted item does not exist for a clinician
(404, not 403: its existence is not revealed); records officers and admins see it.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort

from .context import ctx, has_role

#: Item ids and pseudonyms are short URL-safe tokens; anything else is not looked up.
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,80}")
RECORDS = "records"


def patient_or_404(ref: str) -> Any:
    if not TOKEN_RE.fullmatch(ref):
        abort(404)
    summary = ctx().index.patient_by_ref(ref)
    if summary is None:
        abort(404)
    return summary


def item_or_404(item_id: str) -> Any:
    """The item's detail (with history), if this user may see it."""
    if not TOKEN_RE.fullmatch(item_id):
        abort(404)
    detail = ctx().index.capture(item_id)
    if detail is None or not visible(detail.capture):
        abort(404)
    return detail


def visible(capture: Any) -> bool:
    return capture.state != "retracted" or has_role(RECORDS)


def ref_of(capture: Any) -> str:
    """The pseudonym of a capture's patient (for links and audit events)."""
    return ctx().index.pseudonyms.ref(capture.key.issuer, capture.key.patient_id)


def station_rooms() -> dict[str, str]:
    """Station id -> its room (from enrolment), for showing where a capture was taken."""
    return {s.station_id: s.room for s in ctx().stations.stations()}
