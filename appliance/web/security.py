"""What every response carries and what every POST must prove.

The UI shows the clinic's most sensitive images to a browser on a shared LAN, so it is locked
down like an admin console: no script at all (the CSP allows none, inline or not), no framing,
nothing cached by the browser or a proxy, HTTPS remembered (HSTS), and a per-session CSRF
token on every form. The cookie is ``__Host-`` prefixed (no Domain, Path=/, Secure), HttpOnly
and SameSite=Strict.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

COOKIE_NAME = "__Host-capture-session"
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Strict-Transport-Security": "max-age=31536000",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def apply_security_headers(headers) -> None:
    """Set the headers on a response (overwriting anything a view set)."""
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value


def csrf_ok(expected: str | None, submitted: str | None) -> bool:
    """Constant-time comparison; a missing token on either side is never ok."""
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def session_cookie(token: str) -> str:
    """The Set-Cookie value. No Max-Age: the browser forgets it when closed, and the server
    enforces idle and absolute timeouts whatever the browser keeps."""
    return f"{COOKIE_NAME}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"


def clear_cookie() -> str:
    return (f"{COOKIE_NAME}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0; "
            "Expires=Thu, 01 Jan 1970 00:00:00 GMT")


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a local path may be a post-login destination (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
