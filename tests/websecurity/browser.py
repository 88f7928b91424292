"""A Flask test client that behaves like a browser towards both UIs: HTTPS base URL, the
page's CSRF token sent back with every form, sign-in by user name. Each UI's test rig
subclasses it with its own host and test passwords."""

from __future__ import annotations

import re
from typing import ClassVar

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """The client remembers the last CSRF token a page carried, like a form would."""

    BASE: ClassVar[str] = "https://ui.test"
    PASSWORDS: ClassVar[dict[str, str]] = {}

    def __init__(self, client) -> None:
        self.c = client
        self.token = ""

    def _remember(self, response):
        if response.mimetype == "text/html":
            match = CSRF_RE.search(response.get_data(as_text=True))
            if match:
                self.token = match.group(1)
        return response

    def get(self, path, **kw):
        return self._remember(self.c.get(path, base_url=self.BASE, **kw))

    def post(self, path, data=None, *, csrf=True, **kw):
        data = dict(data or {})
        if csrf and "csrf_token" not in data:
            data["csrf_token"] = self.token
        return self._remember(self.c.post(path, data=data, base_url=self.BASE, **kw))

    def login(self, name, password=None, expect=302):
        self.get("/login")
        response = self.post("/login", {"username": name,
                                        "password": password or self.PASSWORDS[name]})
        assert response.status_code == expect, response.get_data(as_text=True)[:500]
        if expect == 302:
            self.get("/")
        return response

    def cookie(self):
        return self.c.get_cookie("__Host-capture-session",
                                 domain=self.BASE.removeprefix("https://"))
