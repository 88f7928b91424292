"""Admin pages: users, the audit log with its chain verification, and station facts.

User changes end the affected user's sessions at once (a removed nurse is signed out on the
next request, not at the end of the day). The last admin cannot be removed or demoted, so the
station can never be left without someone able to manage it.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from websecurity.accounts import AccountError

from .accounts import ROLES
from .context import ctx, current_user, requires
from .vaultview import audit_entries, verify_audit

bp = Blueprint("admin", __name__)

AUDIT_PAGE = 100
NOTICES = {
    "added": "User added.",
    "removed": "User removed; their sessions ended.",
    "role": "Role changed.",
    "password": "Password reset; the user must choose a new one at next sign-in.",
}


@bp.get("/admin/users")
@requires("admin")
def users():
    return render_template("users.html", users=ctx().accounts.list(), roles=ROLES,
                           notice=NOTICES.get(request.args.get("notice", "")),
                           me=current_user())


def _user_error(message: str):
    return render_template("users.html", users=ctx().accounts.list(), roles=ROLES,
                           error=message, me=current_user()), 400


@bp.post("/admin/users")
@requires("admin")
def add_user():
    c = ctx()
    name = request.form.get("username", "").strip().lower()
    role = request.form.get("role", "")
    password = request.form.get("password", "")
    try:
        c.accounts.add(name, role, password=password, one_time=True)
    except AccountError as exc:
        return _user_error(str(exc))
    c.record("web.user_added", user=name, role=role, by=current_user())
    return redirect(url_for("admin.users", notice="added"))


@bp.post("/admin/users/<name>/remove")
@requires("admin")
def remove_user(name: str):
    c = ctx()
    if name == current_user():
        return _user_error("You cannot remove your own account while signed in with it.")
    try:
        c.accounts.remove(name)
    except AccountError as exc:
        return _user_error(str(exc))
    c.sessions.drop_user(name)
    c.record("web.user_removed", user=name, by=current_user())
    return redirect(url_for("admin.users", notice="removed"))


@bp.post("/admin/users/<name>/role")
@requires("admin")
def set_role(name: str):
    c = ctx()
    role = request.form.get("role", "")
    try:
        c.accounts.set_role(name, role)
    except AccountError as exc:
        return _user_error(str(exc))
    c.record("web.user_role_changed", user=name, role=role, by=current_user())
    return redirect(url_for("admin.users", notice="role"))


@bp.post("/admin/users/<name>/password")
@requires("admin")
def reset_password(name: str):
    c = ctx()
    password = request.form.get("password", "")
    if c.accounts.get(name) is None:
        abort(404)
    try:
        c.accounts.set_password(name, password, one_time=True)
    except AccountError as exc:
        return _user_error(str(exc))
    c.sessions.drop_user(name)
    c.record("web.user_password_reset", user=name, by=current_user())
    return redirect(url_for("admin.users", notice="password"))


@bp.get("/admin/audit")
@requires("admin")
def audit():
    c = ctx()
    verification = verify_audit(c.audit)
    c.record("web.audit_verified", user=current_user(), ok=verification.ok)
    entries = audit_entries(c.audit, limit=AUDIT_PAGE)
    return render_template("audit.html", verification=verification, entries=entries,
                           limit=AUDIT_PAGE)


@bp.get("/admin/station")
@requires("admin")
def station():
    c = ctx()
    info = c.station_info() if c.station_info else {}
    return render_template("station.html", info=info)
