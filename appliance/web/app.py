"""The review UI's Flask app factory: everything it touches is handed in.

``create_app`` receives the vault, the account store, the audit log, a status callable and
(optionally) a way to send workflow events and a demo button, so the same app runs in the
station process, the demo and the tests. Request hooks enforce the rules every page shares:
a server-side session from the ``__Host-`` cookie, idle and absolute timeouts, the CSRF token
on every POST, sign-in before anything but the sign-in page, a forced password change after a
one-time password, and the security headers on every response (errors included).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Flask, abort, g, make_response, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from .. import __version__
from ..config import Config, defaults
from .accounts import ROLES, Account, Accounts
from .security import (
    COOKIE_NAME,
    CSRF_FIELD,
    apply_security_headers,
    clear_cookie,
    csrf_ok,
    session_cookie,
)
from .sessions import Session, SessionStore
from .throttle import LoginThrottle

log = logging.getLogger("capture_station.web")

#: Endpoints reachable without signing in.
PUBLIC_ENDPOINTS = {"auth.login", "auth.login_post", "static"}
#: Endpoints a user with a one-time password may reach before choosing a new one.
PASSWORD_CHANGE_ENDPOINTS = {"auth.password", "auth.password_post", "auth.logout", "static"}


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
    from flask import current_app

    return current_app.extensions["capture_station"]


def current_session() -> Session | None:
    return g.get("session")


def current_user() -> str | None:
    s = current_session()
    return s.user if s is not None else None


def requires(role: str) -> Callable:
    """View decorator: the signed-in user's role must be ``role`` or above (else 403)."""
    if role not in ROLES:
        raise ValueError(role)

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            s = current_session()
            if s is None or s.user is None:
                abort(401)
            if ROLES.index(s.role or "nurse") < ROLES.index(role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped

    return decorate


def has_role(role: str) -> bool:
    s = current_session()
    return bool(s and s.user and ROLES.index(s.role or "nurse") >= ROLES.index(role))


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


def create_app(
    *,
    vault: Any,
    accounts: Accounts,
    audit: Any,
    status: Callable[[], dict],
    workflow_events: Callable[[Any], Any] | None = None,
    demo_press: Callable[[], Any] | None = None,
    station_info: Callable[[], dict] | None = None,
    config: Config | None = None,
    testing: bool = False,
    clock: Callable[[], float] = time.monotonic,
    throttle: LoginThrottle | None = None,
) -> Flask:
    """Build the review UI.

    ``vault`` offers ``list_captures``, ``open_for_review``, ``amend`` and ``discard``;
    ``audit`` offers ``record(event, **fields)`` (and, for the audit page, ``verify`` and
    ``entries``); ``status()`` returns the status page's facts (see docs/web-ui.md);
    ``workflow_events`` receives :class:`~appliance.workflow.SetTags` and
    :class:`~appliance.workflow.OperatorLogin`; ``demo_press`` presses the capture button
    (demo only: the button appears only when it is given). ``clock`` is a monotonic clock
    for session timeouts and throttling (tests pass a fake one).
    """
    cfg = config or Config(defaults(), "defaults")
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        TESTING=testing,
        # Flask's own cookie session is not used; the key only guards against accidental use.
        SECRET_KEY=secrets.token_bytes(32),
        MAX_CONTENT_LENGTH=64 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=0,
        PREFERRED_URL_SCHEME="https",
        TEMPLATES_AUTO_RELOAD=False,
    )
    context = WebContext(
        vault=vault, accounts=accounts, audit=audit, status=status, cfg=cfg,
        sessions=SessionStore(clock, idle_seconds=cfg.web.idle_timeout_minutes * 60,
                              absolute_seconds=cfg.web.absolute_timeout_hours * 3600),
        throttle=throttle or LoginThrottle(clock), clock=clock,
        workflow_events=workflow_events, demo_press=demo_press, station_info=station_info,
    )
    app.extensions["capture_station"] = context

    from . import admin, auth, review
    from . import status as status_views

    for module in (auth, status_views, review, admin):
        app.register_blueprint(module.bp)

    app.before_request(_load_session)
    app.before_request(_check_csrf)
    app.before_request(_require_sign_in)
    app.after_request(_finish_response)
    app.register_error_handler(HTTPException, _http_error)
    app.jinja_env.globals.update(
        csrf_field=CSRF_FIELD, has_role=has_role, app_version=__version__,
    )
    app.context_processor(_template_context)
    return app


# ---- request hooks ----------------------------------------------------------------------------
def _load_session() -> None:
    c = ctx()
    token = request.cookies.get(COOKIE_NAME)
    found = c.sessions.lookup(token)
    g.session, g.token = found.session, token if found.session else None
    g.expired = found.expired
    if found.expired and found.ended is not None and found.ended.user:
        c.record("web.logout", user=found.ended.user, reason=f"{found.expired}_timeout")
        if c.operator == found.ended.user:
            _clear_operator(c)
    s = found.session
    if s is not None and s.user:
        # Accounts can change under a live session (removed, new password, new role), from
        # this UI or from the console: the account store decides on every request.
        account = c.accounts.get(s.user)
        if account is None or account.password_changed_at != s.password_stamp:
            c.sessions.drop(token)
            c.record("web.logout", user=s.user, reason="account_changed")
            if c.operator == s.user:
                _clear_operator(c)
            g.session, g.token = None, None
        else:
            s.role = account.role
            s.must_change_password = account.must_change_password
    if token and g.session is None:
        g.clear_cookie = True


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    s = current_session()
    submitted = request.form.get(CSRF_FIELD)
    if s is None or not csrf_ok(s.csrf, submitted):
        abort(400, description="This form has expired or was not sent by this station's "
                               "pages. Reload the page and try again.")


def _require_sign_in() -> Any:
    endpoint = request.endpoint or ""
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    s = current_session()
    if s is None or s.user is None:
        if request.method == "GET" and endpoint:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?"),
                                    expired=g.get("expired") or None))
        abort(401)
    if s.must_change_password and endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        if request.method == "GET":
            return redirect(url_for("auth.password"))
        abort(403)
    return None


def _finish_response(response):
    apply_security_headers(response.headers)
    if g.get("set_cookie") and g.get("token"):
        response.headers.add("Set-Cookie", session_cookie(g.token))
    elif g.get("clear_cookie"):
        response.headers.add("Set-Cookie", clear_cookie())
    return response


def _http_error(exc: HTTPException):
    """Errors are pages too: same layout, same headers, no stack traces."""
    code = exc.code or 500
    response = make_response(render_template("error.html", code=code, name=exc.name,
                                             description=exc.description), code)
    valid = getattr(exc, "valid_methods", None)
    if code == 405 and valid:
        response.headers["Allow"] = ", ".join(valid)
    return response


def _template_context() -> dict[str, Any]:
    c = ctx()
    s = current_session()
    return {
        "session_user": s.user if s else None,
        "session_role": s.role if s else None,
        "csrf_token": s.csrf if s else "",
        "station_name": c.cfg.station.name,
        "demo": c.demo_press is not None,
    }


def _clear_operator(c: WebContext) -> None:
    from ..workflow import OperatorLogin

    c.operator = None
    if c.workflow_events is not None:
        c.workflow_events(OperatorLogin(None))


def name_operator(user: str) -> None:
    """A sign-in names the station's operator (the workflow puts it in capture metadata)."""
    from ..workflow import OperatorLogin

    c = ctx()
    c.operator = user
    if c.workflow_events is not None:
        c.workflow_events(OperatorLogin(user))


def release_operator(user: str) -> None:
    c = ctx()
    if c.operator == user:
        _clear_operator(c)
