"""What every POST must prove: the per-session CSRF token of the form it came from.

The token lives in the server-side session (:mod:`websecurity.sessions`), including the
anonymous session a sign-in form opens, so the sign-in POST is protected too.
"""

from __future__ import annotations

import hmac

#: The form field that carries the token.
CSRF_FIELD = "csrf_token"


def csrf_ok(expected: str | None, submitted: str | None) -> bool:
    """Constant-time comparison; a missing token on either side is never ok."""
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())
