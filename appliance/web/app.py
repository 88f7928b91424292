"""The review UI's Flask app factory: everything it touches is handed in.

``create_app`` receives the vault, the account store, the audit log, a status callable and
(optionally) a way to send workflow events and a demo button, so the same app runs in the
station process, the demo and the tests. It only assembles: the views are the blueprints, the
rules every request follows, the sign-in and user admin views are the shared
:mod:`websecurity.hooks` (the practice's UI installs the same), what the views share is in
:mod:`.context`.
"""

from __future__ import annotations

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

from .. import __version__
from ..config import Config, defaults
from . import admin, review
from . import status as status_views
from .context import EXTENSION, WebContext, ctx, name_operator, release_operator
from .vaultview import audit_value, group_label, local_time, short_id
from .words import code_label, delivery_label, provenance_label, station_state

BLUEPRINTS = (status_views.bp, review.bp, admin.bp)


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
    ``tail``); ``status()`` returns the status page's facts (see docs/web-ui.md);
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
        vault=vault, accounts=accounts, audit=audit, status=status, cfg=cfg, clock=clock,
        workflow_events=workflow_events, demo_press=demo_press, station_info=station_info,
    )
    app.extensions[EXTENSION] = context
    install(app, Guard(
        accounts=accounts,
        sessions=SessionStore(clock, idle_seconds=cfg.web.idle_timeout_minutes * 60,
                              absolute_seconds=cfg.web.absolute_timeout_hours * 3600),
        throttle=throttle or LoginThrottle(clock),
        record=lambda event, **fields: ctx().record(event, **fields),
        landing="status.index", place="station", on_sign_in=name_operator,
        on_sign_out=release_operator))
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.jinja_env.globals.update(app_version=__version__)
    for template_filter in (local_time, group_label, short_id, code_label, delivery_label,
                            provenance_label, audit_value):
        app.add_template_filter(template_filter)
    app.jinja_env.globals.update(station_state=station_state)
    app.context_processor(_station_context)
    return app


def _station_context() -> dict[str, Any]:
    c = ctx()
    return {"station_name": c.cfg.station.name, "demo": c.demo_press is not None}
