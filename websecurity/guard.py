"""One web UI's sign-in state in Flask: the security pieces, the signed-in user, role checks.

Both UIs (the station's review UI and the practice's patient file) protect their pages the
same way, so the part of a Flask app that knows who is signed in lives here once.
:func:`websecurity.hooks.install` puts a :class:`Guard` in ``app.extensions``; views reach it
through :func:`guard` and ask :func:`current_session`, :func:`current_user`, :func:`has_role`
or decorate themselves with :func:`requires`. What each UI does at sign-in and sign-out (the
station names its operator) is a callback, and every audit event goes through
``Guard.record``, which raises when the log cannot take it (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import abort, current_app, g

from .accounts import Account, Accounts
from .sessions import Session, SessionStore
from .throttle import LoginThrottle

EXTENSION = "websecurity"
#: ``requires(TOP_ROLE)``: the last role of the app's ladder, whatever the app calls it.
TOP_ROLE = "<top role>"


@dataclass
class Guard:
    """What the sign-in views and the request hooks share (``app.extensions['websecurity']``).

    ``record(event, **fields)`` writes an audit event and raises if it cannot; ``landing`` is
    the endpoint a signed-in user is sent to (it accepts a ``notice`` argument); ``place``
    names the machine in the shared templates;
    ``on_sign_in``/``on_sign_out`` receive the user name when a session of theirs starts or
    ends (sign-out, timeout, account change).
    """

    accounts: Accounts
    sessions: SessionStore
    throttle: LoginThrottle
    record: Callable[..., Any]
    landing: str
    #: What the pages call the program's machine ("station", "practice server").
    place: str = "server"
    on_sign_in: Callable[[str], Any] | None = None
    on_sign_out: Callable[[str], Any] | None = None

    def signed_out(self, user: str) -> None:
        if self.on_sign_out is not None:
            self.on_sign_out(user)


def guard() -> Guard:
    return current_app.extensions[EXTENSION]


def current_session() -> Session | None:
    return g.get("session")


def current_user() -> str | None:
    s = current_session()
    return s.user if s is not None else None


def has_role(role: str) -> bool:
    s = current_session()
    return bool(s and s.user and guard().accounts.roles.at_least(s.role, role))


def requires(role: str) -> Callable:
    """View decorator: the signed-in user's role must be ``role`` or above (else 403).

    The role is checked against the app's role ladder on each request (``TOP_ROLE`` is its
    last one); the route-table tests of each UI call every view, so a misspelt role cannot go
    unnoticed.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            s = current_session()
            if s is None or s.user is None:
                abort(401)
            roles = guard().accounts.roles
            if not roles.at_least(s.role, roles.admin if role == TOP_ROLE else role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped

    return decorate


def start_session(account: Account) -> Session:
    """Sign in: a fresh session id (never reuse the anonymous one: no fixation)."""
    sessions = guard().sessions
    sessions.drop(g.get("token"))
    token, session = sessions.new(user=account.name, role=account.role,
                                  must_change_password=account.must_change_password,
                                  password_stamp=account.password_changed_at)
    g.session, g.token, g.set_cookie = session, token, True
    return session


def end_session() -> None:
    guard().sessions.drop(g.get("token"))
    g.session, g.token, g.clear_cookie = None, None, True


def anonymous_session() -> Session:
    """The current session, or a new anonymous one (it holds the sign-in form's CSRF token)."""
    s = current_session()
    if s is None:
        token, s = guard().sessions.new()
        g.session, g.token, g.set_cookie = s, token, True
    return s
