"""Sign in, sign out and change one's own password: the ``auth`` blueprint of both web UIs.

A sign-in is throttled per (account, address) and per address before the password is even
checked (see :mod:`.throttle`), and the sign-in page says so before the first attempt; every
outcome is an audit event (the name typed is recorded only if such an account exists, because
people sometimes type their password into the name field).
"""

from __future__ import annotations

import math

from flask import Blueprint, abort, g, make_response, redirect, render_template, request, url_for

from . import throttle
from .accounts import MIN_PASSWORD, PASSWORD_RULE, AccountError, check_password
from .guard import anonymous_session, current_session, end_session, guard, start_session
from .redirects import safe_next, unsafe_next

#: Its templates (shared with the error page) extend the app's own ``base.html``.
bp = Blueprint("auth", __name__, template_folder="templates")

EXPIRED_MESSAGES = {
    "idle": "You were signed out after a period of inactivity.",
    "absolute": "Your session reached its maximum length; please sign in again.",
}


#: Shown under the sign-in form, so nobody learns the rule by being locked out.
THROTTLE_RULE = (f"After {throttle.FREE_FAILURES} wrong passwords, sign-in to that account "
                 "from this device waits 30 seconds, then longer with each further mistake.")


@bp.app_context_processor
def _rules() -> dict[str, object]:
    """The password and sign-in rules, for every page that asks for a password."""
    return {"password_rule": PASSWORD_RULE, "password_min": MIN_PASSWORD,
            "throttle_rule": THROTTLE_RULE}


def _client() -> str:
    return request.remote_addr or "unknown"


def _refuse_unsafe_next(target: str | None) -> None:
    """A ``next`` with a control character is an attack, not a mistake: 400, before any
    session state exists for it (see :mod:`.redirects`)."""
    if unsafe_next(target):
        abort(400, description="This address cannot be used to sign in.")


@bp.get("/login")
def login():
    _refuse_unsafe_next(request.args.get("next"))
    s = current_session()
    if s is not None and s.user:
        return redirect(url_for(guard().landing))
    anonymous_session()
    notice = EXPIRED_MESSAGES.get(request.args.get("expired", ""))
    return render_template("login.html", notice=notice,
                           next=safe_next(request.args.get("next")), name="")


@bp.post("/login")
def login_post():
    _refuse_unsafe_next(request.form.get("next"))
    c = guard()
    name = request.form.get("username", "").strip().lower()
    password = request.form.get("password", "")
    target = safe_next(request.form.get("next"))
    client = _client()
    wait = c.throttle.retry_after(name, client)
    if wait > 0:
        c.record("web.login_throttled", client=client,
                 **({"user": name} if c.accounts.get(name) else {}))
        seconds = math.ceil(wait)
        response = make_response(render_template(
            "login.html", name=name, next=target,
            error=f"Too many failed sign-ins. Try again in {_human(seconds)}."), 429)
        response.headers["Retry-After"] = str(seconds)
        return response
    account = c.accounts.verify(name, password)
    if account is None:
        c.throttle.failure(name, client)
        known = c.accounts.get(name) is not None
        c.record("web.login_failed", client=client, **({"user": name} if known else
                                                  {"unknown_user": True}))
        return render_template("login.html", name=name, next=target,
                               error="Wrong user name or password."), 401
    c.throttle.success(name, client)
    start_session(account)
    c.record("web.login", user=account.name, role=account.role, client=client)
    if c.on_sign_in is not None:
        c.on_sign_in(account.name)
    if account.must_change_password:
        return redirect(url_for("auth.password"))
    return redirect(target)


@bp.post("/logout")
def logout():
    c = guard()
    user = current_session().user
    end_session()
    c.record("web.logout", user=user, reason="user")
    c.signed_out(user)
    return redirect(url_for("auth.login"))


@bp.get("/account/password")
def password():
    return render_template("password.html", forced=current_session().must_change_password)


@bp.post("/account/password")
def password_post():
    c = guard()
    s = current_session()
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    repeat = request.form.get("repeat_password", "")
    error = None
    if c.accounts.verify(s.user, current) is None:
        error = "The current password is not right."
    elif new != repeat:
        error = "The two new passwords differ."
    elif new == current:
        error = "Choose a password different from the current one."
    else:
        try:
            check_password(new, s.user)
            c.accounts.set_password(s.user, new)
        except AccountError as exc:
            error = str(exc)
    if error:
        return render_template("password.html", forced=s.must_change_password,
                               error=error), 400
    c.record("web.password_changed", user=s.user, by=s.user)
    # Every other session of this user ends; this one continues with a fresh id.
    c.sessions.drop_user(s.user, keep=g.token)
    start_session(c.accounts.get(s.user))
    return redirect(url_for(c.landing, notice="password_changed"))


def _human(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
