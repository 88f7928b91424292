"""Where a sign-in may send the browser next: a local path, never another site, never a
header of its own.

A ``next`` with a control character (``/%0d%0aSet-Cookie:...``) is refused outright, before
the sign-in page opens a session for it: a CR or LF would end the ``Location`` header and
start another one (the server answered 500 once the session was made).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit


def unsafe_next(target: str | None) -> bool:
    """True when ``target`` holds a control or other non-printing character (CR, LF, NUL, DEL,
    C1 controls, bidi and format characters): such a request is refused, not redirected."""
    return bool(target) and any(unicodedata.category(ch)[0] in "CZ" and ch != " "
                                for ch in target)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a local path may be a post-login destination (no open redirect, no header
    injection)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if unsafe_next(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
