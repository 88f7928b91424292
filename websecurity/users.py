"""User admin views (the ``users`` blueprint): list, add, remove, change role, reset password.

Both UIs manage their staff the same way; only the roles differ (the account store's own).
User changes end the affected user's sessions at once (a removed user is signed out on the
next request, not at the end of the day). The last admin cannot be removed or demoted, so a
UI can never be left without someone able to manage it. New and reset passwords are one-time:
the user chooses their own at the next sign-in.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from .accounts import AccountError
from .guard import TOP_ROLE, current_user, guard, requires

bp = Blueprint("users", __name__, template_folder="templates")

NOTICES = {
    "added": "User added.",
    "removed": "User removed; their sessions ended.",
    "role": "Role changed.",
    "password": "Password reset; the user must choose a new one at next sign-in.",
}


def _page(**extra: object) -> str:
    accounts = guard().accounts
    return render_template("users.html", users=accounts.list(), roles=accounts.roles,
                       me=current_user(), **extra)


def _error(message: str) -> tuple[str, int]:
    return _page(error=message), 400


@bp.get("/admin/users")
@requires(TOP_ROLE)
def users():
    return _page(notice=NOTICES.get(request.args.get("notice", "")))


@bp.post("/admin/users")
@requires(TOP_ROLE)
def add_user():
    c = guard()
    name = request.form.get("username", "").strip().lower()
    role = request.form.get("role", "")
    try:
        c.accounts.add(name, role, password=request.form.get("password", ""),
                       one_time=True)
    except AccountError as exc:
        return _error(str(exc))
    c.record("web.user_added", user=name, role=role, by=current_user())
    return redirect(url_for("users.users", notice="added"))


@bp.post("/admin/users/<name>/remove")
@requires(TOP_ROLE)
def remove_user(name: str):
    c = guard()
    if name == current_user():
        return _error("You cannot remove your own account while signed in with it.")
    try:
        c.accounts.remove(name)
    except AccountError as exc:
        return _error(str(exc))
    c.sessions.drop_user(name)
    c.record("web.user_removed", user=name, by=current_user())
    return redirect(url_for("users.users", notice="removed"))


@bp.post("/admin/users/<name>/role")
@requires(TOP_ROLE)
def set_role(name: str):
    c = guard()
    role = request.form.get("role", "")
    try:
        c.accounts.set_role(name, role)
    except AccountError as exc:
        return _error(str(exc))
    c.record("web.user_role_changed", user=name, role=role, by=current_user())
    return redirect(url_for("users.users", notice="role"))


@bp.post("/admin/users/<name>/password")
@requires(TOP_ROLE)
def reset_password(name: str):
    c = guard()
    if c.accounts.get(name) is None:
        abort(404)
    try:
        c.accounts.set_password(name, request.form.get("password", ""), one_time=True)
    except AccountError as exc:
        return _error(str(exc))
    c.sessions.drop_user(name)
    c.record("web.user_password_reset", user=name, by=current_user())
    return redirect(url_for("users.users", notice="password"))
