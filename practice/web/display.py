"""How the pages show times, consent and body sites (Jinja filters).

Times are stored in UTC (stations stamp ISO 8601 with an offset); clinicians read them in the
practice's configured time zone, with the zone named so nobody has to guess. A capture whose
station clock was not synchronised says so next to its time.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from ..filing import parse_time
from . import consent
from .context import ctx
from .forwardstatus import status_of


def local_time(value: object, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``2026-01-01 11:00 CET`` in the practice's zone; the raw text if it is no time."""
    when = parse_time(value)
    if when is None:
        return "unknown" if not value else str(value)
    local = when.astimezone(ctx().tz)
    return f"{local.strftime(fmt)} {local.tzname() or ''}".rstrip()


def local_date(value: object) -> str:
    return local_time(value, "%Y-%m-%d").split(" ")[0]


def site_label(body_site: object, laterality: object = None) -> str:
    site = str(body_site).replace("_", " ") if body_site else "site not recorded"
    return f"{site}, {laterality}" if laterality else site


def register_filters(app: Flask) -> None:
    app.add_template_filter(local_time)
    app.add_template_filter(local_date)
    app.add_template_filter(site_label)
    app.add_template_filter(consent.label, "consent_label")
    app.add_template_filter(document_label)
    app.jinja_env.globals.update(permits=consent.permits, purposes=consent.PURPOSES,
                                 forwarding=status_of, document_of=document_of)


DOCUMENT_TYPES = {"consent-form": "Consent form", "referral": "Referral", "sketch": "Sketch",
                  "other": "Document"}


def document_label(document_type: object) -> str:
    """How a document's type reads on the page (an unknown type reads as "Document")."""
    return DOCUMENT_TYPES.get(str(document_type), "Document")


def document_of(item_id: object) -> Any:
    """The filed document ``item_id`` names (a capture's ``consent_form``), if this user may
    see it; None when it has not arrived (or was retracted, for a clinician)."""
    from .lookup import TOKEN_RE, visible

    if not isinstance(item_id, str) or not TOKEN_RE.fullmatch(item_id):
        return None
    detail = ctx().index.capture(item_id)
    if detail is None or detail.capture.kind != "document" or not visible(detail.capture):
        return None
    return detail.capture
