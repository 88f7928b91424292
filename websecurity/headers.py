"""The headers every response of a web UI carries, whatever the view set.

The UIs show a clinic's most sensitive images to a browser on a shared LAN, so they are locked
down like an admin console: no script at all (the CSP allows none, inline or not), no framing,
nothing cached by the browser or a proxy, HTTPS remembered (HSTS), no referrer, no powerful
browser features.
"""

from __future__ import annotations

from collections.abc import MutableMapping

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


def apply_security_headers(headers: MutableMapping[str, str]) -> None:
    """Set the headers on a response (overwriting anything a view set)."""
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
