"""The session cookie: only a random id, ``__Host-`` prefixed, HttpOnly, SameSite=Strict.

``__Host-`` makes the browser refuse it unless it is Secure, has Path=/ and no Domain, so no
other host on the LAN can set or read it. Everything the id stands for stays on the server.
"""

from __future__ import annotations

COOKIE_NAME = "__Host-capture-session"


def session_cookie(token: str) -> str:
    """The Set-Cookie value. No Max-Age: the browser forgets it when closed, and the server
    enforces idle and absolute timeouts whatever the browser keeps."""
    return f"{COOKIE_NAME}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"


def clear_cookie() -> str:
    """The Set-Cookie value that makes the browser drop the session cookie now."""
    return (f"{COOKIE_NAME}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0; "
            "Expires=Thu, 01 Jan 1970 00:00:00 GMT")
