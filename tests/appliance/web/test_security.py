"""Every route's authentication, role checks, CSRF and headers, through the Flask test client.

The route table below must name every route the app has (a test checks that), so a new page
cannot arrive without its access rule being tested.
"""

from __future__ import annotations

import pytest

from websecurity.headers import CONTENT_SECURITY_POLICY

from .conftest import PASSWORDS

CID = "{cid}"
# (method, path, minimum role or None for public, form data for POSTs)
ROUTES = [
    ("GET", "/login", None, None),
    ("POST", "/login", None, {"username": "nobody", "password": "wrong-password"}),
    ("GET", "/", "nurse", None),
    ("GET", "/review", "nurse", None),
    ("GET", f"/captures/{CID}", "nurse", None),
    ("GET", f"/captures/{CID}/image", "nurse", None),
    ("GET", f"/captures/{CID}/preview", "nurse", None),
    ("POST", f"/captures/{CID}/amend", "nurse", {"note": "checked"}),
    ("POST", f"/captures/{CID}/discard", "nurse",
     {"reason": "poor_quality", "confirm": "yes"}),
    ("POST", "/session/tags", "nurse", {"consent": "teaching"}),
    ("POST", "/demo/press", "nurse", {}),
    ("GET", "/account/password", "nurse", None),
    ("POST", "/account/password", "nurse", {"current_password": "x"}),
    ("POST", "/logout", "nurse", {}),
    ("GET", "/admin/users", "admin", None),
    ("POST", "/admin/users", "admin", {"username": "newbie", "role": "nurse",
                                       "password": "newbie-password-9"}),
    ("POST", "/admin/users/nina/remove", "admin", {}),
    ("POST", "/admin/users/nina/role", "admin", {"role": "reviewer"}),
    ("POST", "/admin/users/nina/password", "admin", {"password": "reset-password-77"}),
    ("GET", "/admin/audit", "admin", None),
    ("GET", "/admin/station", "admin", None),
]
LEVEL = {"nurse": 0, "reviewer": 1, "admin": 2}
USER_OF = {"nurse": "nina", "reviewer": "rita", "admin": "adam"}


def _rule(path: str) -> str:
    return (path.replace(CID, "<capture_id>").replace("/nina/", "/<name>/"))


def test_route_table_covers_every_route(rig):
    actual = set()
    for rule in rig.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            actual.add((method, rule.rule))
    assert actual == {(m, _rule(p)) for m, p, _, _ in ROUTES}


@pytest.mark.parametrize(("method", "path", "role", "data"),
                         [r for r in ROUTES if r[2] is not None],
                         ids=[f"{m} {p}" for m, p, r, _ in ROUTES if r is not None])
def test_signed_out_requests_are_refused_and_change_nothing(rig, method, path, role, data):
    cid = rig.capture()
    before = rig.audit_events()
    browser = rig.client()
    browser.get("/login")  # an anonymous session with a valid CSRF token
    path = path.format(cid=cid)
    if method == "GET":
        response = browser.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
        assert cid not in response.headers["Location"] or "/captures/" in path
    else:
        response = browser.post(path, data)
        assert response.status_code == 401
    assert rig.vault.list_captures()[0].capture_id == cid
    assert len(rig.accounts.list()) == 3
    assert rig.presses == [] and rig.events == []
    after = rig.audit_events()
    assert [e["event"] for e in after[len(before):]] == []


@pytest.mark.parametrize("user_role", ["nurse", "reviewer", "admin"])
def test_roles_reach_exactly_their_routes(rig, user_role):
    cid = rig.capture()
    browser = rig.client()
    browser.login(USER_OF[user_role])
    for method, path, role, _data in ROUTES:
        if role is None or method != "GET":
            continue
        response = browser.get(path.format(cid=cid))
        allowed = LEVEL[user_role] >= LEVEL[role]
        assert response.status_code == (200 if allowed else 403), (path, user_role)


@pytest.mark.parametrize("user_role", ["nurse", "reviewer"])
def test_admin_posts_are_forbidden_below_admin(rig, user_role):
    browser = rig.client()
    browser.login(USER_OF[user_role])
    for method, path, role, data in ROUTES:
        if method == "POST" and role == "admin":
            response = browser.post(path, data)
            assert response.status_code == 403, path
    assert {a.name: a.role for a in rig.accounts.list()} == {
        "nina": "nurse", "rita": "reviewer", "adam": "admin"}


@pytest.mark.parametrize(("method", "path", "role", "data"),
                         [r for r in ROUTES if r[0] == "POST"],
                         ids=[f"{p}" for m, p, r, _ in ROUTES if m == "POST"])
@pytest.mark.parametrize("token", ["missing", "wrong", "other-session"])
def test_every_post_needs_this_sessions_csrf_token(rig, method, path, role, data, token):
    cid = rig.capture()
    browser = rig.client()
    browser.login("adam")
    data = dict(data or {})
    if token == "wrong":
        data["csrf_token"] = "x" * 43
    elif token == "other-session":
        other = rig.client()
        other.get("/login")
        data["csrf_token"] = other.token
    before = len(rig.audit_events())
    response = browser.post(path.format(cid=cid), data, csrf=token != "missing")
    assert response.status_code == 400
    assert "form has expired" in response.get_data(as_text=True)
    # nothing happened: no audit event, capture intact, users intact, still signed in
    assert len(rig.audit_events()) == before
    assert [c.capture_id for c in rig.vault.list_captures()] == [cid]
    assert len(rig.accounts.list()) == 3
    assert browser.get("/").status_code == 200


def test_get_never_changes_state(rig):
    cid = rig.capture()
    browser = rig.client()
    browser.login("adam")
    has_get = {p for m, p, _r, _d in ROUTES if m == "GET"}
    for method, path, _role, _data in ROUTES:
        if method == "POST" and path not in has_get:
            response = browser.get(path.format(cid=cid))
            assert response.status_code == 405, path
    assert browser.get("/").status_code == 200  # still signed in: GET /logout did nothing
    assert rig.vault.list_captures()[0].capture_id == cid
    assert len(rig.accounts.list()) == 3 and rig.presses == []


def _check_headers(response):
    h = response.headers
    assert h["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'none'" in h["Content-Security-Policy"]
    assert "'unsafe-inline'" not in h["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Cache-Control"] == "no-store"
    assert h["Strict-Transport-Security"].startswith("max-age=")
    assert h["X-Frame-Options"] == "DENY"
    assert h["Referrer-Policy"] == "no-referrer"


def test_security_headers_on_every_response(rig):
    cid = rig.capture()
    browser = rig.client()
    seen = set()
    for path in ("/login", "/", "/static/style.css", "/no-such-page"):
        response = browser.get(path)
        _check_headers(response)
        seen.add(response.status_code)
    _check_headers(browser.post("/login", {"username": "adam", "password": "bad-password"}))
    _check_headers(browser.post("/login", {"username": "adam"}, csrf=False))  # 400
    browser.login("nina")
    for method, path, _role, _data in ROUTES:
        if method == "GET":
            response = browser.get(path.format(cid=cid))
            _check_headers(response)
            seen.add(response.status_code)
    for response in (browser.get("/captures/not-a-capture-id"),  # 404
                     browser.post("/admin/users/nina/remove", {}),  # 403 for a nurse
                     browser.post("/review", {})):  # 405
        _check_headers(response)
        seen.add(response.status_code)
    assert {200, 302, 401, 403, 404, 405} <= seen


def test_pages_carry_no_inline_script_or_external_asset(rig):
    rig.capture()
    browser = rig.client()
    browser.login("adam")
    for path in ("/", "/review", "/admin/users", "/admin/audit", "/admin/station",
                 "/account/password"):
        html = browser.get(path).get_data(as_text=True)
        assert "<script" not in html.lower()
        assert " on" + "click=" not in html.lower() and "style=" not in html.lower()
        assert "http://" not in html and "https://" not in html.replace(
            "https://0.0.0.0:8443/", "")


def test_session_cookie_attributes_and_rotation_at_sign_in(rig):
    browser = rig.client()
    first = browser.get("/login")
    anonymous = first.headers["Set-Cookie"]
    assert anonymous.startswith("__Host-capture-session=")
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=Strict"):
        assert attribute in anonymous
    assert "Domain" not in anonymous and "Max-Age" not in anonymous
    old_value = browser.cookie().value
    response = browser.post("/login", {"username": "nina", "password": PASSWORDS["nina"]})
    assert response.status_code == 302
    new_cookie = response.headers["Set-Cookie"]
    assert "Secure" in new_cookie and "HttpOnly" in new_cookie and "SameSite=Strict" in new_cookie
    assert browser.cookie().value != old_value  # no session fixation


def test_sign_out_ends_the_session_for_good(rig):
    browser = rig.client()
    browser.login("nina")
    stolen = browser.cookie().value
    assert browser.post("/logout", {}).status_code == 302
    replay = rig.client()
    replay.c.set_cookie("__Host-capture-session", stolen, domain="station.test")
    assert replay.get("/").status_code == 302
    events = [e["event"] for e in rig.audit_events()]
    assert "web.login" in events and "web.logout" in events


def test_idle_timeout_signs_out_and_activity_keeps_the_session(rig):
    browser = rig.client()
    browser.login("nina")
    for _ in range(4):  # active every 14 minutes: still signed in after 56 minutes
        rig.clock.advance(14 * 60)
        assert browser.get("/").status_code == 200
    rig.clock.advance(15 * 60)
    response = browser.get("/")
    assert response.status_code == 302
    assert "expired=idle" in response.headers["Location"]
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "inactivity" in page
    logout = [e for e in rig.audit_events() if e["event"] == "web.logout"]
    assert logout[-1]["fields"] == {"reason": "idle_timeout", "user": "nina"}


def test_absolute_timeout_ends_even_an_active_session(rig):
    browser = rig.client()
    browser.login("nina")
    for _ in range(8 * 6 - 1):  # every 10 minutes for just under 8 hours
        rig.clock.advance(10 * 60)
        assert browser.get("/review").status_code == 200
    rig.clock.advance(10 * 60)
    response = browser.get("/review")
    assert response.status_code == 302 and "expired=absolute" in response.headers["Location"]


def test_timeouts_come_from_config(tmp_path, account_template):
    import shutil

    from appliance.paths import StatePaths
    from appliance.web.accounts import ROLES
    from appliance.web.app import create_app
    from tests.websecurity.fakes import FakeClock
    from websecurity.accounts import Accounts

    from .conftest import make_config

    cfg = make_config(tmp_path, idle_timeout_minutes=2, absolute_timeout_hours=1)
    paths = StatePaths(cfg.state_dir)
    paths.ensure()
    shutil.copy(account_template, paths.root / "accounts.db")
    clock = FakeClock()
    app = create_app(vault=None, accounts=Accounts(paths.root / "accounts.db", ROLES),
                     audit=_ListAudit(), status=dict, config=cfg, clock=clock)
    from .conftest import Browser

    browser = Browser(app.test_client())
    browser.login("nina")
    clock.advance(119)
    assert browser.get("/").status_code == 200
    clock.advance(121)
    assert browser.get("/").status_code == 302


class _ListAudit:
    def __init__(self):
        self.events = []

    def record(self, event, **fields):
        self.events.append((event, fields))


def test_login_throttled_after_five_failures_with_growing_delay(rig):
    browser = rig.client()
    browser.get("/login")
    for _ in range(5):
        response = browser.post("/login", {"username": "nina", "password": "wrong-guess-1"})
        assert response.status_code == 401
    # the sixth try is refused without checking the password, even the right one
    response = browser.post("/login", {"username": "nina", "password": PASSWORDS["nina"]})
    assert response.status_code == 429
    first_wait = int(response.headers["Retry-After"])
    assert first_wait > 0
    rig.clock.advance(first_wait)
    response = browser.post("/login", {"username": "nina", "password": "wrong-guess-2"})
    assert response.status_code == 401
    response = browser.post("/login", {"username": "nina", "password": PASSWORDS["nina"]})
    assert response.status_code == 429
    second_wait = int(response.headers["Retry-After"])
    assert second_wait > first_wait
    rig.clock.advance(second_wait)
    assert browser.post("/login", {"username": "nina",
                                   "password": PASSWORDS["nina"]}).status_code == 302
    events = [e["event"] for e in rig.audit_events()]
    assert events.count("web.login_failed") == 6
    assert events.count("web.login_throttled") == 2


def test_failures_from_other_clients_never_lock_the_account(rig):
    for i in range(6):
        browser = rig.client()
        browser.get("/login")
        browser.c.environ_base["REMOTE_ADDR"] = f"10.0.0.{i + 1}"
        browser.post("/login", {"username": "rita", "password": "wrong-guess-x"})
    # six wrong passwords from elsewhere: the real user, at her own address, signs in
    other = rig.client()
    other.c.environ_base["REMOTE_ADDR"] = "10.0.0.99"
    other.get("/login")
    response = other.post("/login", {"username": "rita", "password": PASSWORDS["rita"]})
    assert response.status_code == 302


def test_throttle_is_per_client_across_accounts(rig):
    browser = rig.client()
    browser.c.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    browser.get("/login")
    for i in range(20):
        assert browser.post("/login", {"username": f"user{i}",
                                       "password": "whatever-pass"}).status_code == 401
    response = browser.post("/login", {"username": "adam", "password": PASSWORDS["adam"]})
    assert response.status_code == 429
    elsewhere = rig.client()
    elsewhere.c.environ_base["REMOTE_ADDR"] = "10.9.9.10"
    elsewhere.login("adam")


def test_failed_login_does_not_say_which_part_was_wrong(rig):
    browser = rig.client()
    browser.get("/login")
    unknown = browser.post("/login", {"username": "nobody", "password": "wrong-password"})
    known = browser.post("/login", {"username": "nina", "password": "wrong-password"})
    assert unknown.status_code == known.status_code == 401
    text = "Wrong user name or password."
    assert text in unknown.get_data(as_text=True) and text in known.get_data(as_text=True)
    failed = [e["fields"] for e in rig.audit_events() if e["event"] == "web.login_failed"]
    assert failed[0].get("unknown_user") is True and "user" not in failed[0]
    assert failed[1]["user"] == "nina"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_no_open_redirect_after_sign_in(rig, target):
    browser = rig.client()
    browser.get("/login")
    response = browser.post("/login", {"username": "nina", "password": PASSWORDS["nina"],
                                       "next": target})
    assert response.headers["Location"] == "/"


def test_sign_in_returns_to_the_page_asked_for(rig):
    browser = rig.client()
    response = browser.get("/review")
    browser.get(response.headers["Location"])
    response = browser.post("/login", {"username": "nina", "password": PASSWORDS["nina"],
                                       "next": "/review"})
    assert response.headers["Location"] == "/review"


def test_one_time_password_must_be_changed_first(rig):
    rig.accounts.add("olga", "nurse", password="one-time-pass-1", one_time=True)
    browser = rig.client()
    browser.get("/login")
    response = browser.post("/login", {"username": "olga", "password": "one-time-pass-1"})
    assert response.headers["Location"] == "/account/password"
    assert browser.get("/review").headers["Location"] == "/account/password"
    assert "one-time password" in browser.get("/account/password").get_data(as_text=True)
    assert browser.post("/session/tags", {"consent": "teaching"}).status_code == 403
    bad = browser.post("/account/password", {"current_password": "one-time-pass-1",
                                              "new_password": "short",
                                              "repeat_password": "short"})
    assert bad.status_code == 400 and "needs at least 12" in bad.get_data(as_text=True)
    ok = browser.post("/account/password", {"current_password": "one-time-pass-1",
                                             "new_password": "my-own-secret-22",
                                             "repeat_password": "my-own-secret-22"})
    assert ok.status_code == 302
    assert browser.get("/review").status_code == 200
    assert rig.accounts.verify("olga", "my-own-secret-22") is not None
    assert not rig.accounts.get("olga").must_change_password


def test_account_changes_end_live_sessions(rig):
    nurse = rig.client()
    nurse.login("nina")
    admin = rig.client()
    admin.login("adam")
    # a new role applies at the nurse's next request
    admin.get("/admin/users")
    assert admin.post("/admin/users/nina/role", {"role": "admin"}).status_code == 302
    assert nurse.get("/admin/users").status_code == 200
    assert admin.post("/admin/users/nina/role", {"role": "nurse"}).status_code == 302
    assert nurse.get("/admin/users").status_code == 403
    # a password reset by an admin ends the nurse's session
    admin.post("/admin/users/nina/password", {"password": "reset-password-77"})
    assert nurse.get("/").status_code == 302
    # a removal from the console (another process) ends a session too
    nurse.login("nina", "reset-password-77")
    from appliance.web.accounts import ROLES
    from websecurity.accounts import Accounts

    Accounts(rig.accounts.path, ROLES).remove("nina")
    assert nurse.get("/").status_code == 302
    reasons = [e["fields"].get("reason") for e in rig.audit_events()
               if e["event"] == "web.logout"]
    assert reasons.count("account_changed") == 1  # the UI reset ended it directly


def test_sign_in_names_the_operator_and_sign_out_clears_it(rig):
    from appliance.workflow import OperatorLogin

    browser = rig.client()
    browser.login("nina")
    assert rig.events == [OperatorLogin("nina")]
    assert rig.workflow.operator == "nina"
    browser.post("/logout", {})
    assert rig.events[-1] == OperatorLogin(None)
    assert rig.workflow.operator is None


def test_control_characters_in_next_are_refused_before_any_session(rig):
    from tests.websecurity.unsafe_next import assert_unsafe_next_refused

    assert_unsafe_next_refused(rig.app, rig.client())
