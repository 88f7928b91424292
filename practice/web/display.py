"""How the pages show times, consent and body sites (Jinja filters).

Times are stored in UTC (stations stamp ISO 8601 with an offset); clinicians read them in the
practice's configured time zone, with the zone named so nobody has to guess. A capture whose
station clock was not synchronised says so next to its time.
"""

from __future__ import annotations

from flask import Flask

from ..filing import parse_time
from . import consent
from .context import ctx


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
    app.jinja_env.globals.update(permits=consent.permits, purposes=consent.PURPOSES)
