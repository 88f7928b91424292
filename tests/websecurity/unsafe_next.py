"""One check both UIs' security tests run: a ``next`` with CR/LF (or any control character)
is refused with 400 before any session state exists, on the sign-in page and its POST."""

from __future__ import annotations

from websecurity.guard import EXTENSION

HOSTILE_NEXT = ["/%0d%0aX:1", "/%0aSet-Cookie:%20a=b", "/a%00b", "/%7f", "/%c2%85x",
                "/%e2%80%aeevil"]


def assert_unsafe_next_refused(app, browser) -> None:
    """``browser`` is a fresh :class:`tests.websecurity.browser.Browser` on ``app``."""
    sessions = app.extensions[EXTENSION].sessions
    for target in HOSTILE_NEXT:
        before = len(sessions._sessions)
        response = browser.get(f"/login?next={target}")
        assert response.status_code == 400, target
        assert "Set-Cookie" not in response.headers
        assert len(sessions._sessions) == before
    assert browser.cookie() is None
    # the POST, with a valid form and the right password: refused before signing in
    name = next(iter(browser.PASSWORDS))
    assert browser.get("/login").status_code == 200
    before = len(sessions._sessions)
    response = browser.post("/login", {"username": name, "password": browser.PASSWORDS[name],
                                       "next": "/\r\nX: 1"})
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers and "Location" not in response.headers
    assert len(sessions._sessions) == before
    # a plain next still works
    response = browser.post("/login", {"username": name, "password": browser.PASSWORDS[name],
                                       "next": "/account/password"})
    assert response.status_code == 302
