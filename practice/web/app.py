"""The practice UI's Flask app factory: everything it touches is handed in.

``create_app`` receives the patient-file index, the receiver's station store, the account
store (practice roles: clinician, records, admin) and the practice audit log, so the same app
runs under ``capture-receiver serve``, the demo, the tests and the bench. It only assembles:
the views are the blueprints; the rules every request follows, the sign-in and user admin
views are the shared :mod:`websecurity.hooks` (exactly as the station's UI installs them).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

from websecurity.accounts import Accounts
from websecurity.guard import Guard
from websecurity.hooks import install
from websecurity.sessions import SessionStore
from websecurity.throttle import LoginThrottle

from . import admin, media, patients, records
from .context import EXTENSION, PracticeContext, ctx
from .display import register_filters

BLUEPRINTS = (patients.bp, media.bp, records.bp, admin.bp)
IDLE_MINUTES = 15
ABSOLUTE_HOURS = 10


def create_app(
    *,
    index: Any,
    stations: Any,
    accounts: Accounts,
    audit: Any,
    tz: dt.tzinfo = dt.UTC,
    local_formats: tuple[Any, ...] = (),
    practice_name: str = "practice",
    testing: bool = False,
    clock: Callable[[], float] = time.monotonic,
    throttle: LoginThrottle | None = None,
    idle_minutes: float = IDLE_MINUTES,
    absolute_hours: float = ABSOLUTE_HOURS,
) -> Flask:
    """Build the practice UI (see :class:`~.context.PracticeContext` for the parts).

    ``tz`` is the practice's time zone (every time is shown in it); ``clock`` is a monotonic
    clock for session timeouts and throttling (tests pass a fake one).
    """
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        TESTING=testing,
        SECRET_KEY=secrets.token_bytes(32),  # Flask's cookie session is not used
        MAX_CONTENT_LENGTH=64 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=0,
        PREFERRED_URL_SCHEME="https",
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions[EXTENSION] = PracticeContext(
        index=index, stations=stations, audit=audit, tz=tz,
        local_formats=tuple(local_formats), practice_name=practice_name)
    install(app, Guard(
        accounts=accounts,
        sessions=SessionStore(clock, idle_seconds=idle_minutes * 60,
                              absolute_seconds=absolute_hours * 3600),
        throttle=throttle or LoginThrottle(clock),
        record=lambda event, **fields: ctx().record(event, **fields),
        landing="patients.index", place="practice server"))
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    register_filters(app)
    app.context_processor(lambda: {"practice_name": ctx().practice_name})
    return app
