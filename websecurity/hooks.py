"""The rules every request of a web UI follows, whatever the page, and its error pages.

Before a view: the server-side session from the ``__Host-`` cookie (ended if it timed out or
its account changed), the CSRF token on every POST, sign-in before anything but the sign-in
page, a forced password change after a one-time password. After it: the security headers on
every response (errors included) and the cookie set or cleared. :func:`install` wires these,
the sign-in views and (optionally) the user admin views into an app, so both UIs keep the same
bar by construction. The shared pages (``login.html``, ``password.html``, ``error.html``,
``users.html`` in ``websecurity/templates``) extend the app's ``base.html``; an app may add a
``roles.html`` that the users page includes.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from . import signin, users
from .cookies import COOKIE_NAME, clear_cookie, session_cookie
from .csrf import CSRF_FIELD, csrf_ok
from .guard import EXTENSION, Guard, current_session, guard, has_role
from .headers import apply_security_headers

#: Endpoints reachable without signing in.
PUBLIC_ENDPOINTS = {"auth.login", "auth.login_post", "static"}
#: The query parameter of a page's self-refresh (its meta refresh URL carries ``auto=1``).
AUTO_REFRESH = "auto"
#: Endpoints a user with a one-time password may reach before choosing a new one.
PASSWORD_CHANGE_ENDPOINTS = {"auth.password", "auth.password_post", "auth.logout", "static"}


def install(app: Flask, security: Guard, *, user_admin: bool = True) -> None:
    """Put ``security`` in the app and wire the hooks, sign-in views and user admin views."""
    app.extensions[EXTENSION] = security
    app.register_blueprint(signin.bp)
    if user_admin:
        app.register_blueprint(users.bp)
    app.before_request(load_session)
    app.before_request(check_csrf)
    app.before_request(require_sign_in)
    app.after_request(finish_response)
    app.register_error_handler(HTTPException, http_error)
    app.jinja_env.globals.update(csrf_field=CSRF_FIELD, has_role=has_role)
    app.context_processor(template_context)


def load_session() -> None:
    c = guard()
    token = request.cookies.get(COOKIE_NAME)
    found = c.sessions.lookup(token, touch=not is_auto_refresh())
    g.session, g.token = found.session, token if found.session else None
    g.expired = found.expired
    if found.expired and found.ended is not None and found.ended.user:
        c.record("web.logout", user=found.ended.user, reason=f"{found.expired}_timeout")
        c.signed_out(found.ended.user)
    s = found.session
    if s is not None and s.user:
        # Accounts can change under a live session (removed, new password, new role), from
        # this UI or from the console: the account store decides on every request.
        account = c.accounts.get(s.user)
        if account is None or account.password_changed_at != s.password_stamp:
            c.sessions.drop(token)
            c.record("web.logout", user=s.user, reason="account_changed")
            c.signed_out(s.user)
            g.session, g.token = None, None
        else:
            s.role = account.role
            s.must_change_password = account.must_change_password
    if token and g.session is None:
        g.clear_cookie = True


def is_auto_refresh() -> bool:
    """A page's own timed reload (``?auto=1``, see :data:`AUTO_REFRESH`) does not keep its
    session alive: a tablet left on the status page still signs out when idle. Anyone may
    add the parameter; it only gives up the extension of their own session."""
    return request.method == "GET" and request.args.get(AUTO_REFRESH) == "1"


def check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    s = current_session()
    submitted = request.form.get(CSRF_FIELD)
    if s is None or not csrf_ok(s.csrf, submitted):
        abort(400, description="This form has expired or was not sent by these pages. "
                               "Reload the page and try again.")


def require_sign_in() -> Any:
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


def finish_response(response: Response) -> Response:
    apply_security_headers(response.headers)
    if g.get("set_cookie") and g.get("token"):
        response.headers.add("Set-Cookie", session_cookie(g.token))
    elif g.get("clear_cookie"):
        response.headers.add("Set-Cookie", clear_cookie())
    return response


def http_error(exc: HTTPException) -> Response:
    """Errors are pages too: same layout, same headers, no stack traces."""
    code = exc.code or 500
    response = make_response(render_template("error.html", code=code, name=exc.name,
                                             description=exc.description), code)
    valid = getattr(exc, "valid_methods", None)
    if code == 405 and valid:
        response.headers["Allow"] = ", ".join(valid)
    return response


def template_context() -> dict[str, Any]:
    s = current_session()
    return {
        "session_user": s.user if s else None,
        "session_role": s.role if s else None,
        "csrf_token": s.csrf if s else "",
        "landing": guard().landing,
        "place": guard().place,
    }
