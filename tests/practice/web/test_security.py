"""Every route of the practice UI: authentication, role, CSRF and headers.

The route table must name every route the app has (a test checks that), so a new page cannot
arrive without its access rule being tested -- the same bar as the station UI's table.
"""

from __future__ import annotations

import pytest

from websecurity.headers import CONTENT_SECURITY_POLICY

from .conftest import USER_OF

CID, REF, SID = "{cid}", "{ref}", "{sid}"
# (method, path, minimum role or None for public, form data for POSTs)
ROUTES = [
    ("GET", "/login", None, None),
    ("POST", "/login", None, {"username": "nobody", "password": "wrong-password"}),
    ("GET", "/", "clinician", None),
    ("POST", "/search", "clinician", {"q": "795123450000000015"}),
    ("GET", f"/patients/{REF}", "clinician", None),
    ("GET", f"/patients/{REF}/compare", "clinician", None),
    ("GET", f"/captures/{CID}", "clinician", None),
    ("GET", f"/captures/{CID}/image", "clinician", None),
    ("GET", f"/captures/{CID}/thumb", "clinician", None),
    ("GET", f"/captures/{CID}/download?purpose=clinical", "clinician", None),
    ("GET", "/recent", "clinician", None),
    ("GET", f"/stations/{SID}/captures", "clinician", None),
    ("GET", "/account/password", "clinician", None),
    ("POST", "/account/password", "clinician", {"current_password": "x"}),
    ("POST", "/logout", "clinician", {}),
    ("GET", "/records/retracted", "records", None),
    ("GET", f"/patients/{REF}/retracted", "records", None),
    ("POST", f"/patients/{REF}/consent", "records",
     {"withdraws": "publication", "confirm": "yes"}),
    ("GET", f"/patients/{REF}/export?purpose=clinical", "records", None),
    ("GET", "/admin/stations", "admin", None),
    ("POST", f"/admin/stations/{SID}/revoke", "admin", {}),
    ("GET", "/admin/audit", "admin", None),
    ("GET", "/admin/users", "admin", None),
    ("POST", "/admin/users", "admin", {"username": "newbie", "role": "clinician",
                                       "password": "newbie-password-9"}),
    ("POST", "/admin/users/cleo/remove", "admin", {}),
    ("POST", "/admin/users/cleo/role", "admin", {"role": "records"}),
    ("POST", "/admin/users/cleo/password", "admin", {"password": "reset-password-77"}),
]
LEVEL = {"clinician": 0, "records": 1, "admin": 2}
RULES = {CID: "<item_id>", REF: "<ref>", SID: "<station_id>", "/cleo/": "/<name>/",
         "/revoke": "/<action>"}


def _rule(path: str) -> str:
    path = path.split("?")[0]
    for concrete, rule in RULES.items():
        path = path.replace(concrete, rule)
    return path


def _fill(rig, path: str, cid: str) -> str:
    return path.format(cid=cid, ref=rig.ref(), sid=rig.station_id)


def _state(rig):
    return (rig.store.station(rig.station_id).status, len(rig.index.withdrawals(
        rig.index.patient_by_ref(rig.ref()).key)), {a.name: a.role for a in rig.accounts.list()})


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
    cid = rig.file()
    before, state = len(rig.audit_events()), _state(rig)
    browser = rig.client()
    browser.get("/login")  # an anonymous session with a valid CSRF token
    if method == "GET":
        response = browser.get(_fill(rig, path, cid))
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    else:
        response = browser.post(_fill(rig, path, cid), data)
        assert response.status_code == 401
    assert response.mimetype != "image/jpeg"
    assert _state(rig) == state
    assert rig.audit_events()[before:] == []


@pytest.mark.parametrize("user_role", ["clinician", "records", "admin"])
def test_roles_reach_exactly_their_routes(rig, user_role):
    cid = rig.file()
    browser = rig.client()
    browser.login(USER_OF[user_role])
    for method, path, role, _data in ROUTES:
        if role is None or method != "GET":
            continue
        response = browser.get(_fill(rig, path, cid))
        allowed = LEVEL[user_role] >= LEVEL[role]
        assert response.status_code == (200 if allowed else 403), (path, user_role)


@pytest.mark.parametrize("user_role", ["clinician", "records"])
def test_posts_above_ones_role_are_forbidden_and_change_nothing(rig, user_role):
    cid = rig.file()
    state = _state(rig)
    browser = rig.client()
    browser.login(USER_OF[user_role])
    for method, path, role, data in ROUTES:
        if method == "POST" and role is not None and LEVEL[role] > LEVEL[user_role]:
            assert browser.post(_fill(rig, path, cid), data).status_code == 403, path
    assert _state(rig) == state


@pytest.mark.parametrize(("method", "path", "role", "data"),
                         [r for r in ROUTES if r[0] == "POST"],
                         ids=[p for m, p, r, _ in ROUTES if m == "POST"])
@pytest.mark.parametrize("token", ["missing", "wrong", "other-session"])
def test_every_post_needs_this_sessions_csrf_token(rig, method, path, role, data, token):
    cid = rig.file()
    browser = rig.client()
    browser.login("ada")
    data = dict(data or {})
    if token == "wrong":
        data["csrf_token"] = "x" * 43
    elif token == "other-session":
        other = rig.client()
        other.get("/login")
        data["csrf_token"] = other.token
    before, state = len(rig.audit_events()), _state(rig)
    response = browser.post(_fill(rig, path, cid), data, csrf=token != "missing")
    assert response.status_code == 400
    assert "form has expired" in response.get_data(as_text=True)
    assert len(rig.audit_events()) == before and _state(rig) == state
    assert browser.get("/").status_code == 200  # still signed in


def test_get_never_changes_state(rig):
    cid = rig.file()
    browser = rig.client()
    browser.login("ada")
    gets = {p for m, p, _r, _d in ROUTES if m == "GET"}
    state = _state(rig)
    for method, path, _role, _data in ROUTES:
        if method == "POST" and path not in gets:
            assert browser.get(_fill(rig, path, cid)).status_code == 405, path
    assert _state(rig) == state and browser.get("/").status_code == 200


def _check_headers(response):
    h = response.headers
    assert h["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'none'" in h["Content-Security-Policy"]
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Cache-Control"] == "no-store"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["Strict-Transport-Security"].startswith("max-age=")


def test_every_response_carries_the_security_headers(rig):
    cid = rig.file()
    browser = rig.client()
    responses = [browser.get("/login"), browser.get("/nowhere"), browser.get("/")]
    browser.login("ada")
    for method, path, _role, _data in ROUTES:
        if method == "GET":
            responses.append(browser.get(_fill(rig, path, cid)))
    responses.append(browser.get("/captures/no-such-capture"))
    for response in responses:
        _check_headers(response)
    html = [r for r in responses if r.mimetype == "text/html"]
    assert html and all("<script" not in r.get_data(as_text=True) for r in html)
    assert all("http://" not in r.get_data(as_text=True).replace("http://www.w3.org", "")
               for r in html)  # no external asset


def test_session_cookie_is_host_prefixed_secure_and_times_out(rig):
    browser = rig.client()
    response = browser.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-") and "Secure" in cookie and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Path=/" in cookie and "Domain" not in cookie
    browser.login("cleo")
    assert browser.get("/").status_code == 200
    rig.clock.advance(16 * 60)  # idle timeout: 15 minutes
    response = browser.get("/")
    assert response.status_code == 302 and "expired=idle" in response.headers["Location"]
    assert rig.events("web.logout")[-1] == {"by": "cleo", "reason": "idle_timeout"}


def test_there_is_no_default_account(rig):
    for name in ("admin", "root", "demo", "practice"):
        rig.client().login(name, "admin-password", expect=401)
    assert {a.name for a in rig.accounts.list()} == set(USER_OF.values())


def test_sign_in_is_throttled_before_the_password_is_checked(rig):
    browser = rig.client()
    for _ in range(5):
        browser.login("cleo", "wrong-password-x", expect=401)
    response = browser.login("cleo", "wrong-password-x", expect=429)
    assert int(response.headers["Retry-After"]) > 0
    # throttled: even the right password is not checked until the wait is over
    browser.login("cleo", expect=429)
    assert [e["event"] for e in rig.audit_events()].count("web.login_failed") == 5


def test_control_characters_in_next_are_refused_before_any_session(rig):
    from tests.websecurity.unsafe_next import assert_unsafe_next_refused

    assert_unsafe_next_refused(rig.app, rig.client())
