"""What every view shares: the station's pieces, the signed-in user and the role checks.

``create_app`` puts one :class:`WebContext` in ``current_app.extensions['capture_station']``;
views and hooks reach it through :func:`ctx`. Signing in and out and naming the station's
operator live here too, because both the sign-in views and the session hooks need them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import abort, current_app, g

from websecurity.accounts import Account, Accounts
from websecurity.sessions import Session, SessionStore
from websecurity.throttle import LoginThrottle

from ..config import Config
from ..workflow import OperatorLogin
from .accounts import ROLES

log = logging.getLogger("capture_station.web")

EXTENSION = "capture_station"


@dataclass
class WebContext:
    """What the views need, in one place (``current_app.extensions['capture_station']``)."""

    vault: Any
    accounts: Accounts
    audit: Any
    status: Callable[[], dict]
    cfg: Config
    sessions: SessionStore
    throttle: LoginThrottle
    clock: Callable[[], float]
    workflow_events: Callable[[Any], Any] | None = None
    demo_press: Callable[[], Any] | None = None
    station_info: Callable[[], dict] | None = None
    #: The user the UI last named as the station's operator (cleared at their sign-out).
    operator: str | None = None
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


def current_session() -> Session | None:
    return g.get("session")


def current_user() -> str | None:
    s = current_session()
    return s.user if s is not None else None


def requires(role: str) -> Callable:
    """View decorator: the signed-in user's role must be ``role`` or above (else 403)."""
    ROLES.check(role)

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            s = current_session()
            if s is None or s.user is None:
                abort(401)
            if not ROLES.at_least(s.role, role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped

    return decorate


def has_role(role: str) -> bool:
    s = current_session()
    return bool(s and s.user and ROLES.at_least(s.role, role))


def start_session(account: Account) -> Session:
    """Sign in: a fresh session id (never reuse the anonymous one: no fixation)."""
    c = ctx()
    c.sessions.drop(g.get("token"))
    token, session = c.sessions.new(user=account.name, role=account.role,
                                    must_change_password=account.must_change_password,
                                    password_stamp=account.password_changed_at)
    g.session, g.token, g.set_cookie = session, token, True
    return session


def end_session() -> None:
    ctx().sessions.drop(g.get("token"))
    g.session, g.token, g.clear_cookie = None, None, True


def anonymous_session() -> Session:
    """The current session, or a new anonymous one (it holds the sign-in form's CSRF token)."""
    s = current_session()
    if s is None:
        token, s = ctx().sessions.new()
        g.session, g.token, g.set_cookie = s, token, True
    return s


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
