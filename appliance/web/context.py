"""What every view shares: the station's pieces, and naming the station's operator.

``create_app`` puts one :class:`WebContext` in ``current_app.extensions['capture_station']``;
views reach it through :func:`ctx`. Who is signed in and the role checks are the shared
:mod:`websecurity.guard` (re-exported here for the views); what is the station's own is that a
sign-in names the workflow's operator and their sign-out releases it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from websecurity.accounts import Accounts
from websecurity.grants import ThumbnailGrants
from websecurity.guard import current_session, current_user, has_role, requires

from ..config import Config
from ..workflow import OperatorLogin

log = logging.getLogger("capture_station.web")

EXTENSION = "capture_station"

__all__ = ["EXTENSION", "WebContext", "ctx", "current_session", "current_user", "has_role",
           "name_operator", "release_operator", "requires"]


@dataclass
class WebContext:
    """What the views need, in one place (``current_app.extensions['capture_station']``)."""

    vault: Any
    accounts: Accounts
    audit: Any
    status: Callable[[], dict]
    cfg: Config
    clock: Callable[[], float]
    workflow_events: Callable[[Any], Any] | None = None
    demo_press: Callable[[], Any] | None = None
    station_info: Callable[[], dict] | None = None
    #: The user the UI last named as the station's operator (cleared at their sign-out).
    operator: str | None = None
    #: The images each session may load because a recorded page view named them.
    grants: ThumbnailGrants = field(default_factory=ThumbnailGrants)
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self, event: str, **fields: Any) -> None:
        """Write an audit event. If the log cannot take it, the action fails (fail closed):
        an image must never be shown without its view being recorded."""
        try:
            self.audit.record(event, **fields)
        except Exception:
            log.exception("audit record failed for event %s", event)
            raise


def ctx() -> WebContext:
    return current_app.extensions[EXTENSION]


def name_operator(user: str) -> None:
    """A sign-in names the station's operator (the workflow puts it in capture metadata)."""
    c = ctx()
    c.operator = user
    if c.workflow_events is not None:
        c.workflow_events(OperatorLogin(user))


def release_operator(user: str) -> None:
    """The station has no operator any more if ``user`` was it (their sign-out or expiry)."""
    c = ctx()
    if c.operator == user:
        c.operator = None
        if c.workflow_events is not None:
            c.workflow_events(OperatorLogin(None))
