"""What every practice view shares: the index, the stations, the audit log, the time zone.

``create_app`` puts one :class:`PracticeContext` in ``current_app.extensions['practice_web']``;
views reach it through :func:`ctx`. Who is signed in and the role checks are the shared
:mod:`websecurity.guard` (re-exported here). :meth:`PracticeContext.record` is the only way a
view writes the audit log, and it raises when the log cannot take the event, so nothing is
shown whose showing was not recorded (fail closed).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from websecurity.grants import ThumbnailGrants, session_key
from websecurity.guard import current_session, current_user, has_role, requires

log = logging.getLogger("capture_receiver.web")

EXTENSION = "practice_web"

__all__ = ["EXTENSION", "PracticeContext", "ThumbnailGrants", "ctx", "current_session",
           "current_user", "has_role", "requires", "session_key"]


@dataclass
class PracticeContext:
    """What the views need (``current_app.extensions['practice_web']``).

    ``index`` is a :class:`practice.patientfile.PatientIndex`; ``stations`` the receiver's
    :class:`practice.store.ReceiverStore`; ``audit`` a :class:`practice.audit.PracticeAudit`
    (``record(event, by=..., **fields)``, ``page(...)``, ``verify()``).
    """

    index: Any
    stations: Any
    audit: Any
    tz: dt.tzinfo
    local_formats: tuple[Any, ...] = ()
    practice_name: str = "practice"
    grants: ThumbnailGrants = field(default_factory=ThumbnailGrants)

    def record(self, event: str, **fields: Any) -> None:
        """Write an audit event; if the log cannot take it, the action fails (fail closed).

        The acting account is ``by`` when given (account changes name their target
        ``user``), else ``user`` (every view and sign-in names its actor so); a failed
        sign-in of an unknown name is ``anonymous``."""
        by = fields.pop("by", None) or fields.pop("user", None) or "anonymous"
        try:
            self.audit.record(event, by=by, **fields)
        except Exception:
            log.exception("audit record failed for event %s", event)
            raise


def ctx() -> PracticeContext:
    return current_app.extensions[EXTENSION]
